"""backscroll export: a vendor or an export to JSONL, OpenAI or ShareGPT files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import CURSOR_API_KEY

from .running import Served, convai_truth, invoke, jsonl_records, vendor_args

if TYPE_CHECKING:
    from pathlib import Path

CURSOR_IDS = ["con_9s2kd81", "con_7lpll45"]


def _cursor_ids(served: Served) -> list[str]:
    return sorted(served.sandbox.data.cursor)


def test_export_writes_every_message_once(served: Served, tmp_path: Path) -> None:
    """Exporting cursor conversations writes each of their messages once, as to_dict lines."""
    ids = _cursor_ids(served)
    flags = [flag for conversation_id in ids for flag in ("--id", conversation_id)]
    result = invoke(
        "export", *vendor_args(served, "cursor"), *flags, "--out", "c.jsonl", env=served.env
    )

    assert result.exit_code == 0, result.output
    records = jsonl_records(tmp_path / "c.jsonl")
    truth = {r["id"] for cid in ids for r in served.sandbox.data.cursor[cid]}
    assert len(records) == len(truth)
    assert {r["id"] for r in records} == truth
    assert {r["provider"] for r in records} == {"cursor"}
    assert result.stdout.startswith(f"cursor → c.jsonl: {len(ids)} conversations copied, ")
    assert "Checkpoint: c.jsonl.cursor.checkpoint.json" in result.stdout
    assert (tmp_path / "c.jsonl.cursor.checkpoint.json").exists()


def test_json_summary_is_machine_readable(served: Served) -> None:
    """--json prints only a JSON summary on stdout, with the report's counts."""
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        *("--id", CURSOR_IDS[0], "--id", CURSOR_IDS[1], "--out", "c.jsonl", "--json"),
        env=served.env,
    )

    summary = json.loads(result.stdout)
    expected = sum(len(served.sandbox.data.cursor[cid]) for cid in CURSOR_IDS)
    assert summary["source"] == "cursor"
    assert summary["target"] == "jsonl:c.jsonl"
    assert summary["checkpoint"] == "c.jsonl.cursor.checkpoint.json"
    assert summary["shard"] is None
    assert summary["conversations_done"] == 2
    assert summary["messages_written"] == expected
    assert summary["ok"] is True
    assert summary["failures"] == []


def test_the_credential_can_be_a_flag(served: Served, tmp_path: Path) -> None:
    """--api-key works instead of the environment variable."""
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        *("--api-key", CURSOR_API_KEY, "--id", CURSOR_IDS[0], "--out", "c.jsonl"),
    )

    assert result.exit_code == 0, result.output
    assert len(jsonl_records(tmp_path / "c.jsonl")) == len(
        served.sandbox.data.cursor[CURSOR_IDS[0]]
    )


def test_ids_come_from_a_file_and_stdin(served: Served, tmp_path: Path) -> None:
    """--ids-file reads one id per line, skipping comments and blanks; - reads stdin."""
    (tmp_path / "ids.txt").write_text(f"# mine\n\n{CURSOR_IDS[0]}\n", encoding="utf-8")
    from_file = invoke(
        "export", *vendor_args(served, "cursor"), "--ids-file", "ids.txt", "--out", "a.jsonl",
        "--json", env=served.env,
    )  # fmt: skip
    from_stdin = invoke(
        "export", *vendor_args(served, "cursor"), "--ids-file", "-", "--id", CURSOR_IDS[0],
        "--out", "b.jsonl", "--json", env=served.env, stdin=f"{CURSOR_IDS[1]}\n{CURSOR_IDS[0]}\n",
    )  # fmt: skip

    assert json.loads(from_file.stdout)["conversations_done"] == 1
    assert {r["conversation_id"] for r in jsonl_records(tmp_path / "a.jsonl")} == {CURSOR_IDS[0]}
    assert json.loads(from_stdin.stdout)["conversations_done"] == 2  # the repeat counts once


def test_since_keeps_only_newer_messages(served: Served, tmp_path: Path) -> None:
    """--since drops messages created before it (a date without a zone is UTC)."""
    records = served.sandbox.data.cursor[CURSOR_IDS[0]]
    middle = records[len(records) // 2]["created_at"].removesuffix("Z")
    result = invoke(
        "export", *vendor_args(served, "cursor"), "--id", CURSOR_IDS[0], "--since", middle,
        "--out", "c.jsonl", env=served.env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    written = jsonl_records(tmp_path / "c.jsonl")
    since = datetime.fromisoformat(middle).replace(tzinfo=UTC)
    assert written
    assert all(datetime.fromisoformat(r["created_at"]) >= since for r in written)
    assert len(written) < len(records)


def test_a_rerun_adds_nothing_twice(served: Served, tmp_path: Path) -> None:
    """Exporting again into the same file with its checkpoint writes no message twice."""
    args = ["export", *vendor_args(served, "cursor"), "--id", CURSOR_IDS[0], "--out", "c.jsonl"]
    invoke(*args, env=served.env)
    served.sandbox.data.extend_cursor(CURSOR_IDS[0], 3)
    again = invoke(*args, "--json", env=served.env)

    summary = json.loads(again.stdout)
    records = jsonl_records(tmp_path / "c.jsonl")
    assert summary["messages_written"] == 3
    assert len(records) == len(served.sandbox.data.cursor[CURSOR_IDS[0]])
    assert len({r["id"] for r in records}) == len(records)


@pytest.mark.parametrize(
    ("output_format", "key", "speakers"),
    [("openai", "messages", {"role"}), ("sharegpt", "conversations", {"from", "value"})],
)
def test_training_formats_write_one_line_per_conversation(
    served: Served, tmp_path: Path, output_format: str, key: str, speakers: set[str]
) -> None:
    """--format openai/sharegpt writes one record per conversation with its messages."""
    truth = convai_truth(served.sandbox)
    result = invoke(
        "export", *vendor_args(served, "convai"), "--format", output_format, "--out", "t.jsonl",
        "--json", env=served.env,
    )  # fmt: skip

    summary = json.loads(result.stdout)
    records = jsonl_records(tmp_path / "t.jsonl")
    assert summary["checkpoint"] is None
    assert summary["conversations_done"] == len(truth)
    assert len(records) == sum(1 for count in truth.values() if count)
    assert all(set(record) == {key} for record in records)
    assert all(speakers <= set(turn) for record in records for turn in record[key])
    assert summary["messages_written"] == sum(len(record[key]) for record in records)


def test_an_export_converts_to_a_training_format(served: Served, tmp_path: Path) -> None:
    """A JSONL export is a source too: jsonl:FILE --format openai converts it offline."""
    invoke("export", *vendor_args(served, "cursor"), "--id", CURSOR_IDS[0], "--out", "c.jsonl",
           env=served.env)  # fmt: skip
    result = invoke("export", "jsonl:c.jsonl", "--format", "openai", "--out", "train.jsonl")

    assert result.exit_code == 0, result.output
    (record,) = jsonl_records(tmp_path / "train.jsonl")
    assert len(record["messages"]) == len(served.sandbox.data.cursor[CURSOR_IDS[0]])


def test_a_failed_conversation_is_status_1_and_listed(served: Served) -> None:
    """A conversation the vendor does not have fails alone: status 1, the others copied."""
    result = invoke(
        "export", *vendor_args(served, "cursor"), "--id", CURSOR_IDS[0], "--id", "con_missing",
        "--out", "c.jsonl", "--json", env=served.env,
    )  # fmt: skip

    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["ok"] is False
    assert summary["conversations_done"] == 1
    (failure,) = summary["failures"]
    assert failure["conversation_id"] == "con_missing"
    assert failure["error_type"] == "NotFoundError"


def test_a_failed_conversation_in_the_text_summary(served: Served) -> None:
    """Without --json, the summary lists the failed conversation and how to retry it."""
    result = invoke(
        "export", *vendor_args(served, "cursor"), "--id", "con_missing", "--out", "c.jsonl",
        env=served.env,
    )  # fmt: skip

    assert result.exit_code == 1
    assert "1 conversation failed:" in result.stdout
    assert "  con_missing: NotFoundError: " in result.stdout
    assert "no new file was left behind: fix what failed, then rerun" in result.stdout


def test_a_checkpoint_under_home_is_expanded(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--checkpoint ~/FILE lands in the home directory, as it does for migrate."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        *("--id", CURSOR_IDS[0], "--out", "c.jsonl", "--checkpoint", "~/c.json"),
        env=served.env,
    )

    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "c.json").exists()
