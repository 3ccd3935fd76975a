"""A plugin vendor on the command line: a source, flags and hints, export and migrate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenchat_backscroll.fake import TokenChatFake

from .running import Served, assert_usage_error, invoke, jsonl_records, sqlite_keys, vendor_args

if TYPE_CHECKING:
    from pathlib import Path


def truth(served: Served) -> dict[str, int]:
    """Messages per conversation of the plugin's fake."""
    fake = served.sandbox.fakes["tokenchat"]
    assert isinstance(fake, TokenChatFake)
    return {cid: len(records) for cid, records in fake.store.conversations.items()}


def test_export_reads_a_plugin_vendor(served: Served, tmp_path: Path) -> None:
    """Backscroll export tokenchat writes every message of the named conversations once."""
    out = tmp_path / "tokenchat.jsonl"
    ids = [cid for cid, count in truth(served).items() if count]
    args = [*vendor_args(served, "tokenchat"), "--out", str(out)]
    args += [flag for cid in ids for flag in ("--id", cid)]
    result = invoke("export", *args, env=served.env)

    assert result.exit_code == 0, result.output
    records = jsonl_records(out)
    assert len(records) == sum(truth(served).values())
    assert len({(r["conversation_id"], r["id"]) for r in records}) == len(records)
    assert {r["provider"] for r in records} == {"tokenchat"}


def test_migrate_reads_a_plugin_vendor_and_reruns_add_nothing(
    served: Served, tmp_path: Path
) -> None:
    """Backscroll migrate tokenchat copies into SQLite; the same command again adds nothing."""
    database = tmp_path / "history.db"
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(truth(served)) + "\n", encoding="utf-8")
    args = [*vendor_args(served, "tokenchat"), "--ids-file", str(ids_file)]
    args += ["--to", f"sqlite:{database}"]

    first = invoke("migrate", *args, env=served.env)
    second = invoke("migrate", *args, env=served.env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    keys = sqlite_keys(database)
    assert len(keys) == len(set(keys)) == sum(truth(served).values())


def test_a_plugin_vendor_needs_ids(served: Served) -> None:
    """A plugin without conversations() asks for --id, read from its protocols."""
    result = invoke("export", *vendor_args(served, "tokenchat"), "--out", "x.jsonl", env=served.env)

    assert_usage_error(result, "tokenchat cannot list its conversations", "--id")


def test_a_plugin_credential_is_asked_for_by_flag_and_variable(served: Served) -> None:
    """Without a key, the hint names the plugin's variable and the shared --api-key flag."""
    args = [*vendor_args(served, "tokenchat"), "--id", "tc_1", "--out", "x.jsonl"]
    result = invoke("export", *args)

    assert_usage_error(result, "TOKENCHAT_API_KEY", "--api-key")


def test_a_plugin_vendor_is_in_vendors() -> None:
    """Backscroll vendors lists the plugin, with its distribution's name."""
    result = invoke("vendors")

    assert "tokenchat [tokenchat-backscroll]" in result.stdout
