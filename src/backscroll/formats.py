"""
Training and interchange formats: one JSON line per conversation.

- ``"openai"``: the OpenAI fine-tuning and TRL conversational format,
  ``{"messages": [{"role": "user", "content": "..."}, ...]}``;
- ``"sharegpt"``: ``{"conversations": [{"from": "human", "value": "..."}, ...]}``, with
  ``human``, ``gpt`` and ``system``, as LLaMA-Factory and FastChat read it.

Both keep only speaker and text: for a lossless copy, export with
`backscroll.sinks.JsonlSink` (and convert that export later: `export_conversations`
takes a `backscroll.providers.JsonlProvider` as its source). Tool output and unknown
speakers (`Role.TOOL`, `Role.UNKNOWN`) have no faithful place in either format and are
left out.

.. code-block:: python

    report = await export_conversations(provider, "train.jsonl", format="sharegpt")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, TypeVar

import anyio
import anyio.to_thread

from backscroll._migration.checkpoint import fsync_directory
from backscroll._migration.report import ConversationFailure, MigrationReport, ProgressEvent
from backscroll._models import Message, Role
from backscroll._paging import Window
from backscroll._protocols import ChatHistoryProvider, ListsConversations
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import BackscrollError, ConfigurationError, SinkError
from backscroll.integrations._mapping import select
from backscroll.sinks._jsonl import json_line

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
    from datetime import datetime

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["Format", "export_conversations", "openai_record", "sharegpt_record"]

Format = Literal["openai", "sharegpt"]
T = TypeVar("T")

_SHAREGPT_SPEAKERS: Final[Mapping[Role, str]] = {
    Role.SYSTEM: "system",
    Role.USER: "human",
    Role.ASSISTANT: "gpt",
}


def openai_record(messages: Iterable[Message]) -> dict[str, Any]:
    """
    One conversation in the OpenAI/TRL chat format: ``{"messages": [{"role", "content"}]}``.

    Roles are ``system``, ``user`` and ``assistant``, mapped as
    `backscroll.integrations.openai.to_openai_messages` maps them; tool and unknown
    speakers are left out (a training ``tool`` message needs a ``tool_call_id``).

    Args:
        messages: The conversation's messages, oldest first.

    .. versionadded:: 0.1.0
    """
    selected = select(messages, unmapped="skip", drop_empty=False, target="openai_record")
    return {"messages": [{"role": role.value, "content": m.content} for m, role in selected]}


def sharegpt_record(messages: Iterable[Message]) -> dict[str, Any]:
    """
    One conversation in the ShareGPT format: ``{"conversations": [{"from", "value"}]}``.

    Speakers are ``system``, ``human`` and ``gpt``; tool and unknown speakers are left out.

    Args:
        messages: The conversation's messages, oldest first.

    .. versionadded:: 0.1.0
    """
    selected = select(messages, unmapped="skip", drop_empty=False, target="sharegpt_record")
    return {
        "conversations": [
            {"from": _SHAREGPT_SPEAKERS[role], "value": m.content} for m, role in selected
        ]
    }


_RECORDS: Final[Mapping[str, Callable[[Iterable[Message]], dict[str, Any]]]] = {
    "openai": openai_record,
    "sharegpt": sharegpt_record,
}


async def export_conversations(
    source: ChatHistoryProvider,
    path: str | os.PathLike[str],
    *,
    format: Format,  # noqa: A002 - the word users know; the builtin is not needed here
    conversation_ids: Iterable[str] | None = None,
    since: datetime | None = None,
    concurrency: int = 8,
    fail_fast: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> MigrationReport:
    """
    Write conversations to a training file, one JSON line per conversation.

    Each conversation is read whole (oldest first), turned into one record and written;
    conversations with no message left are skipped. The file is written under a
    temporary name and moved into place at the end, so *path* is either the old file or
    the complete new one. Lines come in the order conversations finish (pass
    ``concurrency=1`` for the source's order). Unlike `backscroll.migrate` this does not
    resume: for very large accounts, migrate into a `backscroll.sinks.JsonlSink` first
    and export from that file with a `backscroll.providers.JsonlProvider`.

    Args:
        source: Any provider, a `backscroll.providers.JsonlProvider` included.
        path: The file to write (replaced if it exists).
        format: ``"openai"`` or ``"sharegpt"``.
        conversation_ids: The conversations; ``None`` lists all (`ListsConversations`).
        since: Only messages created at or after this time (naive means UTC).
        concurrency: How many conversations are read at once.
        fail_fast: Stop at the first conversation that fails (the file is still written).
        on_progress: Called with a `backscroll.ProgressEvent` at each step.

    Returns:
        A `backscroll.MigrationReport`: conversations done and failed, messages read and
        written (``messages_written`` counts the messages in the records).

    Raises:
        ConfigurationError: an argument is unusable.
        SinkError: *path* cannot be written.
        BackscrollError: listing the conversations failed.

    .. versionadded:: 0.1.0
    """
    if format not in _RECORDS:
        msg = f"format must be 'openai' or 'sharegpt', got {format!r}"
        raise ConfigurationError(msg)
    if isinstance(conversation_ids, str):
        msg = "conversation_ids takes a list of ids, not one string"
        raise ConfigurationError(msg)
    if conversation_ids is None and not isinstance(source, ListsConversations):
        msg = f"{type(source).__name__} cannot list its conversations: pass conversation_ids=[...]"
        raise ConfigurationError(msg)
    export = _Export(
        source,
        Path(path),
        record=_RECORDS[format],
        conversation_ids=conversation_ids,
        since=Window.of(since, None).since,
        concurrency=positive_int(concurrency, "concurrency"),
        fail_fast=fail_fast,
        on_progress=on_progress,
    )
    return await export.run()


class _Export:
    def __init__(
        self,
        source: ChatHistoryProvider,
        path: Path,
        *,
        record: Callable[[Iterable[Message]], dict[str, Any]],
        conversation_ids: Iterable[str] | None,
        since: datetime | None,
        concurrency: int,
        fail_fast: bool,
        on_progress: Callable[[ProgressEvent], None] | None,
    ) -> None:
        self.source = source
        self.path = path
        self.record = record
        self.conversation_ids = conversation_ids
        self.since = since
        self.concurrency = concurrency
        self.fail_fast = fail_fast
        self.on_progress = on_progress
        self.failures: list[ConversationFailure] = []
        self.done = self.read = self.written = 0
        self.error: BaseException | None = None
        self.cancel_readers = anyio.CancelScope()
        self.cancel_all = anyio.CancelScope()

    async def run(self) -> MigrationReport:
        started = time.perf_counter()
        retries = _retries(self.source)
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            file = await anyio.to_thread.run_sync(lambda: temporary.open("wb"))
        except OSError as exc:
            msg = f"cannot write {self.path}: {exc.strerror or exc}"
            raise SinkError(msg) from None
        try:
            try:
                await self._copy_into(file)
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(file.close)
            if self.error is not None:
                raise self.error
            try:
                await anyio.to_thread.run_sync(lambda: _publish(temporary, self.path))
            except OSError as exc:
                msg = f"cannot write {self.path}: {exc.strerror or exc}"
                raise SinkError(msg) from None
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(temporary.unlink)
        return MigrationReport(
            conversations_done=self.done,
            conversations_skipped=0,
            failures=tuple(self.failures),
            deleted=(),
            messages_read=self.read,
            messages_written=self.written,
            messages_skipped=0,
            retries=max(0, _retries(self.source) - retries),
            duration=time.perf_counter() - started,
            complete=not self.failures and not self.cancel_readers.cancel_called,
        )

    async def _copy_into(self, file: IO[bytes]) -> None:
        lines_send, lines_receive = anyio.create_memory_object_stream[bytes](self.concurrency)
        ids_send, ids_receive = anyio.create_memory_object_stream[str]()
        with self.cancel_all:
            async with anyio.create_task_group() as group:
                group.start_soon(self._write, file, lines_receive)
                async with lines_send:
                    with self.cancel_readers:
                        async with anyio.create_task_group() as readers:
                            readers.start_soon(self._list, ids_send)
                            with ids_receive:
                                for _ in range(self.concurrency):
                                    readers.start_soon(
                                        self._read, ids_receive.clone(), lines_send.clone()
                                    )

    def _abort(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.cancel_all.cancel()

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    async def _list(self, ids: MemoryObjectSendStream[str]) -> None:
        seen: set[str] = set()
        try:
            async with ids, contextlib.aclosing(self._ids()) as listed:
                async for conversation_id in listed:
                    if conversation_id not in seen:
                        seen.add(conversation_id)
                        self._emit(ProgressEvent(kind="listed", conversation_id=conversation_id))
                        await ids.send(conversation_id)
        except Exception as exc:  # noqa: BLE001 - raised by run()
            self._abort(exc)

    async def _ids(self) -> AsyncGenerator[str, None]:
        if self.conversation_ids is not None:
            for conversation_id in self.conversation_ids:
                yield nonempty_str(conversation_id, "each of conversation_ids")
        elif isinstance(self.source, ListsConversations):
            async with _closing(self.source.conversations()) as conversations:
                async for conversation in conversations:
                    yield conversation.id

    async def _read(
        self, ids: MemoryObjectReceiveStream[str], lines: MemoryObjectSendStream[bytes]
    ) -> None:
        try:
            async with ids, lines:
                async for conversation_id in ids:
                    line = await self._conversation(conversation_id)
                    if line is not None:
                        await lines.send(line)
        except Exception as exc:  # noqa: BLE001 - raised by run()
            self._abort(exc)

    async def _conversation(self, conversation_id: str) -> bytes | None:
        self._emit(ProgressEvent(kind="started", conversation_id=conversation_id))
        try:
            async with _closing(self.source.messages(conversation_id, since=self.since)) as it:
                messages = [m async for m in it]
        except Exception as exc:  # noqa: BLE001 - reported, the others go on
            reason = (
                str(exc) if isinstance(exc, BackscrollError) else f"{type(exc).__name__}: {exc}"
            )
            self.failures.append(
                ConversationFailure(
                    conversation_id=conversation_id, reason=reason, error_type=type(exc).__name__
                )
            )
            self._emit(ProgressEvent(kind="failed", conversation_id=conversation_id, reason=reason))
            if self.fail_fast:
                self.cancel_readers.cancel()
            return None
        self.read += len(messages)
        record = self.record(messages)
        kept = len(next(iter(record.values())))
        self.done += 1
        self._emit(ProgressEvent(kind="finished", conversation_id=conversation_id, messages=kept))
        if not kept:
            return None
        self.written += kept
        return json_line(record)

    async def _write(self, file: IO[bytes], lines: MemoryObjectReceiveStream[bytes]) -> None:
        try:
            async with lines:
                async for line in lines:
                    await anyio.to_thread.run_sync(file.write, line)
        except OSError as exc:
            msg = f"cannot write {self.path}: {exc.strerror or exc}"
            self._abort(SinkError(msg))


@contextlib.asynccontextmanager
async def _closing(iterator: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T], None]:
    """Close an async iterator (a provider's generator) however the block ends."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _publish(temporary: Path, path: Path) -> None:
    with temporary.open("rb+") as file:
        os.fsync(file.fileno())
    temporary.replace(path)
    fsync_directory(path.parent)


def _retries(source: object) -> int:
    retries = getattr(source, "retries", None)
    return retries if isinstance(retries, int) and not isinstance(retries, bool) else 0
