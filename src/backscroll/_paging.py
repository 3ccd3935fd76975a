"""
The one paging engine every provider shares.

Three kinds of vendor paging, each written once here; a vendor module supplies only a
``fetch`` function that sends one request and parses one page:

- `offset_pages`: ``offset``/``limit`` pages (Talkifai). Progress is by position; a page
  that repeats the previous one (a stale cache, an ignored ``offset``, or the "last N
  messages" answer some vendors give to an offset past the end) is told apart with one
  probe.
- `cursor_pages`: timestamp cursors, ``after``/``before`` (the cursor API). The cursor is
  taken from the data, one second *before* the last timestamp seen, so that messages sharing
  a timestamp at a page boundary are fetched again rather than dropped, and the repeats are
  removed by id. The vendor's own ``next_cursor`` is not trusted.
- `single_page`: one response that holds everything (Convai details).

`windowed` then applies ``since``/``until`` and stops early once the iteration has passed
the window. Dedupe state is bounded: the previous page (offset paging) or the ids at the
last timestamp (cursor paging), never every id ever seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import attrs

from backscroll._models import Message
from backscroll._validate import positive_int
from backscroll.errors import ConfigurationError, PaginationError

if TYPE_CHECKING:
    from backscroll._protocols import Order

__all__ = [
    "CursorPage",
    "Window",
    "clamp_page_size",
    "cursor_pages",
    "offset_pages",
    "single_page",
    "windowed",
]

R = TypeVar("R")

#: How many pages in a row may bring nothing new before paging gives up.
MAX_STALLS = 3
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def clamp_page_size(page_size: int | None, *, default: int, maximum: int) -> int:
    """
    The page size to request: the caller's, clamped to the vendor's maximum.

    Asking for more than the vendor serves would make every page look short, and a short
    page is how offset paging knows it has reached the end.
    """
    if page_size is None:
        return default
    return min(positive_int(page_size, "page_size"), maximum)


@attrs.frozen
class Window:
    """The ``since`` (inclusive) / ``until`` (exclusive) window on `Message.created_at`."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None) -> Window:
        """Check and normalise the bounds (naive datetimes are read as UTC)."""
        since, until = _aware(since, "since"), _aware(until, "until")
        if since is not None and until is not None and since >= until:
            msg = f"since ({since.isoformat()}) must be earlier than until ({until.isoformat()})"
            raise ConfigurationError(msg)
        return cls(since, until)

    @property
    def unbounded(self) -> bool:
        """Whether there is no window at all."""
        return self.since is None and self.until is None

    def place(self, at: datetime | None, order: Order) -> int:
        """
        Where a timestamp falls, in iteration *order*.

        Returns ``0`` inside the window, ``-1`` before it (skip), ``1`` past it (stop).
        """
        if at is None:
            return -1
        before_start = self.since is not None and at < self.since
        after_end = self.until is not None and at >= self.until
        if order == "asc":
            return 1 if after_end else -1 if before_start else 0
        return 1 if before_start else -1 if after_end else 0


def _aware(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        msg = f"{name} must be a datetime, got {type(value).__name__}"
        raise ConfigurationError(msg)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


async def windowed(
    batches: AsyncIterator[Sequence[Message]], window: Window, order: Order
) -> AsyncIterator[Message]:
    """
    Flatten batches into messages, keeping those inside *window*.

    Messages arrive in *order* by time, so the first one past the far end of the window
    ends the iteration without fetching further pages. With a window, a message without a
    timestamp cannot be placed in it and is left out.
    """
    try:
        async for batch in batches:
            for message in batch:
                verdict = window.place(message.created_at, order) if not window.unbounded else 0
                if verdict == 0:
                    yield message
                elif verdict > 0:
                    return
    finally:
        await _aclose(batches)


async def _aclose(iterator: AsyncIterator[object]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


# -- single response -----------------------------------------------------------------------


async def single_page(
    fetch: Callable[[], Awaitable[Sequence[Message]]], order: Order
) -> AsyncIterator[Sequence[Message]]:
    """
    One response that holds the whole conversation, sorted into *order*.

    Sorting is stable and by time, so messages that share a timestamp keep the vendor's
    order (a user's line before the character's answer).
    """
    messages = list(await fetch())
    if any(m.created_at is None for m in messages):
        ordered = messages
    else:
        ordered = sorted(messages, key=_timestamp)
    if order == "desc":
        ordered.reverse()
    yield ordered


def _timestamp(message: Message) -> datetime:
    return message.created_at or _EPOCH


# -- offset pages --------------------------------------------------------------------------


async def offset_pages(
    fetch: Callable[[int, int], Awaitable[Sequence[R]]],
    *,
    limit: int,
    fingerprint: Callable[[R], Hashable],
    provider: str,
    start: int = 0,
) -> AsyncIterator[Sequence[R]]:
    """
    Page forward through an offset API; yield each position's record exactly once.

    *fetch(offset, limit)* returns the records of one page in position order. Paging ends
    at an empty or short page. A page whose records (compared by *fingerprint*) repeat the
    previous page exactly is resolved with a one-record probe at the same offset:

    - nothing, or the previous page's last record: the end (a "last N" answer to an offset
      past the end, as Talkifai documents it);
    - the previous page's first record: the vendor ignores ``offset``, `PaginationError`;
    - anything else: a passing repeat (a stale cache), and the page is fetched again.

    Partial overlaps are deliberately not trimmed: offsets are positions in an append-only
    history, and byte-identical messages (a double-sent "ok") may legitimately straddle a
    page boundary; trimming them would lose a message.

    Raises:
        PaginationError: the vendor ignores ``offset``, or keeps repeating a page.
    """
    offset = start
    previous: list[Hashable] = []
    stalls = 0
    while True:
        page = await fetch(offset, limit)
        if not page:
            return
        prints = [fingerprint(record) for record in page]
        if prints == previous:
            probe = await fetch(offset, 1)
            if not probe or fingerprint(probe[0]) == previous[-1]:
                return
            if fingerprint(probe[0]) == previous[0]:
                msg = (
                    f"{provider} answered offset={offset} with the page it gave for an "
                    "earlier offset: it seems to ignore offset=, so paging cannot go on "
                    "without losing messages."
                )
                raise PaginationError(msg)
            stalls += 1
            _check_stalls(stalls, provider, f"offset={offset}")
            continue
        stalls = 0
        yield page
        previous = prints
        offset += len(page)
        if len(page) < limit:
            return


def _check_stalls(stalls: int, provider: str, where: str) -> None:
    if stalls >= MAX_STALLS:
        msg = (
            f"{provider} answered {stalls} requests in a row at {where} without any new "
            "message; giving up rather than looping. Try again later."
        )
        raise PaginationError(msg)


# -- timestamp cursor pages ----------------------------------------------------------------


@attrs.frozen
class CursorPage:
    """One page of a timestamp-cursor API: its messages and the vendor's ``has_more``."""

    messages: Sequence[Message]
    has_more: bool | None


async def cursor_pages(
    fetch: Callable[[datetime | None, int], Awaitable[CursorPage]],
    *,
    order: Order,
    limit: int,
    max_limit: int,
    provider: str,
    window: Window,
) -> AsyncIterator[Sequence[Message]]:
    """
    Page through a timestamp-cursor API; yield each message exactly once, in *order*.

    *fetch(cursor, limit)* asks for the messages strictly after *cursor* (``order="asc"``,
    oldest first) or strictly before it (``"desc"``, newest first; ``None`` is the vendor's
    default, the newest page). The cursor is one
    second short of the last timestamp yielded (timestamps have one-second resolution), so
    siblings that share it are fetched again and told apart by id. The dedupe state is the
    set of ids at that last timestamp: as large as the biggest burst, not the conversation.

    A full page without anything new means a burst larger than the page: the page size
    doubles up to *max_limit*.

    Raises:
        PaginationError: more messages share one second than the largest page holds, or
            the vendor keeps answering without progress.
    """
    ascending = order == "asc"
    cursor: datetime | None
    if ascending:
        # Without a cursor the vendor starts at the newest page: start at the beginning.
        cursor = _floor_second(window.since) - _ONE_SECOND if window.since else _EPOCH
    else:
        cursor = _ceil_second(window.until) if window.until else None
    boundary: datetime | None = None
    at_boundary: set[str] = set()
    stalls = 0
    while True:
        page = await fetch(cursor, limit)
        ordered = _in_order(page.messages, ascending=ascending)
        fresh = [m for m in ordered if _is_new(m, boundary, at_boundary, ascending=ascending)]
        if not fresh:
            if page.has_more is False or len(page.messages) < limit:
                return
            if limit < max_limit:
                limit = min(max_limit, limit * 2)
                continue
            stalls += 1
            where = f"the cursor {cursor.isoformat()}" if cursor else "the first page"
            _check_stalls(stalls, provider, where)
            continue
        stalls = 0
        yield fresh
        last = fresh[-1].created_at
        if last is None:  # pragma: no cover - fetch guarantees timestamps
            raise AssertionError
        if last != boundary:
            boundary, at_boundary = last, set()
        at_boundary.update(m.id for m in fresh if m.created_at == boundary)
        if page.has_more is False:
            return
        cursor = (
            _floor_second(boundary) - _ONE_SECOND
            if ascending
            else _ceil_second(boundary) + _ONE_SECOND
        )


def _is_new(
    message: Message, boundary: datetime | None, at_boundary: set[str], *, ascending: bool
) -> bool:
    if boundary is None:
        return True
    at = message.created_at
    if at is None:  # pragma: no cover - fetch guarantees timestamps
        return False
    if at == boundary:
        return message.id not in at_boundary
    return at > boundary if ascending else at < boundary


def _in_order(messages: Sequence[Message], *, ascending: bool) -> list[Message]:
    """
    Sort a page by time; messages that share a timestamp keep the vendor's order.

    The vendor's order is read in the page's own direction (the cursor API's default is
    newest first), so a question stays before its answer within one second.
    """
    ordered = list(messages)
    if len(ordered) > 1 and _timestamp(ordered[0]) > _timestamp(ordered[-1]):
        ordered.reverse()
    ordered.sort(key=_timestamp)
    if not ascending:
        ordered.reverse()
    return ordered


def _overlapping_cursor(boundary: datetime, *, ascending: bool) -> datetime:
    """An exclusive cursor one second short of *boundary*, so its siblings come again."""
    if ascending:
        return _floor_second(boundary) - _ONE_SECOND
    return _ceil_second(boundary) + _ONE_SECOND


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _ceil_second(value: datetime) -> datetime:
    floor = value.replace(microsecond=0)
    return floor if floor == value else floor + _ONE_SECOND
