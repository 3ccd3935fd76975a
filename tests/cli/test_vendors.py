"""``backscroll vendors``, ``backscroll conversations``, and hints in the command line's terms."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import backscroll
from backscroll._hints import spell, spelled_as
from backscroll.sandbox import CONVAI_CHARACTER_ID

from .running import Served, assert_usage_error, invoke, vendor_args

if TYPE_CHECKING:
    from pathlib import Path


def test_vendors_lists_every_registered_vendor() -> None:
    """Each registered vendor is a line with its flags and environment variables."""
    result = invoke("vendors")

    assert result.exit_code == 0, result.output
    for vendor in backscroll.vendors().values():
        assert f"{vendor.name}" in result.stdout
        for setting in vendor.all_settings:
            assert f"{setting.flag} or {setting.env_var}" in result.stdout


def test_vendors_json_reads_capabilities_from_the_protocols() -> None:
    """--json says what each provider class can do, as its protocols say."""
    result = invoke("vendors", "--json")

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["vendors"]}
    assert list(rows) == list(backscroll.vendors())
    for name, vendor in backscroll.vendors().items():
        lists = issubclass(vendor.provider, backscroll.ListsConversations)
        assert rows[name]["lists_conversations"] is lists
        deletes = issubclass(vendor.provider, backscroll.DeletesConversations)
        assert rows[name]["deletes_conversations"] is deletes
    assert rows["convai"]["distribution"] == "backscroll"


def test_conversations_lists_ids_one_per_line(served: Served) -> None:
    """A vendor that lists prints its conversation ids, one per line."""
    result = invoke("conversations", *vendor_args(served, "convai"), env=served.env)

    assert result.exit_code == 0, result.output
    fake = served.sandbox.fakes["convai"]
    assert result.stdout.splitlines() == fake.store.conversation_ids()


def test_conversations_json_holds_ids_and_times(served: Served) -> None:
    """--json prints the ids with their creation times, at most --limit of them."""
    args = [*vendor_args(served, "convai"), "--json", "--limit", "2"]
    result = invoke("conversations", *args, env=served.env)

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["vendor"] == "convai"
    ids = [item["id"] for item in body["conversations"]]
    assert ids == served.sandbox.fakes["convai"].store.conversation_ids()[:2]
    assert all(item["created_at"] for item in body["conversations"])


def test_conversations_of_a_vendor_that_cannot_list_is_a_usage_error() -> None:
    """A vendor without conversations() says so and points at --id, before any request."""
    result = invoke("conversations", "cursor")

    assert_usage_error(result, "cursor cannot list its conversations", "--id")


def test_a_missing_setting_names_its_flag_and_variable() -> None:
    """A setting neither flagged nor in the environment names both."""
    result = invoke("conversations", "convai", env={"CONVAI_API_KEY": "k"})

    assert_usage_error(result, "--character-id", "CONVAI_CHARACTER_ID")


def test_a_rejected_credential_hint_names_the_flag(served: Served, tmp_path: Path) -> None:
    """A 401 at the command line says --api-key and the variable, not api_key=."""
    out = tmp_path / "out.jsonl"
    args = [*vendor_args(served, "cursor"), "--id", "con_9s2kd81", "--out", str(out), "--json"]
    result = invoke("export", *args, env={"EXAMPLE_AI_API_KEY": "wrong"})

    assert result.exit_code == 3, result.output  # the vendor stopped the run
    assert "--api-key" in result.output
    assert "EXAMPLE_AI_API_KEY" in result.output
    assert "api_key=" not in result.output
    assert "wrong" not in result.output


def test_the_python_hint_keeps_the_keyword() -> None:
    """Outside the command line, hints name keyword arguments."""
    setting = backscroll.vendors()["talkifai"].credential

    assert setting.hint() == "pass token=... (or a token callable) or set TALKIFAI_TOKEN"


def test_spelled_as_names_flags_and_says_when_there_is_none() -> None:
    """Inside spelled_as a known keyword is its flag; an unknown one says it has none."""
    with spelled_as({"api_key": "--api-key"}):
        assert spell("api_key") == "--api-key"
        assert "no command-line flag" in spell("allow_insecure_http", "True")
    assert spell("api_key") == "api_key=..."


def test_convai_conversations_reads_the_character_flag(served: Served) -> None:
    """--character-id reaches the provider as its character_id."""
    env = {k: v for k, v in served.env.items() if k != "CONVAI_CHARACTER_ID"}
    args = [*vendor_args(served, "convai"), "--character-id", CONVAI_CHARACTER_ID]
    result = invoke("conversations", *args, env=env)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()
