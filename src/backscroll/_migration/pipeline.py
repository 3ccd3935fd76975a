"""
The pipeline behind `migrate` and `export_conversations`: list, read concurrently, write once.

The shape of a run::

    lister ──ids──▶ N readers ──batches──▶ one writer
                    (concurrency)

The lister feeds conversation ids through an unbuffered stream; each reader copies one
conversation at a time, oldest message first, and sends batches through a stream of a
few batches; one writer owns the target. Every stream is bounded, so a slow target slows
the readers down (backpressure) and memory stays a few batches however large the account.

What the writer is, is a strategy (`Writer`): `migrate` writes into a sink and a
checkpoint (`backscroll._migration.engine`); `export_conversations` writes a training
file (`backscroll._migration.records`). The pipeline owns what they share: listing,
reading, failures, progress events, cancellation, the commit rhythm and the report.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

import anyio
import anyio.lowlevel
import attrs

from backscroll._closing import aclose
from backscroll._migration.checkpoint import Watermark
from backscroll._migration.report import (
    ConversationFailure,
    EventKind,
    MigrationReport,
    ProgressEvent,
)
from backscroll._migration.shards import check_shard, shard_of
from backscroll._models import Conversation, Message
from backscroll._paging import Window
from backscroll._protocols import (
    ChatHistoryProvider,
    Identifiable,
    ListsConversations,
    ReportsRequests,
)
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import (
    AuthenticationError,
    BackscrollError,
    ConfigurationError,
    PermissionDeniedError,
)

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = [
    "Batch",
    "Done",
    "Failed",
    "Item",
    "Pipeline",
    "Plan",
    "Writer",
    "close",
    "describe",
    "plural",
    "source_name",
]

logger = logging.getLogger("backscroll")
#: Where a migration logs its conversations: started and finished at INFO, failed at WARNING.
migration_logger = logging.getLogger("backscroll.migration")

#: Messages per batch a reader hands to the writer.
BATCH_SIZE: Final = 256
#: Items waiting for a commit after which the writer commits even while more are waiting.
COMMIT_EVERY: Final = 4096
#: Seconds between commits while the readers are slower than the writer.
COMMIT_INTERVAL: Final = 1.0


@attrs.frozen
class Batch:
    """Messages of one conversation, oldest first, in reading order."""

    conversation_id: str
    messages: Sequence[Message]


@attrs.frozen
class Done:
    """A conversation is read to its end: all its batches were sent before this."""

    conversation_id: str
    provider: str | None  # of its messages; None when it has none
    total: int  # messages at the source (a full read, for ``delete_after``)
    copied: int  # messages sent to the writer by this run


@attrs.frozen
class Failed:
    """A conversation failed (it is in the report): no `Done` follows its batches."""

    conversation_id: str


#: What the writer receives: batches and ends of conversations, and the records of the
#: conversations a listing source found (for sinks that store them).
Item = Batch | Done | Failed | Conversation


@attrs.frozen
class Plan:
    """
    How a reader reads one conversation, as the writer asks.

    Attributes:
        since: Where to ask the source to start.
        held: What the target holds of the conversation already (not sent again).
        in_time_order: Fail the conversation where ``created_at`` goes backwards (and
            send nothing from there on): a checkpoint's watermark locates messages by
            time, so a resume or an incremental sync would skip the older message.
    """

    since: datetime | None
    held: Watermark | None = None
    in_time_order: bool = False


class Writer(Protocol):
    """The pipeline's last stage: says how to read each conversation, and stores it."""

    @property
    def pending(self) -> int:
        """How many things (messages, finished conversations) wait for a commit."""
        ...

    def plan(self, conversation_id: str) -> Plan | None:
        """How to read the conversation; ``None`` skips it (done by an earlier run)."""
        ...

    async def take(self, item: Item) -> None:
        """Store one item; durable only after `commit`."""
        ...

    async def commit(self, *, last: bool = False, cancelled: bool = False) -> None:
        """Make what was taken durable; *last* ends the run (*cancelled*: by a cancellation)."""
        ...


@attrs.define
class Tally:
    """What the run did so far; the writer adds what only it knows."""

    done: int = 0
    skipped_conversations: int = 0
    failures: list[ConversationFailure] = attrs.Factory(list)
    deleted: list[str] = attrs.Factory(list)
    read: int = 0
    written: int = 0
    skipped: int = 0


class Pipeline:
    """
    One run: its tasks share this state (on one event loop, no locks).

    Raises:
        ConfigurationError: an argument is unusable (raised here, before anything runs).
    """

    def __init__(
        self,
        source: ChatHistoryProvider,
        *,
        conversation_ids: Iterable[str] | None,
        shard: tuple[int, int] | None = None,
        concurrency: int,
        since: datetime | None,
        fail_fast: bool,
        on_progress: Callable[[ProgressEvent], None] | None,
    ) -> None:
        self.started = time.perf_counter()
        _check_source(source)
        if isinstance(conversation_ids, str):
            msg = "conversation_ids takes a list of ids, not one string"
            raise ConfigurationError(msg)
        if conversation_ids is None and not isinstance(source, ListsConversations):
            name = source_name(source)
            msg = f"{name} cannot list its conversations: pass conversation_ids=[...]"
            raise ConfigurationError(msg)
        self.source = source
        self.conversation_ids = conversation_ids
        self.shard = None if shard is None else check_shard(shard)
        self.concurrency = positive_int(concurrency, "concurrency")
        self.since = Window.of(since, None).since
        self.fail_fast = fail_fast
        self.on_progress = on_progress
        self.tally = Tally()
        self.retries_before = _retries(source)
        self.error: BaseException | None = None
        self.stopped = False  # by fail_fast, or by the credential
        #: The failure that ended the run: the source refused the credential.
        self.stopped_by: ConversationFailure | None = None
        self.healthy = True  # the writer may still commit
        self.last_commit = 0.0
        self.cancel_readers = anyio.CancelScope()
        self.cancel_all = anyio.CancelScope()

    @property
    def finished_all(self) -> bool:
        """Whether every conversation was copied: nothing failed, nothing was left out."""
        return not self.tally.failures and not self.stopped

    async def run(self, writer: Writer) -> None:
        """
        Copy every conversation through *writer*.

        Raises:
            BaseException: the first error that stopped the run (listing, the writer).
        """
        items_send, items_receive = anyio.create_memory_object_stream[Item](self.concurrency)
        with self.cancel_all:
            async with anyio.create_task_group() as group:
                group.start_soon(self._write, writer, items_receive)
                async with items_send:
                    with self.cancel_readers:
                        async with anyio.create_task_group() as readers:
                            self._start_readers(readers, writer, items_send)
        if self.error is not None:
            raise self.error

    def report(self, *, complete: bool) -> MigrationReport:
        """The report of the run so far."""
        tally = self.tally
        return MigrationReport(
            conversations_done=tally.done,
            conversations_skipped=tally.skipped_conversations,
            failures=tuple(tally.failures),
            deleted=tuple(tally.deleted),
            messages_read=tally.read,
            messages_written=tally.written,
            messages_skipped=tally.skipped,
            retries=max(0, _retries(self.source) - self.retries_before),
            duration=time.perf_counter() - self.started,
            complete=complete,
            stopped_by=self.stopped_by,
        )

    def emit(
        self, kind: EventKind, conversation_id: str, messages: int = 0, reason: str | None = None
    ) -> None:
        """Log the step, then tell ``on_progress``; what ``on_progress`` raises stops the run."""
        _log_event(kind, conversation_id, messages, reason)
        if self.on_progress is not None:
            event = ProgressEvent(
                kind=kind, conversation_id=conversation_id, messages=messages, reason=reason
            )
            self.on_progress(event)

    def fail(self, conversation_id: str, reason: str, error_type: str) -> None:
        """Report a conversation as failed; with ``fail_fast``, start no other."""
        self.tally.failures.append(
            ConversationFailure(
                conversation_id=conversation_id, reason=reason, error_type=error_type
            )
        )
        self.emit("failed", conversation_id, reason=reason)
        if self.fail_fast:
            self.stopped = True
            self.cancel_readers.cancel()

    def _refused(self, conversation_id: str, exc: BackscrollError) -> None:
        """
        The source refused the credential: end the run, reported once.

        Every other conversation would meet the same refusal, one request each, so no
        other is started. What was committed stays, and the checkpoint resumes the run
        once the credential is fixed. Readers that met the refusal at the same time add
        nothing to the report.
        """
        if self.stopped_by is not None:
            return
        failure = ConversationFailure(
            conversation_id=conversation_id, reason=describe(exc), error_type=type(exc).__name__
        )
        self.stopped_by = failure
        self.tally.failures.append(failure)
        logger.error(
            "migration stopped: %s refused the credential (%s); no other conversation is "
            "tried. Fix it and rerun with the same checkpoint",
            source_name(self.source),
            failure.error_type,
        )
        self.emit("failed", conversation_id, reason=failure.reason)
        self.stopped = True
        self.cancel_readers.cancel()

    def _start_readers(
        self, readers: TaskGroup, writer: Writer, items: MemoryObjectSendStream[Item]
    ) -> None:
        ids_send, ids_receive = anyio.create_memory_object_stream[str | Conversation]()
        readers.start_soon(self._list, ids_send)
        with ids_receive:
            for _ in range(self.concurrency):
                readers.start_soon(self._read, writer, ids_receive.clone(), items.clone())

    def _abort(self, error: BaseException) -> None:
        """Stop everything; `run` raises *error* (the first one) once the tasks are done."""
        if self.error is None:
            self.error = error
        self.cancel_all.cancel()

    # -- listing ----------------------------------------------------------------------------------

    async def _list(self, ids: MemoryObjectSendStream[str | Conversation]) -> None:
        seen: set[str] = set()
        try:
            async with ids, contextlib.aclosing(self._conversations()) as conversations:
                async for item in conversations:
                    conversation_id = item if isinstance(item, str) else item.id
                    if conversation_id in seen or not self._in_shard(conversation_id):
                        continue
                    seen.add(conversation_id)
                    self.emit("listed", conversation_id)
                    await ids.send(item)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self._abort(exc)

    def _in_shard(self, conversation_id: str) -> bool:
        if self.shard is None:
            return True
        index, count = self.shard
        return shard_of(conversation_id, count) == index

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
                await close(listing)

    # -- reading ----------------------------------------------------------------------------------

    async def _read(
        self,
        writer: Writer,
        ids: MemoryObjectReceiveStream[str | Conversation],
        items: MemoryObjectSendStream[Item],
    ) -> None:
        try:
            async with ids, items:
                async for item in ids:
                    if isinstance(item, Conversation):
                        await items.send(item)
                    conversation_id = item if isinstance(item, str) else item.id
                    plan = writer.plan(conversation_id)
                    if plan is None:
                        self.tally.skipped_conversations += 1
                        self.emit("skipped", conversation_id)
                    else:
                        await self._copy(conversation_id, plan, items)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self._abort(exc)

    async def _copy(
        self, conversation_id: str, plan: Plan, items: MemoryObjectSendStream[Item]
    ) -> None:
        """Read one conversation and send what the writer lacks, in batches, then `Done`."""
        self.emit("started", conversation_id)
        batch: list[Message] = []
        total = copied = 0
        provider: str | None = None
        failed = False
        order = _TimeOrder(watched=plan.in_time_order)
        messages: AsyncIterator[Message] | None = None
        try:
            messages = self.source.messages(conversation_id, since=plan.since)
            async for message in messages:
                if (breach := order.breach(message)) is not None:
                    failed = True
                    self.fail(conversation_id, breach, "OutOfTimeOrder")
                    break
                total += 1
                provider = provider or message.provider
                if self._wanted(message, plan.held):
                    batch.append(message)
                    if len(batch) >= BATCH_SIZE:
                        await items.send(Batch(conversation_id, batch))
                        copied += len(batch)
                        batch = []
        except Exception as exc:
            if isinstance(exc, anyio.BrokenResourceError):
                raise  # the writer is gone: not this conversation's fault
            failed = True
            if isinstance(exc, AuthenticationError | PermissionDeniedError):
                self._refused(conversation_id, exc)
            else:
                self.fail(conversation_id, describe(exc), type(exc).__name__)
        finally:
            if messages is not None:
                await close(messages)
        if batch:  # what was read before a failure is sent too (a writer may keep it)
            await items.send(Batch(conversation_id, batch))
            copied += len(batch)
        await items.send(
            Failed(conversation_id) if failed else Done(conversation_id, provider, total, copied)
        )

    def _wanted(self, message: Message, held: Watermark | None) -> bool:
        """Whether to send *message*: inside ``since``, and not held by the writer yet."""
        if self.since is not None and (
            message.created_at is None or message.created_at < self.since
        ):
            return False  # read only to count it, for delete_after
        self.tally.read += 1
        if held is not None and held.holds(message):
            self.tally.skipped += 1
            return False
        return True

    # -- writing ----------------------------------------------------------------------------------

    async def _write(self, writer: Writer, items: MemoryObjectReceiveStream[Item]) -> None:
        self.last_commit = anyio.current_time()
        try:
            async with items:
                while (item := await self._next(writer, items)) is not None:
                    await writer.take(item)
                    if writer.pending >= COMMIT_EVERY:
                        await self._commit(writer)
            # The stream also ends when a cancellation stops the readers: take that path.
            await anyio.lowlevel.checkpoint()
            await self._commit(writer, last=True)
        except anyio.get_cancelled_exc_class():
            if self.healthy:
                # Ctrl-C or a cancelled scope: keep what was written (shielded).
                with anyio.CancelScope(shield=True):
                    try:
                        await writer.commit(last=True, cancelled=True)
                    except Exception as exc:  # noqa: BLE001 - the cancellation goes on
                        # Nothing is lost (a checkpoint is older than its sink), but say so.
                        logger.warning("migration cancelled; its last commit failed: %s", exc)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the caller by run()
            self.healthy = False
            self._abort(exc)

    async def _next(self, writer: Writer, items: MemoryObjectReceiveStream[Item]) -> Item | None:
        """
        The next item, or ``None`` at the end; commits while the readers are slow.

        When nothing is waiting, what was taken is committed, but at most once per
        `COMMIT_INTERVAL`: with a slow vendor each page would otherwise cost an fsync and
        a save of the checkpoint.
        """
        while True:
            try:
                return items.receive_nowait()
            except anyio.WouldBlock:
                pass
            except anyio.EndOfStream:
                return None
            wait = math.inf
            if writer.pending:
                wait = self.last_commit + COMMIT_INTERVAL - anyio.current_time()
                if wait <= 0:
                    await self._commit(writer)
                    continue
            with anyio.move_on_after(wait):
                try:
                    return await items.receive()
                except anyio.EndOfStream:
                    return None

    async def _commit(self, writer: Writer, *, last: bool = False) -> None:
        await writer.commit(last=last)
        self.last_commit = anyio.current_time()


def _check_source(source: object) -> None:
    if not isinstance(source, ChatHistoryProvider):
        msg = f"source must be a provider (with messages()), got {type(source).__name__}"
        raise ConfigurationError(msg)


def source_name(source: object) -> str:
    """The source's name (``"convai"``) from its `Identifiable` identity, else its class name."""
    if isinstance(source, Identifiable):
        name = source.identity().get("name")
        if isinstance(name, str) and name:
            return name
    return type(source).__name__


def _retries(source: object) -> int:
    return source.retries if isinstance(source, ReportsRequests) else 0


def describe(exc: BaseException) -> str:
    """Why a conversation failed: a backscroll error's own message, else the type too."""
    if isinstance(exc, BackscrollError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _TimeOrder:
    """Watches ``created_at`` along one conversation's read, where the plan asks for it."""

    __slots__ = ("newest", "watched")

    def __init__(self, *, watched: bool) -> None:
        self.watched = watched
        self.newest: datetime | None = None  # of the messages read so far

    def breach(self, message: Message) -> str | None:
        """Why *message* breaks the time order (the failure's reason), else ``None``."""
        at = message.created_at
        if not self.watched or at is None:
            return None  # an untimed message is placed by its id, not by time
        newest = self.newest
        if newest is None or at >= newest:
            self.newest = at
            return None
        return (
            f"its messages go back in time: {message.id!r}, created {at.isoformat()}, comes "
            f"after a message created {newest.isoformat()}. A checkpoint finds a "
            "conversation's place by time, so resuming or syncing it could skip such a "
            "message: it is copied up to there and no further. To copy all of it, migrate it "
            "without a checkpoint into an SqliteSink (which stores each message once however "
            "often it is copied)"
        )


#: The log line of each step a migration logs; the other steps are too many to log.
_LOGGED: Final[dict[EventKind, str]] = {
    "started": "conversation %s: started",
    "finished": "conversation %s: finished, %d messages written",
    "deleted": "conversation %s: deleted at the vendor",
}


def _log_event(kind: EventKind, conversation_id: str, messages: int, reason: str | None) -> None:
    """
    Log a conversation's step on the ``backscroll.migration`` logger.

    Ids, counts and the failure's reason only: reasons are error messages, which are
    redacted where they are made, so no credential reaches a log line.
    """
    if kind == "failed":
        migration_logger.warning("conversation %s: failed: %s", conversation_id, reason)
    elif (line := _LOGGED.get(kind)) is not None and migration_logger.isEnabledFor(logging.INFO):
        if kind == "finished":
            migration_logger.info(line, conversation_id, messages)
        else:
            migration_logger.info(line, conversation_id)


def plural(count: int, noun: str) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


async def close(iterator: object) -> None:
    """Close a provider's iterator; failing to close it must not stop the run."""
    with contextlib.suppress(Exception):
        await aclose(iterator)
