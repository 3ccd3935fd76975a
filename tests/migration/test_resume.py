"""Crash anywhere, rerun with the same checkpoint: the sink holds every message exactly once."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from unittest import mock

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backscroll
from backscroll import APIConnectionError
from backscroll._migration import pipeline
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import (
    CancellingProvider,
    Crash,
    FailingProvider,
    MemoryProvider,
    crash_on,
    expected,
    jsonl_messages,
    read_checkpoint,
    sqlite_messages,
)

pytestmark = pytest.mark.anyio


def open_sink(kind: str, directory: Path) -> JsonlSink | SqliteSink:
    if kind == "jsonl":
        return JsonlSink(directory / "out.jsonl")
    return SqliteSink(directory / "out.db")


def assert_exactly_once(kind: str, directory: Path, source: MemoryProvider) -> None:
    if kind == "jsonl":
        stored = jsonl_messages(directory / "out.jsonl")
    else:
        stored = sqlite_messages(directory / "out.db")
    keys = [(m.provider, m.conversation_id, m.id) for m in stored]
    assert len(keys) == len(set(keys)), "a message was written twice"
    assert dict(zip(keys, stored, strict=True)) == expected(source)


async def interrupted_run(
    kind: str, directory: Path, source: MemoryProvider, crash: tuple[str, int], concurrency: int
) -> None:
    """One run of migrate that dies the way *crash* says, after *n* of something."""
    how, n = crash
    checkpoint = directory / "checkpoint.json"
    sink = open_sink(kind, directory)
    try:
        if how == "cancel":
            with anyio.CancelScope() as scope:
                await backscroll.migrate(
                    CancellingProvider(source, scope, after=n),
                    sink,
                    checkpoint=checkpoint,
                    concurrency=concurrency,
                )
        elif how == "source":
            failing = FailingProvider(source, after=n, error=APIConnectionError("dropped"))
            await backscroll.migrate(failing, sink, checkpoint=checkpoint, concurrency=concurrency)
        else:
            crash_on(sink, write=n) if how == "write" else crash_on(sink, commit=n)
            with contextlib.suppress(Crash):  # a crash point past the end never fires
                await backscroll.migrate(
                    source, sink, checkpoint=checkpoint, concurrency=concurrency
                )
    finally:
        # A dead process commits nothing more: JSONL lines written since the last commit
        # stay in the file (the OS had them), SQLite rolls its open transaction back.
        await sink.aclose()


def died_mid_run(directory: Path) -> bool:
    """Whether the last run died without closing (rather than ending or being cancelled)."""
    checkpoint = read_checkpoint(directory / "checkpoint.json")
    return bool(checkpoint["run_open"])


# Crashes: a cancelled scope (Ctrl-C), a source that fails mid-conversation, a sink write
# that dies, a commit that lands in the sink but not in the checkpoint. Also torn JSONL
# lines after a crash, messages sharing a second, and messages without a time.
CRASHES = st.tuples(st.sampled_from(["cancel", "source", "write", "commit"]), st.integers(0, 60))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    burst=st.integers(1, 4),
    kind=st.sampled_from(["jsonl", "sqlite"]),
    crashes=st.lists(CRASHES, min_size=1, max_size=3),
    concurrency=st.integers(1, 3),
    torn=st.booleans(),
    untimed_every=st.sampled_from([0, 0, 3]),
    interval=st.sampled_from([0.0, 60.0]),
)
async def test_resume_after_crashes_is_exactly_once(
    *,
    sizes: list[int],
    burst: int,
    kind: str,
    crashes: list[tuple[str, int]],
    concurrency: int,
    torn: bool,
    untimed_every: int,
    interval: float,
) -> None:
    """Whatever the crash points, a final rerun leaves each message in the sink exactly once."""
    source = MemoryProvider.build(sizes, burst=burst, untimed_every=untimed_every)
    with (
        tempfile.TemporaryDirectory() as name,
        mock.patch.object(pipeline, "BATCH_SIZE", 3),
        mock.patch.object(pipeline, "COMMIT_EVERY", 5),
        mock.patch.object(pipeline, "COMMIT_INTERVAL", interval),  # 0: commit whenever idle
    ):
        directory = Path(name)
        for crash in crashes:
            await interrupted_run(kind, directory, source, crash, concurrency)
            if torn and kind == "jsonl" and died_mid_run(directory):
                with (directory / "out.jsonl").open("ab") as file:
                    file.write(b'{"id": "half a li')  # a write the crash tore in two
        async with open_sink(kind, directory) as sink:
            report = await backscroll.migrate(
                source, sink, checkpoint=directory / "checkpoint.json"
            )
        assert report.ok
        assert report.complete
        assert_exactly_once(kind, directory, source)
