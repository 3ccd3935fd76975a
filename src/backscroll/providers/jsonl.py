"""
`JsonlProvider`: read a JSON Lines export (`backscroll.sinks.JsonlSink`) back as a provider.

The file is indexed once, on first use, in a worker thread: each line is parsed and its
offset filed under its conversation. Messages are then read back by offset, a batch at a
time, so memory holds the index (two integers per message), one batch and the ids of the
conversation being read (to drop repeated lines), not the file.
A conversation whose lines are not in time order (a file written by another tool, or
several files concatenated) is read whole and sorted, like a vendor without paging.
"""

from __future__ import annotations

import json
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import anyio
import anyio.to_thread
import attrs

from backscroll._closing import Closeable
from backscroll._converter import from_dict
from backscroll._models import Conversation, Message
from backscroll._paging import Window, clamp_page_size, windowed
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import ConfigurationError, ConversionError

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Sequence

    from backscroll._protocols import Order

__all__ = ["JsonlProvider"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.define
class _Entry:
    """Where one conversation's lines are, and whether they are in time order."""

    provider: str
    offsets: array[int] = attrs.Factory(lambda: array("q"))
    lines: array[int] = attrs.Factory(lambda: array("q"))
    first: datetime | None = None
    last: datetime | None = None
    ordered: bool = True


class JsonlProvider(Closeable):
    """
    Read a JSON Lines export back: one `backscroll.to_dict` form of a `Message` per line.

    It lists the distinct conversation ids of the file in order of first appearance
    (`ListsConversations`), and yields each conversation's messages with the usual
    ``order``/``since``/``until`` options, so an export migrates onward:

    .. code-block:: python

        async with JsonlProvider("export.jsonl") as source, SqliteSink("history.db") as sink:
            await backscroll.migrate(source, sink)

    Messages keep the ``provider`` they were exported from. A message that appears twice
    in a conversation (same id) is yielded once, the first time.

    Args:
        path: The JSON Lines file.

    The file is read on first use; lines appended after that are not seen by this
    instance. Errors name the file and the line: `ConfigurationError` when the file cannot
    be read, `ConversionError` when a line is not a message.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "jsonl"
    #: Lines read from the file per worker-thread call.
    default_page_size: ClassVar[int] = 512
    max_page_size: ClassVar[int] = 10_000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._index: dict[str, _Entry] | None = None
        self._lock: anyio.Lock | None = None

    def identity(self) -> dict[str, str]:
        """Its name and resolved file, for checkpoints (see `backscroll.Identifiable`)."""
        return {"name": self.name, "path": str(self.path.resolve())}

    def __repr__(self) -> str:
        return f"JsonlProvider({str(self.path)!r})"

    async def aclose(self) -> None:
        """Drop the index (no file stays open between calls)."""
        self._index = None

    async def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """
        Yield the file's conversations in order of first appearance.

        Each has the ``provider`` of its messages and, as ``created_at``, the time of its
        oldest message.
        """
        if limit is not None:
            limit = positive_int(limit, "limit")
        index = await self._indexed()
        for number, (conversation_id, entry) in enumerate(index.items()):
            if limit is not None and number >= limit:
                return
            yield Conversation(id=conversation_id, provider=entry.provider, created_at=entry.first)

    def messages(
        self,
        conversation_id: str,
        *,
        order: Order = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """
        Yield the messages of a conversation of the file, each once, in time order.

        Args:
            conversation_id: A conversation id of the file; one it lacks has no messages.
            order: ``"asc"`` (oldest first, the default) or ``"desc"`` (newest first).
            since: Inclusive lower bound on `Message.created_at` (naive means UTC).
            until: Exclusive upper bound on `Message.created_at` (naive means UTC).
            page_size: Lines read per worker-thread call.

        Raises:
            ConfigurationError: an argument is invalid, or the file cannot be read.
            ConversionError: a line of the file is not a message (the error names it).
        """
        if order not in {"asc", "desc"}:
            msg = f"order must be 'asc' or 'desc', got {order!r}"
            raise ConfigurationError(msg)
        conversation_id = nonempty_str(conversation_id, "conversation_id")
        window = Window.of(since, until)
        limit = clamp_page_size(
            page_size, default=self.default_page_size, maximum=self.max_page_size
        )
        return windowed(self._batches(conversation_id, order, limit), window, order)

    async def _batches(
        self, conversation_id: str, order: Order, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        index = await self._indexed()
        entry = index.get(conversation_id)
        if entry is None:
            return
        spots = list(zip(entry.offsets, entry.lines, strict=True))
        seen: set[str] = set()
        if not entry.ordered:
            # Out of time order in the file: read it whole and sort (stable, as vendors do).
            everything = await anyio.to_thread.run_sync(self._read_lines, conversation_id, spots)
            everything.sort(key=_time)
            if order == "desc":
                everything.reverse()
            yield _first_of_each(everything, seen)
            return
        if order == "desc":
            spots.reverse()
        for start in range(0, len(spots), limit):
            chunk = spots[start : start + limit]
            batch = await anyio.to_thread.run_sync(self._read_lines, conversation_id, chunk)
            fresh = _first_of_each(batch, seen)
            if fresh:
                yield fresh

    async def _indexed(self) -> dict[str, _Entry]:
        if self._index is None:
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                if self._index is None:
                    self._index = await anyio.to_thread.run_sync(self._build_index)
        return self._index

    # -- blocking, in worker threads ------------------------------------------------------------

    def _build_index(self) -> dict[str, _Entry]:
        index: dict[str, _Entry] = {}
        try:
            with self.path.open("rb") as file:
                offset = 0
                for number, line in enumerate(file, start=1):
                    if line.strip():
                        self._file_line(index, line, number, offset)
                    offset += len(line)
        except OSError as exc:
            self._unreadable(exc)
        return index

    def _file_line(self, index: dict[str, _Entry], line: bytes, number: int, offset: int) -> None:
        data = self._parse(line, number)
        conversation_id = data.get("conversation_id")
        provider = data.get("provider")
        if not isinstance(conversation_id, str) or not conversation_id:
            self._bad_line(number, "it has no conversation_id string")
        if not isinstance(provider, str):
            self._bad_line(number, "it has no provider string")
        entry = index.get(conversation_id)
        if entry is None:
            entry = index[conversation_id] = _Entry(provider)
        entry.offsets.append(offset)
        entry.lines.append(number)
        at = _timestamp(data.get("created_at"))
        if at is None:
            return
        if entry.first is None or at < entry.first:
            entry.first = at
        if entry.last is not None and at < entry.last:
            entry.ordered = False
        entry.last = at if entry.last is None else max(at, entry.last)

    def _read_lines(self, conversation_id: str, spots: Sequence[tuple[int, int]]) -> list[Message]:
        messages: list[Message] = []
        try:
            with self.path.open("rb") as file:
                for offset, number in spots:
                    file.seek(offset)
                    data = self._parse(file.readline(), number)
                    if data.get("conversation_id") != conversation_id:
                        self._bad_line(number, "the file changed since it was indexed")
                    try:
                        messages.append(from_dict(Message, data))
                    except ConversionError as exc:
                        self._bad_line(number, str(exc))
        except OSError as exc:
            self._unreadable(exc)
        return messages

    def _parse(self, line: bytes, number: int) -> dict[str, Any]:
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._bad_line(number, f"it is not JSON ({exc})")
        if not isinstance(data, dict):
            self._bad_line(number, f"it is a JSON {type(data).__name__}, not an object")
        return data

    def _bad_line(self, number: int, what: str) -> NoReturn:
        msg = f"{self.path}, line {number}, is not a backscroll message: {what}"
        raise ConversionError(msg)

    def _unreadable(self, exc: OSError) -> NoReturn:
        msg = f"cannot read the JSONL export {self.path}: {exc.strerror or exc}"
        raise ConfigurationError(msg) from None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None  # from_dict reports it when the message is read
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _time(message: Message) -> datetime:
    return message.created_at or _EPOCH


def _first_of_each(messages: list[Message], seen: set[str]) -> list[Message]:
    fresh = []
    for message in messages:
        if message.id not in seen:
            seen.add(message.id)
            fresh.append(message)
    return fresh
