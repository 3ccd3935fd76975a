"""
(d) Migration throughput: messages per second through `backscroll.migrate` into the sinks.

The source is in memory (messages built before the clock starts), so what is measured is
the migration engine, the sink and the checkpoint: a real run's cost once the messages
have arrived. Each run writes a fresh file in a temporary directory with a checkpoint
beside it, as a user would run it, and commits as the engine does (every few thousand
messages, fsynced). The counting sink, which stores nothing, shows the engine's share.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import attrs

from backscroll import Message, Role, migrate
from backscroll._ids import derived_id
from backscroll.sinks import JsonlSink, SqliteSink
from benchmarks._data import cursor_record
from benchmarks.export import CountingSink

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from backscroll.sinks import Sink

__all__ = ["SINKS", "Throughput", "run"]

SINKS: Final = ("SqliteSink", "JsonlSink", "counting sink")
_ROLES: Final = {"user": Role.USER, "ai": Role.ASSISTANT}


@attrs.frozen
class Throughput:
    """One migration into one sink."""

    sink: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds


class MemorySource:
    """A provider whose conversations are lists of messages in memory."""

    name = "memory"

    def __init__(self, conversations: dict[str, list[Message]]) -> None:
        self.conversations = conversations

    async def messages(
        self,
        conversation_id: str,
        *,
        order: str = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        del order, until, page_size  # the benchmark reads oldest first, whole
        for message in self.conversations[conversation_id]:
            if since is None or (message.created_at is not None and message.created_at >= since):
                yield message


def _conversations(conversations: int, messages: int) -> dict[str, list[Message]]:
    """
    Cursor-API messages (sender, metadata, raw record), built up front.

    Their ids are derived as for Talkifai's messages: random-looking, as real ids are, so
    that the database inserts in key order no more than it would in a real migration.
    """
    built: dict[str, list[Message]] = {}
    start = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    for c in range(conversations):
        conversation_id = f"con_{c:07d}"
        built[conversation_id] = [
            Message(
                id=derived_id(conversation_id, record["created_at"], "", record["text"], 0),
                conversation_id=conversation_id,
                role=_ROLES[record["sender_type"]],
                content=record["text"],
                created_at=start + timedelta(seconds=p),
                provider="cursor",
                sender_id=record["sender_id"],
                metadata=record["metadata"],
                raw=record,
            )
            for p in range(messages)
            for record in (cursor_record(p),)
        ]
    return built


async def _migrate(source: MemorySource, sink: Sink, checkpoint: Path) -> tuple[int, float]:
    ids = list(source.conversations)
    started = time.perf_counter()
    report = await migrate(source, sink, conversation_ids=ids, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    if report.failures:
        msg = f"the migration failed: {report.failures[:3]}"
        raise AssertionError(msg)
    return report.messages_written, seconds


async def _into(kind: str, source: MemorySource, directory: Path) -> tuple[int, float]:
    checkpoint = directory / f"{kind}.checkpoint.json"
    if kind == "SqliteSink":
        async with SqliteSink(directory / "history.db") as sqlite:
            return await _migrate(source, sqlite, checkpoint)
    if kind == "JsonlSink":
        async with JsonlSink(directory / "history.jsonl") as jsonl:
            return await _migrate(source, jsonl, checkpoint)
    return await _migrate(source, CountingSink(), checkpoint)


def run(
    *, conversations: int = 200, messages: int = 500, sinks: Sequence[str] = SINKS
) -> list[Throughput]:
    """Migrate *conversations* x *messages* messages into each sink, from memory."""
    source = MemorySource(_conversations(conversations, messages))
    results: list[Throughput] = []
    for kind in sinks:
        with tempfile.TemporaryDirectory(prefix="backscroll-bench-") as directory:
            written, seconds = anyio.run(_into, kind, source, Path(directory))
        if written != conversations * messages:
            msg = f"{kind}: wrote {written} of {conversations * messages} messages"
            raise AssertionError(msg)
        results.append(Throughput(sink=kind, messages=written, seconds=seconds))
    return results


if __name__ == "__main__":
    for row in run():
        print(f"{row.sink:14} {row.per_second:10,.0f} messages/s")
