"""
(d) Migration throughput: messages per second through `backscroll.migrate` into the sinks.

The source is in memory (messages built before the clock starts), so what is measured is
the migration engine, the sink and the checkpoint: a real run's cost once the messages
have arrived. Each run writes a fresh file in a temporary directory with a checkpoint
beside it, as a user would run it, and commits as the engine does (every few thousand
messages, fsynced). The counting sink, which stores nothing, shows the engine's share.

Beside the migrations, `SqliteSink` alone is held against a hand-written ``executemany``:
the same batches (the engine's 256 messages), the same schema and statements, the same
rows (``data`` is ``to_dict(message)`` in the standard library's JSON, through one reused
encoder) and the same
commits (every 4,096 messages), with no migration engine around either.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import attrs

from backscroll import Message, Role, migrate, to_dict
from backscroll._ids import derived_id
from backscroll.sinks import JsonlSink, SqliteSink
from backscroll.sinks._sqlite import SCHEMA
from benchmarks._data import cursor_record
from benchmarks.export import CountingSink

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from backscroll.sinks import Sink

__all__ = ["SINKS", "Throughput", "run"]

SINKS: Final = ("SqliteSink", "JsonlSink", "counting sink")
#: SqliteSink's writes and commits alone, and the same by hand.
SQLITE_ALONE: Final = "SqliteSink, writes alone"
HAND_SQLITE: Final = "hand executemany"
BATCH: Final = 256  # the migration engine's batch
COMMIT_EVERY: Final = 4096  # and its commits
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


def _batches(conversations: dict[str, list[Message]]) -> list[list[Message]]:
    return [
        history[start : start + BATCH]
        for history in conversations.values()
        for start in range(0, len(history), BATCH)
    ]


async def _sqlite_alone(batches: list[list[Message]], path: Path) -> float:
    started = time.perf_counter()
    async with SqliteSink(path) as sink:
        pending = 0
        for batch in batches:
            await sink.write(batch)
            pending += len(batch)
            if pending >= COMMIT_EVERY:
                await sink.commit()
                pending = 0
    return time.perf_counter() - started


_HAND_CONVERSATION: Final = (
    "INSERT INTO conversations (provider, id) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
_HAND_UPSERT: Final = """
INSERT INTO messages
    (provider, conversation_id, id, role, content, created_at, sender_id, token_count, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (provider, conversation_id, id) DO UPDATE SET
    role = excluded.role, content = excluded.content, created_at = excluded.created_at,
    sender_id = excluded.sender_id, token_count = excluded.token_count, data = excluded.data
"""


# The quickest the standard library offers: one encoder, not one per json.dumps call.
_encode: Final = json.JSONEncoder(ensure_ascii=False).encode


def _hand_sqlite(batches: list[list[Message]], path: Path) -> float:
    """What a user writes: one connection, executemany per batch, a commit every 4,096."""
    started = time.perf_counter()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.executescript(SCHEMA)
    connection.execute("BEGIN")
    pending = 0
    for batch in batches:
        connection.execute(_HAND_CONVERSATION, (batch[0].provider, batch[0].conversation_id))
        rows = [
            (
                m.provider,
                m.conversation_id,
                m.id,
                m.role.value,
                m.content,
                None
                if m.created_at is None
                else m.created_at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z",
                m.sender_id,
                m.token_count,
                _encode(to_dict(m)),
            )
            for m in batch
        ]
        connection.executemany(_HAND_UPSERT, rows)
        pending += len(batch)
        if pending >= COMMIT_EVERY:
            connection.execute("COMMIT")
            connection.execute("BEGIN")
            pending = 0
    connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - started


def run(
    *, conversations: int = 200, messages: int = 500, sinks: Sequence[str] = SINKS
) -> list[Throughput]:
    """
    Migrate *conversations* x *messages* messages into each sink, from memory.

    Then write the same messages with `SqliteSink` alone and with a hand ``executemany``.
    """
    source = MemorySource(_conversations(conversations, messages))
    results: list[Throughput] = []
    total = conversations * messages
    batches = _batches(source.conversations)
    with tempfile.TemporaryDirectory(prefix="backscroll-bench-") as directory:
        hand = _hand_sqlite(batches, Path(directory) / "hand.db")
    with tempfile.TemporaryDirectory(prefix="backscroll-bench-") as directory:
        alone = anyio.run(_sqlite_alone, batches, Path(directory) / "sink.db")
    results.append(Throughput(sink=SQLITE_ALONE, messages=total, seconds=alone))
    results.append(Throughput(sink=HAND_SQLITE, messages=total, seconds=hand))
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
