"""In-memory sources and faulty wrappers for the migration tests."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from backscroll import Conversation, Message, Role, from_dict
from backscroll._paging import Window

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Sequence
    from pathlib import Path

EPOCH = datetime(2024, 9, 25, 19, 0, tzinfo=UTC)


def message(
    conversation_id: str,
    n: int,
    *,
    second: int | None = None,
    provider: str = "memory",
    untimed: bool = False,
) -> Message:
    """The n-th message of a conversation; *second* (default n) sets its time."""
    at = None if untimed else EPOCH + timedelta(seconds=n if second is None else second)
    return Message(
        id=f"{conversation_id}-m{n}",
        conversation_id=conversation_id,
        role=Role.USER if n % 2 == 0 else Role.ASSISTANT,
        content=f"message {n} of {conversation_id} ✓",
        created_at=at,
        provider=provider,
        sender_id="s1" if n % 2 == 0 else None,
        token_count=n,
        metadata={"n": n},
        raw={"text": f"message {n}", "nested": {"list": [1, 2, n]}},
    )


class MemoryProvider:
    """A source held in memory: lists, reads with since/until, deletes, counts retries."""

    name = "memory"

    def __init__(self, conversations: dict[str, list[Message]] | None = None) -> None:
        self.data: dict[str, list[Message]] = conversations or {}
        self.retries = 0
        self.deleted: list[str] = []
        self.reads: list[tuple[str, datetime | None]] = []

    def identity(self) -> dict[str, str]:
        """Its name: what a checkpoint records of it."""
        return {"name": self.name}

    @classmethod
    def build(
        cls, sizes: Sequence[int], *, burst: int = 1, untimed_every: int = 0
    ) -> MemoryProvider:
        """
        Conversations c0, c1, ... with *sizes* messages; *burst* messages share a second.

        With *untimed_every*, every so many messages has no timestamp.
        """
        return cls(
            {
                f"c{i}": [
                    message(
                        f"c{i}",
                        n,
                        second=n // burst,
                        untimed=bool(untimed_every) and n % untimed_every == 1,
                    )
                    for n in range(size)
                ]
                for i, size in enumerate(sizes)
            }
        )

    def append(self, conversation_id: str, count: int) -> None:
        """Add *count* newer messages to a conversation."""
        existing = self.data.setdefault(conversation_id, [])
        start = len(existing)
        existing.extend(message(conversation_id, start + k) for k in range(count))

    async def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """Yield the conversations in insertion order."""
        for conversation_id in list(self.data)[:limit]:
            await anyio.lowlevel.checkpoint()
            yield Conversation(id=conversation_id, provider=self.name)

    async def messages(
        self,
        conversation_id: str,
        *,
        order: str = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncGenerator[Message, None]:
        """Yield a conversation's messages inside the window, in *order*."""
        del page_size
        self.reads.append((conversation_id, since))
        window = Window.of(since, until)
        items = list(self.data.get(conversation_id, []))
        if order == "desc":
            items.reverse()
        for item in items:
            await anyio.lowlevel.checkpoint()
            at = item.created_at
            if window.since is not None and (at is None or at < window.since):
                continue
            if window.until is not None and (at is None or at >= window.until):
                continue
            yield item

    async def delete_conversations(self, ids: Sequence[str]) -> None:
        """Forget these conversations."""
        for conversation_id in ids:
            self.data.pop(conversation_id, None)
            self.deleted.append(conversation_id)


class Crash(Exception):  # noqa: N818 - it is not an error, it is the test's kill switch
    """Stands in for a process dying: nothing after it runs."""


class CancellingProvider:
    """Wraps a provider; cancels *scope* once *after* messages have been yielded in all."""

    def __init__(self, inner: MemoryProvider, scope: anyio.CancelScope, after: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.scope = scope
        self.after = after
        self.yielded = 0

    def identity(self) -> dict[str, str]:
        """The inner provider's identity: a checkpoint sees the same source."""
        return self.inner.identity()

    def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """The inner provider's conversations."""
        return self.inner.conversations(limit=limit)

    async def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        """The inner provider's messages, until the budget is spent."""
        async with contextlib.aclosing(self.inner.messages(conversation_id, **options)) as inner:
            async for item in inner:
                if self.yielded >= self.after:
                    self.scope.cancel()
                    await anyio.sleep_forever()
                self.yielded += 1
                yield item


class FailingProvider:
    """Wraps a provider; raises *error* once *after* messages have been yielded in all."""

    def __init__(self, inner: MemoryProvider, after: int, error: Exception) -> None:
        self.inner = inner
        self.name = inner.name
        self.after = after
        self.error = error
        self.yielded = 0

    def identity(self) -> dict[str, str]:
        """The inner provider's identity: a checkpoint sees the same source."""
        return self.inner.identity()

    def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """The inner provider's conversations."""
        return self.inner.conversations(limit=limit)

    async def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        """The inner provider's messages, then the error."""
        async with contextlib.aclosing(self.inner.messages(conversation_id, **options)) as inner:
            async for item in inner:
                if self.yielded >= self.after:
                    raise self.error
                self.yielded += 1
                yield item


def crash_on(sink: Any, *, write: int | None = None, commit: int | None = None) -> Any:
    """
    Make *sink* raise `Crash` at its write number *write* or commit number *commit*.

    A crashing commit commits first: the sink holds the data, the checkpoint does not.
    The sink keeps its type, so the checkpoint and the protocols see the real thing.
    """
    real_write, real_commit = sink.write, sink.commit
    counts = {"write": 0, "commit": 0}

    async def crashing_write(messages: Sequence[Message]) -> None:
        if counts["write"] == write:
            raise Crash
        counts["write"] += 1
        await real_write(messages)

    async def crashing_commit() -> None:
        await real_commit()
        if counts["commit"] == commit:
            raise Crash
        counts["commit"] += 1

    sink.write, sink.commit = crashing_write, crashing_commit
    return sink


def jsonl_keys(path: Path) -> list[tuple[str, str, str]]:
    """The (provider, conversation, id) of every line of a JSONL export, in file order."""
    keys = []
    for line in path.read_bytes().splitlines():
        data = json.loads(line)
        keys.append((data["provider"], data["conversation_id"], data["id"]))
    return keys


def jsonl_messages(path: Path) -> list[Message]:
    """Every message of a JSONL export, in file order."""
    return [from_dict(Message, json.loads(line)) for line in path.read_bytes().splitlines()]


def sqlite_messages(path: Path) -> list[Message]:
    """Every message of an SQLite sink, by provider, conversation and time."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT data FROM messages ORDER BY provider, conversation_id, created_at, id"
        ).fetchall()
    return [from_dict(Message, json.loads(data)) for (data,) in rows]


def expected(provider: MemoryProvider) -> dict[tuple[str, str, str], Message]:
    """Every message of the source, by key."""
    return {(m.provider, m.conversation_id, m.id): m for ms in provider.data.values() for m in ms}


class GatedProvider:
    """Wraps a provider; every read waits at its start until `release` is set."""

    def __init__(self, inner: MemoryProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.reading = anyio.Event()
        self.release = anyio.Event()

    def identity(self) -> dict[str, str]:
        """The inner provider's identity: a checkpoint sees the same source."""
        return self.inner.identity()

    def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """The inner provider's conversations."""
        return self.inner.conversations(limit=limit)

    async def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        """The inner provider's messages, once the gate is open."""
        self.reading.set()
        await self.release.wait()
        async with contextlib.aclosing(self.inner.messages(conversation_id, **options)) as inner:
            async for item in inner:
                yield item


def read_checkpoint(path: Path) -> dict[str, Any]:
    """
    A checkpoint journal replayed by hand: its header, its last state, every watermark.

    Independent of the code under test: lines after the header are read in order, the last
    one's state and each conversation's latest watermark win.
    """
    header, *records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    data = {**header, **records[-1], "conversations": {}}
    for record in records:
        data["conversations"].update(record["conversations"])
    return data
