"""
`migrate`: copy history from a provider into a sink, resumably and exactly once.

The shape of a run::

    lister ──ids──▶ N readers ──batches──▶ one writer ──▶ sink.write / sink.commit
                    (concurrency)           │               then checkpoint.save
                                            └─ after a commit: progress, deletes

The lister feeds conversation ids through an unbuffered stream; each reader copies one
conversation at a time and sends batches through a stream of a few batches; one writer
owns the sink and the checkpoint. Every stream is bounded, so a slow sink slows the
readers down (backpressure) and memory stays a few batches however large the account.

Exactly once: messages of a conversation arrive oldest first and are committed in order,
so what is committed is a prefix of each conversation, which its watermark describes
(`backscroll._migration.checkpoint`). The checkpoint is saved only after the sink has
committed, so it never claims more than the sink holds. A crash between the two leaves the
sink ahead of the checkpoint: an upserting sink absorbs the re-copied messages, and a
rewindable one is cut back to the checkpoint's position before the rerun writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from backscroll._migration.checkpoint import Checkpoint, Watermark
from backscroll._migration.report import (
    ConversationFailure,
    EventKind,
    MigrationReport,
    ProgressEvent,
)
from backscroll._models import Conversation, Message
from backscroll._paging import Window
from backscroll._protocols import ChatHistoryProvider, DeletesConversations, ListsConversations
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import BackscrollError, CheckpointError, ConfigurationError
from backscroll.sinks._protocol import CountsMessages, RecordsConversations, RewindableSink, Sink

if TYPE_CHECKING:
    import os
    from datetime import datetime

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["migrate"]

logger = logging.getLogger("backscroll")

#: Messages per batch a reader hands to the writer (and the writer to ``sink.write``).
BATCH_SIZE: Final = 256
#: Written messages after which the writer commits even while more are waiting.
COMMIT_EVERY: Final = 4096
#: Seconds between commits while the readers are slower than the writer.
COMMIT_INTERVAL: Final = 1.0


@attrs.frozen
class _Batch:
    conversation_id: str
    messages: Sequence[Message]


@attrs.frozen
class _Done:
    """A conversation is read to its end: all its batches were sent before this."""

    conversation_id: str
    provider: str | None  # of its messages; None when it has none
    total: int  # messages at the source (a full read, for ``delete_after``)
    copied: int  # messages sent to the writer by this run


_Item = _Batch | _Done | Conversation


@attrs.define
class _Tally:
    done: int = 0
    skipped_conversations: int = 0
    failures: list[ConversationFailure] = attrs.Factory(list)
    deleted: list[str] = attrs.Factory(list)
    read: int = 0
    written: int = 0
    skipped: int = 0


async def migrate(
    source: ChatHistoryProvider,
    sink: Sink,
    *,
    conversation_ids: Iterable[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    concurrency: int = 8,
    since: datetime | None = None,
    fail_fast: bool = False,
    delete_after: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> MigrationReport:
    """
    Copy history from *source* into *sink*, resumably: every message exactly once.

    Conversations are copied concurrently, oldest message first. After each commit of
    the sink, the checkpoint file (if given) records how far every conversation got. Rerun
    with the same checkpoint after a crash, a kill or a cancellation, and the run resumes
    where the last commit left off, with nothing lost and nothing written twice. Rerun it
    after a complete run and only new messages are copied (an incremental sync).

    Args:
        source: Any `ChatHistoryProvider`: a vendor's provider, or a
            `backscroll.providers.JsonlProvider` reading an export.
        sink: Where to write: a `backscroll.sinks.JsonlSink`, a
            `backscroll.sinks.SqliteSink`, or your own `backscroll.sinks.Sink`. It stays
            open: close it yourself (``async with``).
        conversation_ids: The conversations to copy. ``None`` lists all of them, which
            needs a source that can (`ListsConversations`).
        checkpoint: A JSON file that records progress; created if missing. Keep one per
            source and sink. ``None`` resumes nothing.
        concurrency: How many conversations are read at once.
        since: Copy only messages created at or after this time (naive means UTC).
        fail_fast: Stop at the first failed conversation, instead of copying the rest.
            What was written is committed and checkpointed either way.
        delete_after: Delete each conversation at the vendor once its messages are
            committed in the sink and the sink holds as many as the vendor has; a
            conversation whose counts differ is kept and reported. The source must
            delete (`DeletesConversations`, i.e. Convai). Irreversible: never the default.
        on_progress: Called with a `ProgressEvent` at each step (on the event loop: keep
            it quick). What it raises stops the migration.

    Returns:
        What was done: conversations done, skipped and failed (with reasons), messages
        read, written and skipped as duplicates, retries and duration.

    Raises:
        ConfigurationError: an argument is unusable (raised before anything is copied).
        CheckpointError: the checkpoint cannot be read or written, or belongs to another
            migration.
        SinkError: the sink cannot store messages. Nothing after its last commit counts.
        BackscrollError: listing the conversations failed (nothing is lost: rerun).

    A conversation that fails to copy does not raise: it is listed in the report's
    ``failures`` and the others go on (unless *fail_fast*).

    .. versionadded:: 0.1.0
    """
    run = _Migration(
        source,
        sink,
        conversation_ids=conversation_ids,
        checkpoint=None if checkpoint is None else Path(checkpoint),
        concurrency=positive_int(concurrency, "concurrency"),
        since=Window.of(since, None).since,
        fail_fast=fail_fast,
        delete_after=delete_after,
        on_progress=on_progress,
    )
    return await run.run()


class _Migration:
    """One run of `migrate`: its tasks share this state (on one event loop, no locks)."""

    def __init__(
        self,
        source: ChatHistoryProvider,
        sink: Sink,
        *,
        conversation_ids: Iterable[str] | None,
        checkpoint: Path | None,
        concurrency: int,
        since: datetime | None,
        fail_fast: bool,
        delete_after: bool,
        on_progress: Callable[[ProgressEvent], None] | None,
    ) -> None:
        _check_parts(source, sink)
        if isinstance(conversation_ids, str):
            msg = "conversation_ids takes a list of ids, not one string"
            raise ConfigurationError(msg)
        if conversation_ids is None and not isinstance(source, ListsConversations):
            msg = f"{_name(source)} cannot list its conversations: pass conversation_ids=[...]"
            raise ConfigurationError(msg)
        if delete_after and not isinstance(source, DeletesConversations):
            msg = (
                f"delete_after needs a source that deletes conversations; {_name(source)} does not"
            )
            raise ConfigurationError(msg)
        self.source = source
        self.sink = sink
        self.conversation_ids = conversation_ids
        self.checkpoint_path = checkpoint
        self.concurrency = concurrency
        self.since = since
        self.fail_fast = fail_fast
        self.delete_after = delete_after
        self.on_progress = on_progress
        self.tally = _Tally()
        self.checkpoint = Checkpoint(path=None, source=_name(source), sink=type(sink).__name__)
        self.error: BaseException | None = None
        self.stopped = False  # by fail_fast
        self.healthy = True  # the writer may still commit
        self.cancel_readers = anyio.CancelScope()
        self.cancel_all = anyio.CancelScope()

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> MigrationReport:
        started = time.perf_counter()
        retries = _retries(self.source)
        path = self.checkpoint_path
        self.checkpoint = await anyio.to_thread.run_sync(
            lambda: Checkpoint.open(path, source=_name(self.source), sink=type(self.sink).__name__)
        )
        await self._prepare_sink()
        items_send, items_receive = anyio.create_memory_object_stream[_Item](self.concurrency)
        with self.cancel_all:
            async with anyio.create_task_group() as group:
                group.start_soon(self._write, items_receive)
                async with items_send:
                    with self.cancel_readers:
                        async with anyio.create_task_group() as readers:
                            self._start_readers(readers, items_send)
        if self.error is not None:
            raise self.error
        if not self.tally.failures and not self.stopped:
            self.checkpoint.pass_complete = True
            await anyio.to_thread.run_sync(self.checkpoint.save)
        return MigrationReport(
            conversations_done=self.tally.done,
            conversations_skipped=self.tally.skipped_conversations,
            failures=tuple(self.tally.failures),
            deleted=tuple(self.tally.deleted),
            messages_read=self.tally.read,
            messages_written=self.tally.written,
            messages_skipped=self.tally.skipped,
            retries=max(0, _retries(self.source) - retries),
            duration=time.perf_counter() - started,
            complete=self.checkpoint.pass_complete,
        )

    async def _prepare_sink(self) -> None:
        """Put an append-only sink back at the checkpoint's position, then save it."""
        checkpoint = self.checkpoint
        if isinstance(self.sink, RewindableSink):
            recorded = checkpoint.sink_position
            if recorded is not None and checkpoint.run_open:
                await self.sink.rewind(recorded)
            position = await self.sink.position()
            if recorded is not None and position < recorded:
                msg = (
                    f"the checkpoint {checkpoint.path} saw {recorded} committed in {self.sink!r}, "
                    f"which now holds {position}: it was replaced or truncated. Restore it, or "
                    "start over with a new checkpoint"
                )
                raise CheckpointError(msg)
            checkpoint.sink_position = position
        checkpoint.run_open = True
        # Saved before anything is written, so that a crash in the first batch is undone.
        await anyio.to_thread.run_sync(checkpoint.save)

    def _start_readers(self, readers: TaskGroup, items: MemoryObjectSendStream[_Item]) -> None:
        ids_send, ids_receive = anyio.create_memory_object_stream[str | Conversation]()
        readers.start_soon(self._list, ids_send)
        with ids_receive:
            for _ in range(self.concurrency):
                readers.start_soon(self._read, ids_receive.clone(), items.clone())

    def _abort(self, error: BaseException) -> None:
        """Stop everything; `run` raises *error* (the first one) once the tasks are done."""
        if self.error is None:
            self.error = error
        self.cancel_all.cancel()

    def emit(
        self, kind: EventKind, conversation_id: str, messages: int = 0, reason: str | None = None
    ) -> None:
        if self.on_progress is not None:
            event = ProgressEvent(
                kind=kind, conversation_id=conversation_id, messages=messages, reason=reason
            )
            self.on_progress(event)

    def fail(self, conversation_id: str, reason: str, error_type: str) -> None:
        self.tally.failures.append(
            ConversationFailure(
                conversation_id=conversation_id, reason=reason, error_type=error_type
            )
        )
        self.emit("failed", conversation_id, reason=reason)
        if self.fail_fast:
            self.stopped = True
            self.cancel_readers.cancel()

    # -- listing ----------------------------------------------------------------------------------

    async def _list(self, ids: MemoryObjectSendStream[str | Conversation]) -> None:
        seen: set[str] = set()
        try:
            async with ids, contextlib.aclosing(self._conversations()) as conversations:
                async for item in conversations:
                    conversation_id = item if isinstance(item, str) else item.id
                    if conversation_id in seen:
                        continue
                    seen.add(conversation_id)
                    self.emit("listed", conversation_id)
                    await ids.send(item)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self._abort(exc)

    async def _conversations(self) -> AsyncGenerator[str | Conversation, None]:
        if self.conversation_ids is not None:
            for conversation_id in self.conversation_ids:
                yield nonempty_str(conversation_id, "each of conversation_ids")
        else:
            if not isinstance(self.source, ListsConversations):  # pragma: no cover - checked
                raise TypeError
            listing = self.source.conversations()
            try:
                async for conversation in listing:
                    yield conversation
            finally:
                await _aclose(listing)

    # -- reading ----------------------------------------------------------------------------------

    async def _read(
        self,
        ids: MemoryObjectReceiveStream[str | Conversation],
        items: MemoryObjectSendStream[_Item],
    ) -> None:
        try:
            async with ids, items:
                async for item in ids:
                    if isinstance(item, Conversation):
                        await items.send(item)
                        await self._copy(item.id, items)
                    else:
                        await self._copy(item, items)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self._abort(exc)

    async def _copy(self, conversation_id: str, items: MemoryObjectSendStream[_Item]) -> None:
        """Read one conversation and send what the sink lacks, in batches, then `_Done`."""
        known = self.checkpoint.conversations.get(conversation_id)
        if self._done_already(conversation_id, known):
            self.tally.skipped_conversations += 1
            self.emit("skipped", conversation_id)
            return
        self.emit("started", conversation_id)
        mark = known.copy() if known is not None else Watermark()
        batch: list[Message] = []
        total = copied = 0
        provider: str | None = None
        failed = False
        messages: AsyncIterator[Message] | None = None
        try:
            messages = self.source.messages(conversation_id, since=self._since_for(mark))
            async for message in messages:
                total += 1
                provider = provider or message.provider
                if self._wanted(message, mark):
                    batch.append(message)
                    if len(batch) >= BATCH_SIZE:
                        await items.send(_Batch(conversation_id, batch))
                        copied += len(batch)
                        batch = []
        except Exception as exc:
            if isinstance(exc, anyio.BrokenResourceError):
                raise  # the writer is gone: not this conversation's fault
            failed = True
            self.fail(conversation_id, _describe(exc), type(exc).__name__)
        finally:
            if messages is not None:
                await _aclose(messages)
        if batch:  # what was read before a failure is kept too
            await items.send(_Batch(conversation_id, batch))
            copied += len(batch)
        if not failed:
            await items.send(_Done(conversation_id, provider, total, copied))

    def _wanted(self, message: Message, mark: Watermark) -> bool:
        """Whether to copy *message*: inside ``since``, and not in the sink yet."""
        if self.since is not None and (
            message.created_at is None or message.created_at < self.since
        ):
            return False  # read only to count it, for delete_after
        self.tally.read += 1
        if mark.holds(message):
            self.tally.skipped += 1
            return False
        return True

    def _done_already(self, conversation_id: str, known: Watermark | None) -> bool:
        """Deleted at the vendor, or finished in this pass (and not waiting to be deleted)."""
        if known is None:
            return False
        if known.deleted:
            return True
        return self.checkpoint.finished_in_this_pass(conversation_id) and not self.delete_after

    def _since_for(self, mark: Watermark) -> datetime | None:
        """
        Where to start reading a conversation.

        From the watermark for a conversation finished in an earlier run (the incremental
        sync); from the start otherwise: an interrupted conversation may hold messages
        without timestamps past the watermark, which a time window would leave out. The
        watermark then skips what is committed. ``delete_after`` reads everything, to count.
        """
        if self.delete_after:
            return None
        if mark.finished_pass is None or mark.untimed or mark.at is None:
            return self.since
        if self.since is None or mark.at > self.since:
            return mark.at
        return self.since

    # -- writing ----------------------------------------------------------------------------------

    async def _write(self, items: MemoryObjectReceiveStream[_Item]) -> None:
        writer = _Writer(self)
        try:
            async with items:
                while (item := await writer.next(items)) is not None:
                    await writer.take(item)
            # The stream also ends when a cancellation stops the readers: take that path.
            await anyio.lowlevel.checkpoint()
            await writer.commit(last=True)
        except anyio.get_cancelled_exc_class():
            if self.healthy:
                # Ctrl-C or a cancelled scope: keep what was written, leave a clean checkpoint
                # (deleting at the vendor waits for the next run).
                with anyio.CancelScope(shield=True):
                    try:
                        await writer.commit(last=True, delete=False)
                    except Exception as exc:  # noqa: BLE001 - the cancellation goes on
                        # Nothing is lost (the checkpoint is older than the sink), but say so.
                        logger.warning("migration cancelled; its last commit failed: %s", exc)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self.healthy = False
            self._abort(exc)


class _Writer:
    """The writer's state between commits: what is written but not yet committed."""

    def __init__(self, migration: _Migration) -> None:
        self.migration = migration
        self.pending = 0
        self.written: dict[str, int] = {}
        self.done: list[_Done] = []
        self.last_commit = anyio.current_time()

    async def next(self, items: MemoryObjectReceiveStream[_Item]) -> _Item | None:
        """
        The next item, or ``None`` at the end; commits while the readers are slow.

        When nothing is waiting, what was written is committed, but at most once per
        `COMMIT_INTERVAL`: with a slow vendor each page would otherwise cost an fsync and
        a rewrite of the whole checkpoint.
        """
        while True:
            try:
                return items.receive_nowait()
            except anyio.WouldBlock:
                pass
            except anyio.EndOfStream:
                return None
            wait = math.inf
            if self.pending or self.done:
                wait = self.last_commit + COMMIT_INTERVAL - anyio.current_time()
                if wait <= 0:
                    await self.commit()
                    continue
            with anyio.move_on_after(wait):
                try:
                    return await items.receive()
                except anyio.EndOfStream:
                    return None

    async def take(self, item: _Item) -> None:
        migration = self.migration
        if isinstance(item, Conversation):
            if isinstance(migration.sink, RecordsConversations):
                try:
                    with anyio.CancelScope(shield=True):
                        await migration.sink.write_conversations([item])
                except Exception:
                    migration.healthy = False
                    raise
                self.pending += 1
            return
        if isinstance(item, _Done):
            self.done.append(item)
            return
        try:
            # A write is never cut short: after a cancellation the writer still commits.
            with anyio.CancelScope(shield=True):
                await migration.sink.write(item.messages)
        except Exception:
            migration.healthy = False
            raise
        watermark = migration.checkpoint.watermark(item.conversation_id)
        for message in item.messages:
            watermark.advance(message)
        count = len(item.messages)
        self.pending += count
        self.written[item.conversation_id] = self.written.get(item.conversation_id, 0) + count
        if self.pending >= COMMIT_EVERY:
            await self.commit()

    async def commit(self, *, last: bool = False, delete: bool = True) -> None:
        """Commit the sink, then save the checkpoint; then report, then delete."""
        migration = self.migration
        if not (self.pending or self.done or last):
            return
        checkpoint = migration.checkpoint
        # The sink's commit and the checkpoint's save go together, cancelled or not.
        with anyio.CancelScope(shield=True):
            try:
                await migration.sink.commit()
                if isinstance(migration.sink, RewindableSink):
                    checkpoint.sink_position = await migration.sink.position()
            except Exception:
                migration.healthy = False
                raise
            for done in self.done:
                checkpoint.watermark(done.conversation_id).finished_pass = checkpoint.pass_number
            if last:
                checkpoint.run_open = False
            await anyio.to_thread.run_sync(checkpoint.save)
        self.last_commit = anyio.current_time()
        written, finished = self.written, self.done
        migration.tally.written += sum(written.values())
        self.pending, self.written, self.done = 0, {}, []
        for conversation_id, count in written.items():
            migration.emit("written", conversation_id, count)
        for item in finished:
            migration.tally.done += 1
            migration.emit("finished", item.conversation_id, item.copied)
        if migration.delete_after and finished and delete:
            await self.delete(finished)

    async def delete(self, done: list[_Done]) -> None:
        """Delete committed conversations at the vendor, where the counts match."""
        migration = self.migration
        checkpoint = migration.checkpoint
        source = migration.source
        if not isinstance(source, DeletesConversations):  # pragma: no cover - checked
            raise TypeError
        ready: list[str] = []
        for item in done:
            watermark = checkpoint.watermark(item.conversation_id)
            if watermark.deleted:
                continue
            held = await self.held(item, watermark)
            if held != item.total:
                reason = (
                    f"copied, but not deleted: the sink holds {held} of its messages and the "
                    f"vendor has {item.total}"
                )
                migration.fail(item.conversation_id, reason, "CountMismatch")
                continue
            ready.append(item.conversation_id)
        if not ready:
            return
        try:
            await source.delete_conversations(ready)
        except Exception as exc:  # noqa: BLE001 - reported; the copy itself is done
            for conversation_id in ready:
                reason = f"copied, but deleting it failed: {_describe(exc)}"
                migration.fail(conversation_id, reason, type(exc).__name__)
            return
        for conversation_id in ready:
            checkpoint.watermark(conversation_id).deleted = True
            migration.tally.deleted.append(conversation_id)
        await anyio.to_thread.run_sync(checkpoint.save)
        for conversation_id in ready:
            migration.emit("deleted", conversation_id)

    async def held(self, item: _Done, watermark: Watermark) -> int:
        """How many of the conversation's messages the sink holds, by its count if it has one."""
        sink = self.migration.sink
        if item.provider is not None and isinstance(sink, CountsMessages):
            return await sink.count_messages(item.provider, item.conversation_id)
        return watermark.count


def _check_parts(source: object, sink: object) -> None:
    if not isinstance(source, ChatHistoryProvider):
        msg = f"source must be a provider (with messages()), got {type(source).__name__}"
        raise ConfigurationError(msg)
    if not isinstance(sink, Sink):
        msg = (
            "sink must have async write(), commit() and aclose() (see backscroll.sinks.Sink), "
            f"got {type(sink).__name__}"
        )
        raise ConfigurationError(msg)


def _name(source: object) -> str:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else type(source).__name__


def _retries(source: object) -> int:
    retries = getattr(source, "retries", None)
    return retries if isinstance(retries, int) and not isinstance(retries, bool) else 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BackscrollError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
