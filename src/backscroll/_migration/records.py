"""
The writer behind `backscroll.formats.export_conversations`: one record line per conversation.

The pipeline (`backscroll._migration.pipeline`) reads the conversations as for `migrate`;
this writer gathers each conversation's batches, and when the conversation is read to its
end turns it into one record and appends that as a JSON line. The file is written under a
temporary name and moved into place at the end, so the target is either the old file or
the complete new one. Nothing resumes: there is no checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import IO, TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.to_thread

from backscroll._migration.checkpoint import fsync_directory
from backscroll._migration.pipeline import Batch, Done, Failed, Pipeline, Plan
from backscroll.errors import SinkError
from backscroll.sinks._jsonl import json_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime
    from pathlib import Path

    from backscroll._migration.pipeline import Item
    from backscroll._migration.report import MigrationReport, ProgressEvent
    from backscroll._models import Message
    from backscroll._protocols import ChatHistoryProvider

__all__ = ["RecordWriter", "export_records"]


async def export_records(
    source: ChatHistoryProvider,
    path: Path,
    *,
    record: Callable[[Iterable[Message]], dict[str, Any]],
    conversation_ids: Iterable[str] | None,
    shard: tuple[int, int] | None = None,
    since: datetime | None,
    concurrency: int,
    fail_fast: bool,
    on_progress: Callable[[ProgressEvent], None] | None,
) -> MigrationReport:
    """
    Write a record line per conversation of *source* into *path*, replacing it at the end.

    Raises:
        ConfigurationError: an argument is unusable.
        SinkError: *path* cannot be written.
        BackscrollError: listing the conversations failed (*path* is left as it was).
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
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        file = await anyio.to_thread.run_sync(lambda: temporary.open("wb"))
    except OSError as exc:
        _cannot_write(path, exc)
    try:
        try:
            await pipeline.run(RecordWriter(pipeline, file, path, record))
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(file.close)
        try:
            await anyio.to_thread.run_sync(lambda: _publish(temporary, path))
        except OSError as exc:
            _cannot_write(path, exc)
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
            await anyio.to_thread.run_sync(temporary.unlink)
    return pipeline.report(complete=pipeline.finished_all)


class RecordWriter:
    """
    The pipeline's writer for a training file: gathers a conversation, writes its record.

    Lines come in the order conversations finish. A conversation whose record keeps no
    message (say, only tool output) counts as done but writes no line; a failed one
    writes nothing.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        file: IO[bytes],
        path: Path,
        record: Callable[[Iterable[Message]], dict[str, Any]],
    ) -> None:
        self.pipeline = pipeline
        self.file = file
        self.path = path
        self.record = record
        self.gathered: dict[str, list[Message]] = {}

    @property
    def pending(self) -> int:
        """Nothing waits for a commit: the file is published whole at the end."""
        return 0

    def plan(self, conversation_id: str) -> Plan:  # noqa: ARG002 - the same for every one
        """Every conversation is read whole (within ``since``)."""
        return Plan(since=self.pipeline.since)

    async def take(self, item: Item) -> None:
        """Gather a batch; at a conversation's end, write its record."""
        if isinstance(item, Batch):
            self.gathered.setdefault(item.conversation_id, []).extend(item.messages)
        elif isinstance(item, Failed):
            self.gathered.pop(item.conversation_id, None)
        elif isinstance(item, Done):
            await self._finish(item.conversation_id)

    async def commit(self, *, last: bool = False, cancelled: bool = False) -> None:
        """Nothing to do: the file is made durable when it is published."""

    async def _finish(self, conversation_id: str) -> None:
        record = self.record(self.gathered.pop(conversation_id, []))
        kept = len(next(iter(record.values())))
        pipeline = self.pipeline
        pipeline.tally.done += 1
        pipeline.emit("finished", conversation_id, kept)
        if not kept:
            return
        pipeline.tally.written += kept
        line = json_line(record)
        try:
            await anyio.to_thread.run_sync(self.file.write, line)
        except OSError as exc:
            _cannot_write(self.path, exc)


def _cannot_write(path: Path, exc: OSError) -> NoReturn:
    msg = f"cannot write {path}: {exc.strerror or exc}"
    raise SinkError(msg) from None


def _publish(temporary: Path, path: Path) -> None:
    with temporary.open("rb+") as file:
        os.fsync(file.fileno())
    temporary.replace(path)
    fsync_directory(path.parent)
