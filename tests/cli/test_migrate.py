"""backscroll migrate: into SQLite or JSONL, sharded, incremental, with progress as lines."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import TYPE_CHECKING

import pytest

from backscroll import shard_of
from backscroll.cli._progress import plural
from backscroll.sandbox import CONVAI_CHARACTER_ID

from .running import (
    Served,
    assert_usage_error,
    convai_truth,
    invoke,
    jsonl_records,
    read_checkpoint,
    sqlite_keys,
    vendor_args,
)

if TYPE_CHECKING:
    from pathlib import Path

ANSI = re.compile(r"\x1b\[")


def test_convai_into_sqlite_copies_every_session(served: Served, tmp_path: Path) -> None:
    """Migrating Convai lists its sessions and stores every message once, sessions too."""
    truth = convai_truth(served.sandbox)
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", env=served.env
    )

    assert result.exit_code == 0, result.output
    keys = sqlite_keys(tmp_path / "h.db")
    assert len(keys) == len(set(keys)) == sum(truth.values())
    assert {conversation for _, conversation, _ in keys} == {s for s, n in truth.items() if n}
    with sqlite3.connect(tmp_path / "h.db") as connection:
        sessions = connection.execute("SELECT id FROM conversations").fetchall()
    assert {row[0] for row in sessions} == set(truth)
    assert (tmp_path / "h.db.convai.checkpoint.json").exists()


def test_character_and_key_can_be_flags(served: Served) -> None:
    """--character-id and --api-key replace the environment variables."""
    env = served.env
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", "--json",
        "--api-key", env["CONVAI_API_KEY"], "--character-id", CONVAI_CHARACTER_ID,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["messages_written"] == sum(
        convai_truth(served.sandbox).values()
    )


def test_an_export_migrates_onward(served: Served, tmp_path: Path) -> None:
    """jsonl:FILE is a source: an export goes into SQLite with every message."""
    invoke("migrate", *vendor_args(served, "convai"), "--to", "jsonl:e.jsonl", env=served.env)
    result = invoke("migrate", "jsonl:e.jsonl", "--to", "sqlite:h.db", "--json")

    assert result.exit_code == 0, result.output
    exported = {
        (r["provider"], r["conversation_id"], r["id"]) for r in jsonl_records(tmp_path / "e.jsonl")
    }
    assert set(sqlite_keys(tmp_path / "h.db")) == exported
    assert json.loads(result.stdout)["checkpoint"] == "h.db.jsonl-e.jsonl.checkpoint.json"


@pytest.mark.parametrize("count", [1, 3, 4])
def test_shards_split_a_listed_account_exactly(served: Served, tmp_path: Path, count: int) -> None:
    """--shard I/N for every I copies each session in exactly one shard, all between them."""
    seen: list[str] = []
    for index in range(count):
        result = invoke(
            "migrate", *vendor_args(served, "convai"), "--shard", f"{index}/{count}",
            "--to", f"jsonl:part-{index}.jsonl", "--json", env=served.env,
        )  # fmt: skip
        summary = json.loads(result.stdout)
        assert summary["shard"] == f"{index}/{count}"
        assert (
            summary["checkpoint"]
            == f"part-{index}.jsonl.convai.shard-{index}-of-{count}.checkpoint.json"
        )
        done = {r["conversation_id"] for r in jsonl_records(tmp_path / f"part-{index}.jsonl")}
        assert done <= {s for s, n in convai_truth(served.sandbox).items() if n}
        seen += [s for s in convai_truth(served.sandbox) if s in done]

    nonempty = {s for s, n in convai_truth(served.sandbox).items() if n}
    assert sorted(seen) == sorted(nonempty)  # the union is everything, no session twice


def test_a_shards_checkpoint_names_the_character(served: Served, tmp_path: Path) -> None:
    """A shard is checkpointed as its source: another character's run cannot reuse it."""
    args = ["migrate", *vendor_args(served, "convai"), "--shard", "0/2", "--to", "jsonl:p.jsonl"]
    assert invoke(*args, env=served.env).exit_code == 0
    checkpoint = tmp_path / "p.jsonl.convai.shard-0-of-2.checkpoint.json"
    source = read_checkpoint(checkpoint)["source"]
    assert source == {
        "name": "convai",
        "base_url": served.base_url("convai"),
        "character_id": CONVAI_CHARACTER_ID,
    }
    result = invoke(*args, "--character-id", "another-character", env=served.env)
    assert result.exit_code == 4, result.output  # a file (the checkpoint) it cannot use
    assert "'another-character' here" in result.stderr


def test_shards_split_a_list_of_ids_exactly(served: Served, tmp_path: Path) -> None:
    """With --ids-file, the shards of N workers partition the ids: disjoint, complete."""
    ids = sorted(served.sandbox.data.cursor)
    (tmp_path / "ids.txt").write_text("\n".join(ids), encoding="utf-8")
    copied: list[set[str]] = []
    for index in range(3):
        result = invoke(
            "migrate", *vendor_args(served, "cursor"), "--ids-file", "ids.txt",
            "--shard", f"{index}/3", "--to", f"sqlite:part-{index}.db", "--json", env=served.env,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        mine = {c for c in ids if shard_of(c, 3) == index}
        assert summary["conversations_done"] == len(mine)
        stored = {conversation for _, conversation, _ in sqlite_keys(tmp_path / f"part-{index}.db")}
        assert stored == {c for c in mine if served.sandbox.data.cursor[c]}
        copied.append(stored)

    for one in range(3):
        for other in range(one + 1, 3):
            assert not copied[one] & copied[other]
    assert set().union(*copied) == {c for c in ids if served.sandbox.data.cursor[c]}


def test_a_rerun_copies_only_what_is_new(served: Served, tmp_path: Path) -> None:
    """Run again later, the same command copies only the new messages (incremental sync)."""
    args = [
        "migrate",
        *vendor_args(served, "talkifai"),
        "--id",
        "chat_abc123",
        "--to",
        "sqlite:h.db",
        "--json",
    ]
    first = json.loads(invoke(*args, env=served.env).stdout)
    served.sandbox.data.extend_talkifai("chat_abc123", 4)
    second = json.loads(invoke(*args, env=served.env).stdout)

    assert second["messages_written"] == 4
    assert first["messages_written"] + 4 == len(served.sandbox.data.talkifai["chat_abc123"])
    keys = sqlite_keys(tmp_path / "h.db")
    assert len(keys) == len(set(keys)) == len(served.sandbox.data.talkifai["chat_abc123"])


def test_delete_after_deletes_copied_sessions(served: Served, tmp_path: Path) -> None:
    """--delete-after deletes each Convai session at the vendor once it is stored."""
    truth = convai_truth(served.sandbox)
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", "--delete-after",
        "--json", env=served.env,
    )  # fmt: skip

    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert sorted(summary["deleted"]) == sorted(truth)
    assert served.sandbox.data.convai_sessions[CONVAI_CHARACTER_ID] == []
    assert len(sqlite_keys(tmp_path / "h.db")) == sum(truth.values())


def test_a_refused_credential_is_never_echoed(served: Served) -> None:
    """A wrong key given as a flag fails the run without printing the key anywhere."""
    secret = "sk-live-do-not-print-me"
    listing = invoke(
        "migrate", *vendor_args(served, "convai"), "--api-key", secret,
        "--character-id", CONVAI_CHARACTER_ID, "--to", "sqlite:h.db",
    )  # fmt: skip
    reading = invoke(
        "migrate", *vendor_args(served, "cursor"), "--api-key", secret, "--id", "con_9s2kd81",
        "--to", "sqlite:h.db", "--json",
    )  # fmt: skip

    # Convai cannot even list: the vendor fails the run as a whole, in one line, status 3.
    assert listing.exit_code == 3
    assert listing.stderr.splitlines()[-1].startswith("backscroll: error: ")
    assert "401" in listing.stderr
    # The cursor API refuses the first conversation: the run stops there, status 3.
    assert reading.exit_code == 3
    assert json.loads(reading.stdout)["failures"][0]["error_type"] == "AuthenticationError"
    for result in (listing, reading):
        assert secret not in result.output
        assert "Traceback" not in result.output


def test_a_refused_credential_stops_the_run_and_says_so_once(served: Served) -> None:
    """A wrong --api-key over many ids: one request's failure, one "Stopped" line, status 3."""
    ids = sorted(served.sandbox.data.cursor)[:9]
    flags = [flag for conversation_id in ids for flag in ("--id", conversation_id)]
    before = len(served.sandbox.requests)
    text = invoke(
        "migrate", *vendor_args(served, "cursor"), "--api-key", "sk-wrong", *flags,
        "--to", "sqlite:h.db", "-q", "--concurrency", "1", "--max-retries", "0",
    )  # fmt: skip
    as_json = invoke(
        "migrate", *vendor_args(served, "cursor"), "--api-key", "sk-wrong", *flags,
        "--to", "sqlite:h.db", "-q", "--json", "--concurrency", "1", "--max-retries", "0",
    )  # fmt: skip

    assert text.exit_code == as_json.exit_code == 3
    assert len(served.sandbox.requests) - before == 2  # one per run, not nine
    stopped = [line for line in text.stdout.splitlines() if line.startswith("Stopped: ")]
    assert len(stopped) == 1
    assert "AuthenticationError" in stopped[0]
    assert "rerun the same command" in stopped[0]
    assert "failed:" not in text.stdout
    assert text.stdout.count("401") == 1
    summary = json.loads(as_json.stdout)
    assert summary["stopped_by"]["error_type"] == "AuthenticationError"
    assert len(summary["failures"]) == 1
    assert "sk-wrong" not in text.output + as_json.output


def test_progress_off_a_terminal_is_plain_lines(served: Served) -> None:
    """Without a terminal, progress is one plain line per conversation, no ANSI codes."""
    truth = convai_truth(served.sandbox)
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", env=served.env
    )

    lines = result.stderr.splitlines()
    assert lines[0] == "convai → h.db: started"
    assert len(lines) == 1 + len(truth)
    assert all(
        re.fullmatch(r"convai → h\.db: \[\d+/7\] \w+ done, [\d,]+ messages?", line)
        for line in lines[1:]
    )
    assert not ANSI.search(result.stdout + result.stderr)


def test_quiet_prints_only_the_summary(served: Served) -> None:
    """--quiet leaves stderr empty; the summary is still on stdout."""
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", "-q", env=served.env
    )

    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("convai → h.db: 7 conversations copied")


def test_progress_on_a_terminal_is_bars(served: Served) -> None:
    """On a terminal (as rich sees it), progress is bars for conversations and messages."""
    env = {**served.env, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "100"}
    result = invoke("migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", env=env)

    assert result.exit_code == 0, result.output
    assert "━" in result.stderr
    assert "7/7 conversations" in result.stderr
    assert "303 messages" in result.stderr
    assert "done," not in result.stderr  # no per-conversation lines


def test_delete_after_in_a_shard_deletes_only_that_shard(served: Served) -> None:
    """With --shard, --delete-after deletes the shard's sessions and leaves the others."""
    truth = convai_truth(served.sandbox)
    mine = {session for session in truth if shard_of(session, 2) == 0}
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--shard", "0/2", "--delete-after",
        "--to", "sqlite:h.db", env=served.env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"{plural(len(mine), 'conversation')} deleted at the vendor." in result.stdout
    left = {s["sessionID"] for s in served.sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]}
    assert left == set(truth) - mine


def test_a_long_list_of_failures_is_cut_in_the_text(served: Served) -> None:
    """The text summary lists the first 20 failures and says how many more --json has."""
    ids = [f"con_missing_{n:02}" for n in range(23)]
    flags = [flag for conversation_id in ids for flag in ("--id", conversation_id)]
    result = invoke(
        "migrate", *vendor_args(served, "cursor"), *flags, "--to", "sqlite:h.db", "-q",
        env=served.env,
    )  # fmt: skip

    assert result.exit_code == 1
    assert "23 conversations failed:" in result.stdout
    assert sum(": NotFoundError: " in line for line in result.stdout.splitlines()) == 20
    assert "  ... and 3 more (--json lists them all)" in result.stdout


def test_an_ids_file_that_is_not_text_is_a_usage_error(tmp_path: Path) -> None:
    """An ids file that is not UTF-8 is a one-line usage error."""
    (tmp_path / "ids.bin").write_bytes(b"\xff\xfe\x00")
    result = invoke(
        "migrate", "cursor", "--ids-file", "ids.bin", "--to", "sqlite:h.db",
        env={"EXAMPLE_AI_API_KEY": "k"},
    )  # fmt: skip

    assert_usage_error(result, "ids.bin", "not UTF-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["migrate", "jsonl:in.jsonl", "--to", "sqlite:h.db"],
            (
                "backscroll: interrupted. What was copied is committed: rerun the same command "
                "to resume (checkpoint h.db.jsonl-in.jsonl.checkpoint.json)."
            ),
        ),
        (
            ["export", "jsonl:in.jsonl", "--format", "openai", "--out", "t.jsonl"],
            (
                "backscroll: interrupted; t.jsonl was not written (openai files are written "
                "whole): rerun the same command."
            ),
        ),
        (["demo", "--out", "d"], "backscroll: demo interrupted."),
    ],
    ids=["migrate", "export-training", "demo"],
)
def test_ctrl_c_is_status_130_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], message: str
) -> None:
    """An interrupted run says what was kept and how to go on, with status 130."""
    (tmp_path / "in.jsonl").write_text("", encoding="utf-8")

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("anyio.run", interrupted)
    result = invoke(*args)

    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == message
    assert result.stdout == ""


def test_a_shard_count_of_zero_says_n_must_be_at_least_one() -> None:
    """--shard 1/0 names N, not I; --shard 4/4 names the range of I."""
    zero = invoke("migrate", "cursor", "--id", "c", "--to", "sqlite:h.db", "--shard", "1/0")
    out_of_range = invoke("migrate", "cursor", "--id", "c", "--to", "sqlite:h.db", "--shard", "4/4")
    assert_usage_error(zero, "--shard 1/0: N, the number of shards, must be at least 1")
    assert_usage_error(out_of_range, "--shard 4/4: I must be from 0 to 3")


def test_dropping_since_backfills_an_sqlite_target(served: Served, tmp_path: Path) -> None:
    """A --since run, then one without it: the SQLite target ends with every message once."""
    args = [
        "migrate",
        *vendor_args(served, "talkifai"),
        "--id",
        "chat_abc123",
        "--to",
        "sqlite:h.db",
        "--json",
    ]
    truth = len(served.sandbox.data.talkifai["chat_abc123"])
    first = json.loads(invoke(*args, "--since", "2024-01-15T12:00:00Z", env=served.env).stdout)
    second = json.loads(invoke(*args, env=served.env).stdout)

    assert 0 < first["messages_written"] < truth
    assert first["messages_written"] + second["messages_written"] == truth
    keys = sqlite_keys(tmp_path / "h.db")
    assert len(keys) == len(set(keys)) == truth


def test_dropping_since_into_jsonl_says_what_the_checkpoint_holds(
    served: Served, tmp_path: Path
) -> None:
    """Into JSONL, a rerun without --since is refused (status 4) with flags to backfill."""
    args = [
        "migrate",
        *vendor_args(served, "talkifai"),
        "--id",
        "chat_abc123",
        "--to",
        "jsonl:h.jsonl",
    ]
    assert invoke(*args, "--since", "2024-01-15T12:00:00Z", env=served.env).exit_code == 0
    before = (tmp_path / "h.jsonl").read_bytes()
    result = invoke(*args, env=served.env)

    assert result.exit_code == 4, result.output
    assert "holds messages from 2024-01-15T12:00:00+00:00 on" in result.stderr
    assert "--since 2024-01-15T12:00:00+00:00 or later" in result.stderr
    assert "--checkpoint NEW-FILE" in result.stderr
    assert "--to sqlite:FILE" in result.stderr
    assert "since=" not in result.stderr
    assert "checkpoint=" not in result.stderr
    assert (tmp_path / "h.jsonl").read_bytes() == before
    assert len(jsonl_records(tmp_path / "h.jsonl")) == len(
        [
            m
            for m in served.sandbox.data.talkifai["chat_abc123"]
            if m["timestamp"] >= "2024-01-15T12:00:00"
        ]
    )
