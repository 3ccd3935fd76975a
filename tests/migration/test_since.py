"""A checkpoint records the since= it copied from: an earlier one backfills, or says why not."""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backscroll
from backscroll._hints import spelled_as
from backscroll._migration import pipeline
from backscroll._migration.checkpoint import Checkpoint
from backscroll.errors import CheckpointError
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import (
    EPOCH,
    CancellingProvider,
    Crash,
    MemoryProvider,
    crash_on,
    expected,
    jsonl_keys,
    jsonl_messages,
    message,
    read_checkpoint,
    sqlite_messages,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll import Message

pytestmark = pytest.mark.anyio

SOURCE = {"name": "memory"}
SINK = {"type": "SqliteSink"}


def at(second: int) -> datetime:
    """The fake clock's time *second* seconds after `EPOCH`."""
    return EPOCH + timedelta(seconds=second)


def stored(path: Path) -> dict[tuple[str, str, str], Message]:
    """The messages of an SQLite sink by key (one each: the sink upserts)."""
    return {(m.provider, m.conversation_id, m.id): m for m in sqlite_messages(path)}


def from_time(source: MemoryProvider, since: datetime) -> dict[tuple[str, str, str], Message]:
    """The source's messages created at or after *since*."""
    return {
        key: m
        for key, m in expected(source).items()
        if m.created_at is not None and m.created_at >= since
    }


async def test_a_rerun_without_since_backfills_the_older_messages(tmp_path: Path) -> None:
    """After a since= run, a run without it copies the older messages, each once."""
    source = MemoryProvider.build([10, 6])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        first = await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        again = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert first.messages_written == 5 + 1
    assert again.messages_written == 5 + 5
    assert again.messages_skipped == 6
    assert again.complete
    assert stored(tmp_path / "out.db") == expected(source)
    assert "since" not in read_checkpoint(checkpoint)


async def test_an_earlier_since_backfills_from_there_only(tmp_path: Path) -> None:
    """A second run with an earlier since= copies from it, and the checkpoint records it."""
    source = MemoryProvider.build([10])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(6))
        source.reads.clear()
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(3))
    assert source.reads == [("c0", at(3))]
    assert report.messages_written == 3
    assert stored(tmp_path / "out.db") == from_time(source, at(3))
    assert read_checkpoint(checkpoint)["since"] == at(3).isoformat()


async def test_after_a_backfill_the_sync_is_incremental_again(tmp_path: Path) -> None:
    """Once a backfill is complete, a rerun reads from the watermarks, copying only new messages."""
    source = MemoryProvider.build([8])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(4))
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        source.append("c0", 2)
        source.reads.clear()
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert source.reads == [("c0", at(7))]
    assert report.messages_written == 2
    assert stored(tmp_path / "out.db") == expected(source)


async def test_a_backfill_copies_untimed_messages_once(tmp_path: Path) -> None:
    """Messages without a time, left out by since=, are copied by the backfill, by id."""
    source = MemoryProvider.build([12, 7], untimed_every=3)
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert stored(tmp_path / "out.db") == expected(source)
    assert report.messages_written == 0


async def test_a_later_since_holds_new_conversations_from_there(tmp_path: Path) -> None:
    """A conversation first copied by a later since= run is backfilled by a run without it."""
    source = MemoryProvider.build([6])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        source.data["c9"] = [message("c9", n) for n in range(8)]
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        assert len(stored(tmp_path / "out.db")) == 6 + 3
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert stored(tmp_path / "out.db") == expected(source)


async def test_a_backfill_rereads_what_an_interrupted_later_pass_finished(
    tmp_path: Path,
) -> None:
    """A since= run dies after finishing c0; a run without since= still backfills c0."""
    source = MemoryProvider.build([6, 6])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(
            source, sink, checkpoint=checkpoint, since=at(4), conversation_ids=["c1"]
        )
        with anyio.CancelScope() as scope:  # pass 2: c0 finished from since=4, c1 not
            await backscroll.migrate(
                CancellingProvider(source, scope, after=2),
                sink,
                checkpoint=checkpoint,
                since=at(4),
                concurrency=1,
            )
        assert read_checkpoint(checkpoint)["conversations"]["c0"]["finished_pass"] == 2
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.complete
    assert stored(tmp_path / "out.db") == expected(source)


async def test_an_interrupted_backfill_resumes_without_rereading_finished_ones(
    tmp_path: Path,
) -> None:
    """A cancelled backfill, rerun, skips the conversations it finished and copies the rest."""
    source = MemoryProvider.build([10, 10, 10])
    checkpoint = tmp_path / "ckpt"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(8))
        with anyio.CancelScope() as scope:
            await backscroll.migrate(
                CancellingProvider(source, scope, after=15),
                sink,
                checkpoint=checkpoint,
                concurrency=1,
            )
        source.reads.clear()
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.conversations_skipped >= 1
    assert "c0" not in [cid for cid, _ in source.reads]
    assert stored(tmp_path / "out.db") == expected(source)
    assert "since" not in read_checkpoint(checkpoint)


async def test_into_jsonl_an_earlier_since_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """An append-only sink cannot backfill: the run says what the checkpoint holds, and how."""
    source = MemoryProvider.build([10])
    checkpoint, out = tmp_path / "ckpt", tmp_path / "out.jsonl"
    async with JsonlSink(out) as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
    before = (out.read_bytes(), checkpoint.read_bytes())
    async with JsonlSink(out) as sink:
        with pytest.raises(CheckpointError) as caught:
            await backscroll.migrate(source, sink, checkpoint=checkpoint)
    text = str(caught.value)
    assert f"holds messages from {at(5).isoformat()} on" in text
    assert "asks for messages from the start" in text
    assert "an append-only sink would get some messages twice" in text
    assert "SqliteSink" in text
    assert "checkpoint=" in text
    assert f"since={at(5).isoformat()} or later" in text
    assert (out.read_bytes(), checkpoint.read_bytes()) == before


async def test_the_refusal_names_a_midnight_as_a_date(tmp_path: Path) -> None:
    """A since= at midnight UTC is shown as the date a person typed."""
    source = MemoryProvider.build([3])
    checkpoint, out = tmp_path / "ckpt", tmp_path / "out.jsonl"
    async with JsonlSink(out) as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=datetime(2024, 3, 1))  # noqa: DTZ001 - naive means UTC
        with pytest.raises(CheckpointError, match="holds messages from 2024-03-01 on"):
            await backscroll.migrate(source, sink, checkpoint=checkpoint)


async def test_the_refusal_names_flags_at_the_command_line(tmp_path: Path) -> None:
    """Spelled for the command line, the hint names --since and --checkpoint, no keyword."""
    source = MemoryProvider.build([10])
    checkpoint = tmp_path / "ckpt"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        with (
            spelled_as({"since": "--since", "checkpoint": "--checkpoint"}),
            pytest.raises(CheckpointError) as caught,
        ):
            await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(2))
    text = str(caught.value)
    assert f"asks for messages from {at(2).isoformat()}" in text
    assert f"--since {at(5).isoformat()} or later" in text
    assert "--checkpoint NEW-FILE" in text
    assert "--to sqlite:FILE" in text
    assert "=" not in text.replace("since=", "")  # no keyword argument named


async def test_a_jsonl_run_with_the_same_or_a_later_since_goes_on(tmp_path: Path) -> None:
    """Into JSONL, the recorded since= or a later one syncs as before, nothing twice."""
    source = MemoryProvider.build([10])
    checkpoint, out = tmp_path / "ckpt", tmp_path / "out.jsonl"
    async with JsonlSink(out) as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        source.append("c0", 2)
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        source.append("c0", 2)
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(7))
    keys = jsonl_keys(out)
    assert len(keys) == len(set(keys))
    assert set(keys) == set(from_time(source, at(5)))


async def test_an_empty_checkpoint_takes_any_since(tmp_path: Path) -> None:
    """A checkpoint that holds no conversation yet refuses nothing: there is nothing to skip."""
    source = MemoryProvider.build([])
    checkpoint, out = tmp_path / "ckpt", tmp_path / "out.jsonl"
    async with JsonlSink(out) as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(5))
        source.data["c0"] = [message("c0", n) for n in range(6)]
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert set(jsonl_keys(out)) == set(expected(source))


class CountlessSink:
    """An upserting sink that does not count its messages (a user's own, say)."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}

    async def write(self, messages: Sequence[Message]) -> None:
        """Upsert by id."""
        self.messages.update((m.id, m) for m in messages)

    async def commit(self) -> None:
        """Nothing to make durable."""

    async def aclose(self) -> None:
        """Nothing to release."""


async def test_a_backfill_with_delete_after_needs_a_sink_that_counts(tmp_path: Path) -> None:
    """delete_after trusts the watermark's count without a counting sink: no backfill then."""
    source = MemoryProvider.build([6])
    checkpoint = tmp_path / "ckpt"
    sink = CountlessSink()
    await backscroll.migrate(source, sink, checkpoint=checkpoint, since=at(3))
    with pytest.raises(CheckpointError, match="with delete_after=True, a sink that does not"):
        await backscroll.migrate(source, sink, checkpoint=checkpoint, delete_after=True)
    assert source.deleted == []
    report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.messages_written == 3
    assert len(sink.messages) == 6


def test_a_checkpoint_without_since_holds_messages_from_the_start(tmp_path: Path) -> None:
    """A journal written before since= was recorded reads as holding everything."""
    path = tmp_path / "ckpt"
    header = {"format": "backscroll-checkpoint", "version": 3, "source": SOURCE, "sink": SINK}
    state = {"sink_position": None, "run_open": False, "pass": 1, "pass_complete": True}
    watermark = {"count": 1, "at": at(0).isoformat(), "ids": ["c0-m0"], "finished_pass": 1}
    lines = [header, {**state, "conversations": {"c0": watermark}}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    checkpoint = Checkpoint.open(path, source=SOURCE, sink=SINK)
    assert checkpoint.since is None
    checkpoint.start_from(None, unable="append-only")  # nothing older to refuse
    assert not checkpoint.backfilling


def test_since_and_a_backfill_under_way_survive_a_save(tmp_path: Path) -> None:
    """The recorded since and the backfill's pass and start are read back as saved."""
    path = tmp_path / "ckpt"
    checkpoint = Checkpoint.open(path, source=SOURCE, sink=SINK)
    checkpoint.start_from(at(5), unable=None)
    checkpoint.watermark("c0").advance(message("c0", 6))
    checkpoint.save()
    checkpoint.start_from(at(2), unable=None)
    checkpoint.save()
    again = Checkpoint.open(path, source=SOURCE, sink=SINK)
    assert (again.since, again.backfill_pass, again.backfill_since) == (at(5), 1, at(2))
    assert again.backfilling
    again.complete_pass()
    assert (again.since, again.backfill_pass) == (at(2), None)


@pytest.mark.parametrize("field", ["since", "backfill_since"])
def test_a_damaged_since_is_a_checkpoint_error(tmp_path: Path, field: str) -> None:
    """A since that is not an ISO 8601 time makes the checkpoint damaged, not ignored."""
    path = tmp_path / "ckpt"
    header = {"format": "backscroll-checkpoint", "version": 3, "source": SOURCE, "sink": SINK}
    state = {"sink_position": None, "run_open": False, "pass": 1, "pass_complete": False}
    lines = [header, {**state, field: "yesterday", "backfill_pass": 1, "conversations": {}}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(CheckpointError, match=f"{field} should be an ISO 8601 time"):
        Checkpoint.open(path, source=SOURCE, sink=SINK)


# Any runs, each with its own since= and its own crash point, then one without since=: the
# SQLite sink ends holding every message, once. Into JSONL, a run is refused or syncs, and
# the file never holds a message twice.
SINCES = st.sampled_from([None, 0, 2, 4, 7])
HOW = st.sampled_from(["cancel", "commit", "none"])
RUNS = st.lists(st.tuples(SINCES, HOW, st.integers(0, 12)))


async def interrupted(
    sink: SqliteSink | JsonlSink,
    source: MemoryProvider,
    checkpoint: Path,
    run: tuple[int | None, str, int],
) -> None:
    """One run of migrate with *since*, dying as *how* says after *n* steps."""
    second, how, n = run
    since = None if second is None else at(second)
    if how == "cancel":
        with anyio.CancelScope() as scope:
            await backscroll.migrate(
                CancellingProvider(source, scope, after=n),
                sink,
                checkpoint=checkpoint,
                since=since,
                concurrency=2,
            )
        return
    if how == "commit":
        crash_on(sink, commit=n)
    with contextlib.suppress(Crash):
        await backscroll.migrate(source, sink, checkpoint=checkpoint, since=since, concurrency=2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(0, 10), min_size=1, max_size=3),
    burst=st.integers(1, 3),
    runs=RUNS,
    untimed_every=st.sampled_from([0, 3]),
)
async def test_any_runs_then_one_without_since_hold_everything_once(
    *, sizes: list[int], burst: int, runs: list[tuple[int | None, str, int]], untimed_every: int
) -> None:
    """Whatever since= the interrupted runs passed, a final run without it copies everything."""
    source = MemoryProvider.build(sizes, burst=burst, untimed_every=untimed_every)
    with (
        tempfile.TemporaryDirectory() as name,
        mock.patch.object(pipeline, "BATCH_SIZE", 2),
        mock.patch.object(pipeline, "COMMIT_EVERY", 3),
    ):
        directory = Path(name)
        for run in runs:
            sink = SqliteSink(directory / "out.db")
            try:
                await interrupted(sink, source, directory / "ckpt", run)
            finally:
                await sink.aclose()
        async with SqliteSink(directory / "out.db") as sink:
            report = await backscroll.migrate(source, sink, checkpoint=directory / "ckpt")
        assert report.complete
        assert stored(directory / "out.db") == expected(source)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 10), min_size=1, max_size=3), runs=RUNS)
async def test_into_jsonl_no_run_writes_a_message_twice(
    *, sizes: list[int], runs: list[tuple[int | None, str, int]]
) -> None:
    """Into JSONL, runs with any since= are refused or copy once; the recorded since= is whole."""
    source = MemoryProvider.build(sizes)
    with (
        tempfile.TemporaryDirectory() as name,
        mock.patch.object(pipeline, "BATCH_SIZE", 2),
        mock.patch.object(pipeline, "COMMIT_EVERY", 3),
    ):
        directory = Path(name)
        checkpoint = directory / "ckpt"
        for run in runs:
            sink = JsonlSink(directory / "out.jsonl")
            try:
                with contextlib.suppress(CheckpointError):
                    await interrupted(sink, source, checkpoint, run)
            finally:
                await sink.aclose()
        recorded = read_checkpoint(checkpoint).get("since") if checkpoint.exists() else None
        since = None if recorded is None else datetime.fromisoformat(recorded)
        async with JsonlSink(directory / "out.jsonl") as sink:
            report = await backscroll.migrate(source, sink, checkpoint=checkpoint, since=since)
        assert report.complete
        written = jsonl_messages(directory / "out.jsonl")
        keys = [(m.provider, m.conversation_id, m.id) for m in written]
        assert len(keys) == len(set(keys)), "a message was written twice"
        want = expected(source) if since is None else from_time(source, since)
        assert set(want) <= set(keys)
