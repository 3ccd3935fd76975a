"""migrate(): copying, reporting, progress, concurrency, backpressure and failures."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import backscroll
from backscroll import ConfigurationError, Message, NotFoundError, ProgressEvent
from backscroll._migration import pipeline
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import (
    CancellingProvider,
    MemoryProvider,
    crash_on,
    expected,
    jsonl_keys,
    jsonl_messages,
    sqlite_messages,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

pytestmark = pytest.mark.anyio


def stored(kind: str, tmp_path: Path) -> list[Message]:
    if kind == "jsonl":
        return jsonl_messages(tmp_path / "out.jsonl")
    return sqlite_messages(tmp_path / "out.db")


def open_sink(kind: str, tmp_path: Path) -> JsonlSink | SqliteSink:
    if kind == "jsonl":
        return JsonlSink(tmp_path / "out.jsonl")
    return SqliteSink(tmp_path / "out.db")


class BrokenConversations(MemoryProvider):
    """A memory provider where some conversations answer 404."""

    def __init__(self, data: dict[str, list[Message]], broken: set[str]) -> None:
        super().__init__(data)
        self.broken = broken

    async def messages(self, conversation_id: str, **options: Any) -> Any:
        """Fail for a broken conversation after its first message."""
        count = 0
        async with contextlib.aclosing(super().messages(conversation_id, **options)) as inner:
            async for item in inner:
                if conversation_id in self.broken and count == 1:
                    msg = f"the conversation {conversation_id} does not exist"
                    raise NotFoundError(msg, status_code=404, provider="memory")
                count += 1
                yield item


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
async def test_copies_every_message_of_every_conversation(tmp_path: Path, kind: str) -> None:
    """Every message of every listed conversation lands in the sink, losslessly."""
    source = MemoryProvider.build([3, 0, 40, 7], burst=3)
    async with open_sink(kind, tmp_path) as sink:
        report = await backscroll.migrate(source, sink)
    messages = stored(kind, tmp_path)
    assert {(m.provider, m.conversation_id, m.id): m for m in messages} == expected(source)
    assert len(messages) == 50
    assert report.conversations_done == 4
    assert report.messages_read == report.messages_written == 50
    assert report.messages_skipped == 0
    assert report.ok
    assert report.complete
    assert report.duration >= 0


async def test_jsonl_keeps_each_conversation_oldest_first(tmp_path: Path) -> None:
    """Within a conversation, JSONL lines follow the source's order, oldest first."""
    source = MemoryProvider.build([30, 30, 30])
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(source, sink, concurrency=3)
    for conversation_id, messages in source.data.items():
        in_file = [
            key[2] for key in jsonl_keys(tmp_path / "out.jsonl") if key[1] == conversation_id
        ]
        assert in_file == [m.id for m in messages]


async def test_copies_only_the_conversation_ids_given(tmp_path: Path) -> None:
    """With conversation_ids, only those conversations are read; repeats are read once."""
    source = MemoryProvider.build([2, 3, 4])
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, conversation_ids=["c2", "c0", "c2"])
    assert {m.conversation_id for m in sqlite_messages(tmp_path / "out.db")} == {"c0", "c2"}
    assert report.conversations_done == 2
    assert sorted(read[0] for read in source.reads) == ["c0", "c2"]


async def test_an_id_the_source_lacks_is_an_empty_conversation(tmp_path: Path) -> None:
    """An id the source has no messages for is done, with nothing written."""
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(MemoryProvider(), sink, conversation_ids=["nope"])
    assert report.conversations_done == 1
    assert report.messages_written == 0


async def test_a_source_that_cannot_list_needs_conversation_ids(tmp_path: Path) -> None:
    """Without conversation_ids, a source that cannot list is a ConfigurationError."""

    class ReadOnly:
        def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
            return MemoryProvider().messages(conversation_id, **options)

    with pytest.raises(ConfigurationError, match="conversation_ids"):
        await backscroll.migrate(ReadOnly(), JsonlSink(tmp_path / "out.jsonl"))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"conversation_ids": "c0"}, "not one string"),
        ({"since": "2024-01-01"}, "since"),
        ({"delete_after": True}, "delete"),
    ],
)
async def test_bad_arguments_are_configuration_errors(
    tmp_path: Path, options: dict[str, Any], match: str
) -> None:
    """Unusable arguments raise ConfigurationError before anything is written."""

    class NoDelete(MemoryProvider):
        delete_conversations = None  # type: ignore[assignment]

    with pytest.raises(ConfigurationError, match=match):
        await backscroll.migrate(NoDelete(), JsonlSink(tmp_path / "out.jsonl"), **options)
    assert not (tmp_path / "out.jsonl").exists()


async def test_a_bad_id_in_conversation_ids_is_a_configuration_error(tmp_path: Path) -> None:
    """An empty or non-string id among conversation_ids raises ConfigurationError."""
    with pytest.raises(ConfigurationError, match="conversation_ids"):
        await backscroll.migrate(
            MemoryProvider(), SqliteSink(tmp_path / "out.db"), conversation_ids=["ok", ""]
        )


async def test_source_and_sink_must_be_what_they_say(tmp_path: Path) -> None:
    """A source without messages() or a sink without write/commit/aclose is refused."""
    with pytest.raises(ConfigurationError, match="source"):
        await backscroll.migrate(object(), JsonlSink(tmp_path / "x"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sink"):
        await backscroll.migrate(MemoryProvider(), object())  # type: ignore[arg-type]


async def test_progress_events_describe_each_conversation(tmp_path: Path) -> None:
    """Each conversation is listed, started, written (durably) and finished, in that order."""
    source = MemoryProvider.build([5, 0, 600])
    events: list[ProgressEvent] = []
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, on_progress=events.append)
    for conversation_id, messages in source.data.items():
        mine = [e for e in events if e.conversation_id == conversation_id]
        kinds = [e.kind for e in mine]
        assert kinds[:2] == ["listed", "started"]
        assert kinds[-1] == "finished"
        assert set(kinds[2:-1]) <= {"written"}
        assert sum(e.messages for e in mine if e.kind == "written") == len(messages)
        assert mine[-1].messages == len(messages)


async def test_a_progress_callback_that_raises_stops_the_migration(tmp_path: Path) -> None:
    """What on_progress raises comes out of migrate, as itself."""

    def explode(event: ProgressEvent) -> None:
        if event.kind == "written":
            raise KeyError(event.conversation_id)

    async with SqliteSink(tmp_path / "out.db") as sink:
        with pytest.raises(KeyError):
            await backscroll.migrate(MemoryProvider.build([3]), sink, on_progress=explode)


async def test_readers_never_exceed_the_concurrency(tmp_path: Path) -> None:
    """At most `concurrency` conversations are being read at any moment."""

    class Counting(MemoryProvider):
        active = 0
        most = 0

        async def messages(self, conversation_id: str, **options: Any) -> Any:
            """Count open iterations."""
            Counting.active += 1
            Counting.most = max(Counting.most, Counting.active)
            try:
                async with contextlib.aclosing(super().messages(conversation_id, **options)) as it:
                    async for item in it:
                        yield item
            finally:
                Counting.active -= 1

    source = Counting(MemoryProvider.build([20] * 12).data)
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, concurrency=3)
    assert report.messages_written == 240
    assert Counting.most == 3


async def test_a_slow_sink_holds_the_readers_back(tmp_path: Path) -> None:
    """While the sink is stuck, readers stop after a few batches: no unbounded buffering."""
    source = MemoryProvider.build([5000, 5000])
    yielded = 0
    real_messages = source.messages

    async def counted(conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        nonlocal yielded
        async with contextlib.aclosing(real_messages(conversation_id, **options)) as inner:
            async for item in inner:
                yielded += 1
                yield item

    source.messages = counted  # type: ignore[method-assign,assignment]
    release = anyio.Event()
    sink = SqliteSink(tmp_path / "out.db")
    real_write = sink.write

    async def stuck_write(messages: Sequence[Message]) -> None:
        await release.wait()
        await real_write(messages)

    sink.write = stuck_write  # type: ignore[method-assign]
    async with sink, anyio.create_task_group() as group:
        group.start_soon(lambda: backscroll.migrate(source, sink, concurrency=2))
        await anyio.wait_all_tasks_blocked()
        # One batch in the writer, `concurrency` in the stream, one in each reader's hands.
        assert yielded <= (1 + 2 + 2 * 2) * pipeline.BATCH_SIZE
        release.set()
    assert len(sqlite_messages(tmp_path / "out.db")) == 10_000


async def test_one_failing_conversation_does_not_stop_the_others(tmp_path: Path) -> None:
    """A conversation that fails is reported with its reason; the rest are copied."""
    data = MemoryProvider.build([4, 4, 4]).data
    source = BrokenConversations(data, broken={"c1"})
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, checkpoint=tmp_path / "ckpt.json")
    assert not report.ok
    assert not report.complete
    assert report.conversations_done == 2
    assert report.conversations_failed == 1
    (failure,) = report.failures
    assert failure.conversation_id == "c1"
    assert failure.error_type == "NotFoundError"
    assert "does not exist" in failure.reason
    # What was read before the failure is kept; a rerun finishes the conversation.
    assert len(sqlite_messages(tmp_path / "out.db")) == 9
    source.broken.clear()
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, checkpoint=tmp_path / "ckpt.json")
    assert report.ok
    assert report.conversations_skipped == 2
    assert report.messages_written == 3
    assert len(sqlite_messages(tmp_path / "out.db")) == 12


async def test_fail_fast_stops_at_the_first_failure(tmp_path: Path) -> None:
    """With fail_fast, no conversation starts after one fails; what was written stays."""
    data = MemoryProvider.build([4, 4, 4]).data
    source = BrokenConversations(data, broken={"c0"})
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, concurrency=1, fail_fast=True)
    assert [f.conversation_id for f in report.failures] == ["c0"]
    assert report.conversations_done == 0
    assert not report.complete
    assert [read[0] for read in source.reads] == ["c0"]


async def test_without_fail_fast_the_same_failure_copies_the_rest(tmp_path: Path) -> None:
    """Without fail_fast, the same failure leaves the other conversations copied."""
    data = MemoryProvider.build([4, 4, 4]).data
    source = BrokenConversations(data, broken={"c0"})
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, concurrency=1)
    assert report.conversations_done == 2
    assert len(report.failures) == 1


async def test_a_failure_that_is_not_a_backscroll_error_names_its_type(tmp_path: Path) -> None:
    """A custom provider's own exception is reported with its class name."""

    class Buggy(MemoryProvider):
        async def messages(self, conversation_id: str, **options: Any) -> Any:  # noqa: ARG002
            """Fail at once."""
            raise ZeroDivisionError("division by zero")
            yield  # type: ignore[unreachable]  # pragma: no cover - makes it a generator

    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(Buggy(), sink, conversation_ids=["x"])
    (failure,) = report.failures
    assert failure.reason == "ZeroDivisionError: division by zero"


async def test_a_listing_failure_is_raised(tmp_path: Path) -> None:
    """If the conversations cannot be listed, migrate raises that error."""

    class Unlistable(MemoryProvider):
        async def conversations(self, *, limit: int | None = None) -> Any:  # noqa: ARG002
            """Fail at once."""
            msg = "the key was refused"
            raise backscroll.AuthenticationError(msg, status_code=401, provider="memory")
            yield  # type: ignore[unreachable]  # pragma: no cover - makes it a generator

    async with SqliteSink(tmp_path / "out.db") as sink:
        with pytest.raises(backscroll.AuthenticationError, match="refused"):
            await backscroll.migrate(Unlistable(), sink)


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
async def test_a_rerun_with_the_checkpoint_changes_nothing(tmp_path: Path, kind: str) -> None:
    """A second run with the same checkpoint writes nothing and leaves the sink as it was."""
    source = MemoryProvider.build([5, 9], burst=2)
    checkpoint = tmp_path / "ckpt.json"
    async with open_sink(kind, tmp_path) as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    before = stored(kind, tmp_path)
    async with open_sink(kind, tmp_path) as sink:
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.messages_written == 0
    assert report.messages_skipped == report.messages_read
    assert stored(kind, tmp_path) == before


async def test_sqlite_reruns_without_a_checkpoint_do_not_duplicate(tmp_path: Path) -> None:
    """SQLite upserts: running twice without a checkpoint still stores each message once."""
    source = MemoryProvider.build([5, 9])
    for _ in range(2):
        async with SqliteSink(tmp_path / "out.db") as sink:
            await backscroll.migrate(source, sink)
    assert len(sqlite_messages(tmp_path / "out.db")) == 14


async def test_retries_are_the_sources_retries_during_the_run(tmp_path: Path) -> None:
    """The report's retries are what the source's `retries` counter gained during the run."""

    class Retrying(MemoryProvider):
        async def messages(self, conversation_id: str, **options: Any) -> Any:
            """Pretend each conversation needed two retries."""
            self.retries += 2
            async with contextlib.aclosing(super().messages(conversation_id, **options)) as inner:
                async for item in inner:
                    yield item

    source = Retrying(MemoryProvider.build([1, 1, 1]).data)
    source.retries = 5
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink)
    assert report.retries == 6


async def test_the_report_reads_as_json(tmp_path: Path) -> None:
    """MigrationReport.as_dict() is JSON-ready, failures included."""
    source = BrokenConversations(MemoryProvider.build([3, 3]).data, broken={"c0"})
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["conversations_failed"] == 1
    assert data["ok"] is False
    assert data["failures"][0]["conversation_id"] == "c0"
    assert data["messages_written"] == 4


async def test_a_failed_commit_on_cancellation_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If the last commit fails while cancelling, the cancellation goes on and it is logged."""
    source = MemoryProvider.build([50])
    sink = crash_on(SqliteSink(tmp_path / "out.db"), commit=0)
    with anyio.CancelScope() as scope:
        await backscroll.migrate(CancellingProvider(source, scope, after=10), sink)
    await sink.aclose()
    assert scope.cancelled_caught
    assert "its last commit failed" in caplog.text
