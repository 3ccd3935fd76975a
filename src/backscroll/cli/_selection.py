"""
Which conversations a run copies: ids from flags or a file, a shard, a start time.

A shard is `backscroll.shard_of` applied to each conversation id, so N workers started
with ``--shard 0/N`` ... ``--shard N-1/N`` split an account exactly: each conversation
belongs to one of them, on any machine, whatever the listing order.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from backscroll._migration.shards import shard_of
from backscroll._protocols import ChatHistoryProvider, DeletesConversations, ListsConversations
from backscroll.cli._options import UsageError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from backscroll._models import Conversation, Message
    from backscroll._protocols import Order

__all__ = [
    "DeletingShardSource",
    "Shard",
    "ShardSource",
    "parse_shard",
    "parse_since",
    "read_ids",
]

_SHARD: Final = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@attrs.frozen
class Shard:
    """One of *count* disjoint parts of an account, numbered from 0."""

    index: int
    count: int

    def holds(self, conversation_id: str) -> bool:
        """Whether the conversation belongs to this shard."""
        return shard_of(conversation_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """
    Read ``I/N``: shard *I* of *N*, with ``0 <= I < N``.

    Raises:
        UsageError: another form, or an index out of range.
    """
    match = _SHARD.fullmatch(text)
    if match is None:
        msg = f"--shard takes I/N (the I-th of N shards, from 0), as in 0/4; got {text!r}"
        raise UsageError(msg)
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        msg = f"--shard {text}: I must be from 0 to N-1 (shards are numbered from 0)"
        raise UsageError(msg)
    return Shard(index, count)


def parse_since(text: str) -> datetime:
    """
    Read an ISO 8601 date or time; without a zone it is UTC.

    Raises:
        UsageError: it is not one.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = (
            "--since takes an ISO 8601 date or time, as in 2024-09-25 or "
            f"2024-09-25T14:00:00Z; got {text!r}"
        )
        raise UsageError(msg) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_ids(ids: Sequence[str], ids_file: Path | None) -> list[str] | None:
    """
    The conversation ids given with ``--id`` and in ``--ids-file``, in order, once each.

    The file has one id per line; blank lines and lines starting with ``#`` are skipped;
    ``-`` reads standard input. ``None`` means neither was given: all conversations.

    Raises:
        UsageError: the file cannot be read, or holds no id.
    """
    if not ids and ids_file is None:
        return None
    chosen = [conversation_id.strip() for conversation_id in ids]
    if any(not conversation_id for conversation_id in chosen):
        msg = "--id needs a conversation id, got an empty one"
        raise UsageError(msg)
    if ids_file is not None:
        from_file = _read_ids_file(ids_file)
        if not from_file:
            msg = f"--ids-file {ids_file} holds no conversation id (one per line)"
            raise UsageError(msg)
        chosen.extend(from_file)
    return list(dict.fromkeys(chosen))


def _read_ids_file(path: Path) -> list[str]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read --ids-file {path}: {exc.strerror or exc}"
        raise UsageError(msg) from None
    except UnicodeDecodeError:
        msg = f"cannot read --ids-file {path}: it is not UTF-8 text"
        raise UsageError(msg) from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class ListingSource(ChatHistoryProvider, ListsConversations, Protocol):
    """A source that lists its conversations."""


class DeletingSource(ListingSource, DeletesConversations, Protocol):
    """A source that lists and deletes its conversations (Convai)."""


class ShardSource:
    """
    A source that lists only one shard's conversations; messages are read as they are.

    It keeps the source's ``name``, ``retries`` and what the checkpoint names it by
    (``base_url``, ``character_id``, ``path``), so the checkpoint and the report are the
    same as for the source itself.
    """

    def __init__(self, source: ListingSource, shard: Shard) -> None:
        self.source: ListingSource = source
        self.shard = shard

    @property
    def name(self) -> str:
        """The source's name (the checkpoint records it)."""
        name = getattr(self.source, "name", None)
        return name if isinstance(name, str) else type(self.source).__name__

    @property
    def retries(self) -> int:
        """The source's count of retried requests."""
        retries = getattr(self.source, "retries", 0)
        return retries if isinstance(retries, int) else 0

    @property
    def base_url(self) -> object:
        """The source's base URL, if it has one."""
        return getattr(self.source, "base_url", None)

    @property
    def character_id(self) -> object:
        """The source's character, if it has one (Convai)."""
        return getattr(self.source, "character_id", None)

    @property
    def path(self) -> object:
        """The source's file, if it has one (a JSONL export)."""
        return getattr(self.source, "path", None)

    def messages(
        self,
        conversation_id: str,
        *,
        order: Order = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """The source's messages of the conversation."""
        return self.source.messages(
            conversation_id, order=order, since=since, until=until, page_size=page_size
        )

    async def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """The source's conversations that belong to the shard (at most *limit*)."""
        listing = self.source.conversations()
        kept = 0
        try:
            async for conversation in listing:
                if limit is not None and kept >= limit:
                    return
                if self.shard.holds(conversation.id):
                    kept += 1
                    yield conversation
        finally:
            aclose = getattr(listing, "aclose", None)
            if aclose is not None:
                await aclose()


class DeletingShardSource(ShardSource):
    """A `ShardSource` of a source that deletes conversations (for ``--delete-after``)."""

    def __init__(self, source: DeletingSource, shard: Shard) -> None:
        super().__init__(source, shard)
        self.deleter = source

    async def delete_conversations(self, ids: Sequence[str]) -> None:
        """Delete the conversations at the vendor."""
        await self.deleter.delete_conversations(ids)
