"""
`migrate`: copy history from a provider into a sink, resumably and exactly once.

The pipeline (`backscroll._migration.pipeline`) lists and reads the conversations; the
writer here owns the sink and the checkpoint::

    readers ──batches──▶ SinkWriter ──▶ sink.write / sink.commit, then checkpoint.save
                                    └─ after a commit: progress, deletes

Exactly once: messages of a conversation arrive oldest first and are committed in order,
so what is committed is a prefix of each conversation, which its watermark describes
(`backscroll._migration.checkpoint`). The checkpoint is saved only after the sink has
committed, so it never claims more than the sink holds. A crash between the two leaves the
sink ahead of the checkpoint: an upserting sink absorbs the re-copied messages, and a
rewindable one is cut back to the checkpoint's position before the rerun writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from backscroll._hints import spell
from backscroll._migration.checkpoint import Checkpoint
from backscroll._migration.lock import holding
from backscroll._migration.pipeline import (
    Batch,
    Done,
    Pipeline,
    Plan,
    close,
    describe,
    plural,
    source_name,
)
from backscroll._models import Conversation
from backscroll._protocols import DeletesConversations, Identifiable
from backscroll.errors import BackscrollError, CheckpointError, ConfigurationError, SinkError
from backscroll.sinks._file import FileSink
from backscroll.sinks._protocol import CountsMessages, RecordsConversations, RewindableSink, Sink

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable
    from datetime import datetime

    from backscroll._migration.checkpoint import Identity, Watermark
    from backscroll._migration.pipeline import Item
    from backscroll._migration.report import MigrationReport, ProgressEvent
    from backscroll._protocols import ChatHistoryProvider

__all__ = ["migrate"]


async def migrate(
    source: ChatHistoryProvider,
    sink: Sink,
    *,
    conversation_ids: Iterable[str] | None = None,
    shard: tuple[int, int] | None = None,
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
        shard: ``(index, count)``: copy only the conversations (listed or given) of
            shard *index* of *count*, by `backscroll.shard_of`; *count* workers with
            indexes ``0`` to ``count - 1`` cover the account exactly once between them.
            Give each its own checkpoint and sink.
        checkpoint: A JSON file that records progress; created if missing. Keep one per
            source and sink. ``None`` resumes nothing.
        concurrency: How many conversations are read at once.
        since: Copy only messages created at or after this time (naive means UTC). The
            checkpoint records it; a later run with an earlier one (or none) backfills
            the older messages of every conversation, into an upserting sink such as
            `backscroll.sinks.SqliteSink`, and is refused into a `JsonlSink`.
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
        CheckpointError: the checkpoint cannot be read or written, belongs to another
            migration, or holds messages from a later time than *since* asks for (an
            earlier run passed a later ``since``) while the sink cannot backfill them
            (it is append-only, a `backscroll.sinks.RewindableSink` such as `JsonlSink`).
        LockedError: another migration is running on the same checkpoint or sink file
            (raised at once, before anything is read or written).
        SinkError: the sink cannot store messages. Nothing after its last commit counts.
        BackscrollError: listing the conversations failed (nothing is lost: rerun).

    A conversation that fails to copy does not raise: it is listed in the report's
    ``failures`` and the others go on (unless *fail_fast*). With a checkpoint, so does
    one whose ``created_at`` goes backwards as it is read (``"OutOfTimeOrder"``): the
    checkpoint finds a conversation's place by time, and would skip the older message.

    .. versionadded:: 0.1.0
    """
    pipeline = Pipeline(
        source,
        conversation_ids=conversation_ids,
        shard=shard,
        concurrency=concurrency,
        since=since,
        fail_fast=fail_fast,
        on_progress=on_progress,
    )
    _check_sink(sink)
    if delete_after and not isinstance(source, DeletesConversations):
        msg = (
            f"delete_after needs a source that deletes conversations; {source_name(source)} "
            "does not"
        )
        raise ConfigurationError(msg)
    path = None if checkpoint is None else Path(checkpoint)
    locks = await anyio.to_thread.run_sync(lambda: _lock(sink, path))
    try:
        state = await anyio.to_thread.run_sync(
            lambda: Checkpoint.open(path, source=source_identity(source), sink=sink_identity(sink))
        )
        state.start_from(pipeline.since, unable=_backfill_refused(sink, delete_after=delete_after))
        writer = SinkWriter(pipeline, sink, state, delete_after=delete_after)
        await writer.prepare()
        await pipeline.run(writer)
        if pipeline.finished_all:
            state.complete_pass()
            await anyio.to_thread.run_sync(state.save)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(locks.close)
    return pipeline.report(complete=state.pass_complete)


def _backfill_refused(sink: Sink, *, delete_after: bool) -> str | None:
    """
    Why a backfill may not write a message the sink holds (``None``: it keeps one copy).

    An append-only sink would hold it twice. With ``delete_after``, a sink that does not
    count its messages is refused too: the checkpoint's count, which then decides a
    delete, would count a message copied twice twice.
    """
    if isinstance(sink, RewindableSink):
        return "an append-only sink would get some messages twice"
    if delete_after and not isinstance(sink, CountsMessages):
        return (
            f"with {spell('delete_after', 'True')}, a sink that does not count its messages "
            "would have some counted twice towards the delete"
        )
    return None


def _lock(sink: Sink, checkpoint: Path | None) -> contextlib.ExitStack:
    """
    Lock the checkpoint and the sink's file for the run (blocking); close the stack to unlock.

    Raises:
        LockedError: another run holds one of them (then neither is held).
    """
    files: list[tuple[Path, str, type[BackscrollError]]] = []
    if checkpoint is not None:
        files.append((checkpoint, "the checkpoint", CheckpointError))
    if isinstance(sink, FileSink):
        files.append((sink.path, f"the {sink.file_kind}", SinkError))
    stack = contextlib.ExitStack()
    with stack:
        stack.enter_context(holding(files))
        return stack.pop_all()


class SinkWriter:
    """
    The writer of `migrate`: into a sink, then the checkpoint, then deletes at the vendor.

    It keeps what is written but not yet committed between commits.
    """

    def __init__(
        self, pipeline: Pipeline, sink: Sink, checkpoint: Checkpoint, *, delete_after: bool
    ) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self.checkpoint = checkpoint
        self.delete_after = delete_after
        self.uncommitted = 0
        self.written: dict[str, int] = {}
        self.done: list[Done] = []

    @property
    def pending(self) -> int:
        """Messages and conversation records written, and conversations finished, uncommitted."""
        return self.uncommitted + len(self.done)

    async def prepare(self) -> None:
        """Put an append-only sink back at the checkpoint's position, then save it."""
        checkpoint = self.checkpoint
        sink = self.sink
        if isinstance(sink, RewindableSink):
            recorded = checkpoint.sink_position
            if recorded is not None and checkpoint.run_open:
                await sink.rewind(recorded)
            position = await sink.position()
            if recorded is not None and position < recorded:
                msg = (
                    f"the checkpoint {checkpoint.path} saw {recorded} committed in {sink!r}, "
                    f"which now holds {position}: it was replaced or truncated. Restore it, or "
                    "start over with a new checkpoint"
                )
                raise CheckpointError(msg)
            checkpoint.sink_position = position
        checkpoint.run_open = True
        # Saved before anything is written, so that a crash in the first batch is undone.
        await anyio.to_thread.run_sync(checkpoint.save)

    # -- reading: what to ask the source for ----------------------------------------------------

    def plan(self, conversation_id: str) -> Plan | None:
        """
        Read from where the sink's copy ends; skip what this pass has finished.

        With a checkpoint file, a conversation whose ``created_at`` goes backwards fails
        there: its watermark would skip the older message when the run resumes or syncs.
        Without one, nothing is resumed, so it is copied whole.
        """
        known = self.checkpoint.conversations.get(conversation_id)
        if self._done_already(conversation_id, known):
            return None
        mark = known.copy() if known is not None else None
        if mark is not None and self.checkpoint.backfilling:
            mark.floor = self.checkpoint.since
        return Plan(
            since=self._since_for(mark),
            held=mark,
            in_time_order=self.checkpoint.path is not None,
        )

    def _done_already(self, conversation_id: str, known: Watermark | None) -> bool:
        """Deleted at the vendor, or finished in this pass (and not waiting to be deleted)."""
        if known is None:
            return False
        if known.deleted:
            return True
        return self.checkpoint.finished_in_this_pass(conversation_id) and not self.delete_after

    def _since_for(self, mark: Watermark | None) -> datetime | None:
        """
        Where to start reading a conversation.

        From the watermark for a conversation finished in an earlier run (the incremental
        sync); from the start otherwise: an interrupted conversation may hold messages
        without timestamps past the watermark, which a time window would leave out. The
        watermark then skips what is committed. A backfill reads from the run's ``since``;
        ``delete_after`` reads everything, to count.
        """
        since = self.pipeline.since
        if self.delete_after:
            return None
        if self.checkpoint.backfilling:
            return since  # the older messages of every conversation
        if mark is None or mark.finished_pass is None or mark.untimed or mark.at is None:
            return since
        if since is None or mark.at > since:
            return mark.at
        return since

    # -- writing ----------------------------------------------------------------------------------

    async def take(self, item: Item) -> None:
        """Write a batch (or a conversation record) into the sink; note a finished one."""
        if isinstance(item, Conversation):
            if isinstance(self.sink, RecordsConversations):
                with anyio.CancelScope(shield=True):
                    await self.sink.write_conversations([item])
                self.uncommitted += 1
            return
        if isinstance(item, Done):
            self.done.append(item)
            return
        if not isinstance(item, Batch):
            return  # a failed conversation: what it sent is kept, it is not finished
        # A write is never cut short: after a cancellation the writer still commits.
        with anyio.CancelScope(shield=True):
            await self.sink.write(item.messages)
        watermark = self.checkpoint.watermark(item.conversation_id)
        for message in item.messages:
            watermark.advance(message)
        count = len(item.messages)
        self.uncommitted += count
        self.written[item.conversation_id] = self.written.get(item.conversation_id, 0) + count

    async def commit(self, *, last: bool = False, cancelled: bool = False) -> None:
        """Commit the sink, then save the checkpoint; then report, then delete."""
        if not (self.pending or last):
            return
        checkpoint = self.checkpoint
        # The sink's commit and the checkpoint's save go together, cancelled or not.
        with anyio.CancelScope(shield=True):
            await self.sink.commit()
            if isinstance(self.sink, RewindableSink):
                checkpoint.sink_position = await self.sink.position()
            for done in self.done:
                checkpoint.watermark(done.conversation_id).finished_pass = checkpoint.pass_number
            if last:
                checkpoint.run_open = False
            await anyio.to_thread.run_sync(checkpoint.save)
        written, finished = self.written, self.done
        pipeline = self.pipeline
        pipeline.tally.written += sum(written.values())
        self.uncommitted, self.written, self.done = 0, {}, []
        for conversation_id, count in written.items():
            pipeline.emit("written", conversation_id, count)
        for item in finished:
            pipeline.tally.done += 1
            pipeline.emit("finished", item.conversation_id, item.copied)
        # Deleting at the vendor waits for the next run after a cancellation.
        if self.delete_after and finished and not cancelled:
            await self._delete(finished)

    async def _delete(self, done: list[Done]) -> None:
        """
        Delete committed conversations at the vendor, each only if it is still what we hold.

        Each conversation is checked twice: the sink must hold as many messages as the
        copy read, and, just before its delete request, a fresh read must show nothing
        the sink lacks (it may have gained messages since it was copied). One that grew
        is kept and reported; the next run copies what is new, and deletes it then.
        """
        pipeline = self.pipeline
        checkpoint = self.checkpoint
        source = pipeline.source
        if not isinstance(source, DeletesConversations):  # pragma: no cover - checked
            raise TypeError
        for item in done:
            watermark = checkpoint.watermark(item.conversation_id)
            if watermark.deleted:
                continue
            held = await self._held(item, watermark)
            if held != item.total:
                reason = (
                    f"copied, but not deleted: the sink holds {held} of its messages and the "
                    f"vendor has {item.total}"
                )
                pipeline.fail(item.conversation_id, reason, "CountMismatch")
                continue
            try:
                grown = await self._unheld(item.conversation_id, watermark)
                if grown:
                    reason = (
                        f"copied, but not deleted: it gained {plural(grown, 'message')} at the "
                        "vendor after it was read. Rerun to copy them; it is deleted then"
                    )
                    pipeline.fail(item.conversation_id, reason, "ChangedSinceRead")
                    continue
                await source.delete_conversations([item.conversation_id])
            except Exception as exc:  # noqa: BLE001 - reported; the copy itself is done
                reason = f"copied, but deleting it failed: {describe(exc)}"
                pipeline.fail(item.conversation_id, reason, type(exc).__name__)
                continue
            watermark.deleted = True
            pipeline.tally.deleted.append(item.conversation_id)
            await anyio.to_thread.run_sync(checkpoint.save)
            pipeline.emit("deleted", item.conversation_id)

    async def _unheld(self, conversation_id: str, watermark: Watermark) -> int:
        """How many of the conversation's messages at the vendor now the sink lacks."""
        messages = self.pipeline.source.messages(conversation_id)
        try:
            return sum([not watermark.holds(message) async for message in messages])
        finally:
            await close(messages)

    async def _held(self, item: Done, watermark: Watermark) -> int:
        """How many of the conversation's messages the sink holds, by its count if it has one."""
        sink = self.sink
        if item.provider is not None and isinstance(sink, CountsMessages):
            return await sink.count_messages(item.provider, item.conversation_id)
        return watermark.count


def _check_sink(sink: object) -> None:
    if not isinstance(sink, Sink):
        msg = (
            "sink must have async write(), commit() and aclose() (see backscroll.sinks.Sink), "
            f"got {type(sink).__name__}"
        )
        raise ConfigurationError(msg)


def source_identity(source: object) -> Identity:
    """
    What tells this source from another, for the checkpoint (`Identifiable`).

    A source that does not say is named by its class. Never a credential.

    Raises:
        ConfigurationError: its identity is not a mapping of text to text.
    """
    if isinstance(source, Identifiable):
        return _checked_identity(source, source.identity())
    return {"name": type(source).__name__}


def sink_identity(sink: object) -> Identity:
    """
    What tells this sink from another, for the checkpoint: its type and file.

    Raises:
        ConfigurationError: its identity is not a mapping of text to text.
    """
    if isinstance(sink, Identifiable):
        return _checked_identity(sink, sink.identity())
    return {"type": type(sink).__name__}


def _checked_identity(part: object, identity: object) -> Identity:
    if not isinstance(identity, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in identity.items()
    ):
        msg = (
            f"{type(part).__name__}.identity() must return a mapping of str to str, "
            f"got {type(identity).__name__}"
        )
        raise ConfigurationError(msg)
    return dict(identity)
