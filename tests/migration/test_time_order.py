"""A conversation whose created_at goes backwards fails, rather than risk a skipped message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll.formats import export_conversations
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import MemoryProvider, jsonl_keys, message, read_checkpoint, sqlite_messages

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

#: The seconds of c0's messages in reading order: the fourth goes back in time.
BACKWARDS = [0, 1, 5, 3, 6]


def source() -> MemoryProvider:
    """c0 goes back in time at its fourth message; c1 is in order."""
    c0 = [message("c0", n, second=second) for n, second in enumerate(BACKWARDS)]
    return MemoryProvider({"c0": c0, "c1": [message("c1", n) for n in range(3)]})


async def migrate_jsonl(tmp_path: Path) -> backscroll.MigrationReport:
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        return await backscroll.migrate(source(), sink, checkpoint=tmp_path / "ckpt.json")


async def test_going_back_in_time_fails_the_conversation(tmp_path: Path) -> None:
    """The conversation fails at the older message, saying why; the others are copied."""
    report = await migrate_jsonl(tmp_path)
    [failure] = report.failures
    assert failure.conversation_id == "c0"
    assert failure.error_type == "OutOfTimeOrder"
    assert "'c0-m3', created 2024-09-25T19:00:03+00:00" in failure.reason
    assert "comes after a message created 2024-09-25T19:00:05+00:00" in failure.reason
    assert "without a checkpoint into an SqliteSink" in failure.reason
    assert not report.complete
    ids = [key[2] for key in jsonl_keys(tmp_path / "out.jsonl")]
    assert sorted(ids) == ["c0-m0", "c0-m1", "c0-m2", "c1-m0", "c1-m1", "c1-m2"]


async def test_a_rerun_fails_the_same_way_and_writes_nothing_twice(tmp_path: Path) -> None:
    """Rerun with the checkpoint: the same failure, the prefix kept once, nothing skipped."""
    await migrate_jsonl(tmp_path)
    report = await migrate_jsonl(tmp_path)
    assert [f.conversation_id for f in report.failures] == ["c0"]
    assert report.messages_written == 0
    checkpoint = read_checkpoint(tmp_path / "ckpt.json")
    assert "finished_pass" not in checkpoint["conversations"]["c0"]  # never taken as done
    ids = [key[2] for key in jsonl_keys(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids)) == 6


async def test_without_a_checkpoint_the_conversation_is_copied_whole(tmp_path: Path) -> None:
    """Nothing resumes without a checkpoint, so nothing can be skipped: all of it is copied."""
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source(), sink)
    assert report.ok
    assert len(sqlite_messages(tmp_path / "out.db")) == len(BACKWARDS) + 3


async def test_shared_and_missing_timestamps_are_in_order(tmp_path: Path) -> None:
    """Messages sharing a second, or without a timestamp, do not go back in time."""
    provider = MemoryProvider.build([40], burst=4, untimed_every=5)
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(provider, sink, checkpoint=tmp_path / "ckpt.json")
    assert report.ok
    assert report.messages_written == 40


async def test_a_training_export_keeps_such_a_conversation(tmp_path: Path) -> None:
    """export_conversations resumes nothing, so time order does not matter to it."""
    report = await export_conversations(source(), tmp_path / "t.jsonl", format="openai")
    assert report.ok
    assert report.messages_written == len(BACKWARDS) + 3
