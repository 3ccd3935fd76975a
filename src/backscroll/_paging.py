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
- `token_pages`: opaque page tokens (``next_page_token``/``page_token``), the most common
  style: tokens are compared, never read; a token seen before, a page that only repeats
  the previous one and empty pages that keep promising more are each checked.

`windowed` then applies ``since``/``until`` and stops early once the iteration has passed
the window. Dedupe state is bounded: the previous page (offset paging) or the ids at the
last timestamp (cursor paging), never every id ever seen.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Generic, TypeVar

import anyio
import attrs

from backscroll._models import Message
from backscroll._validate import positive_int
from backscroll.errors import ConfigurationError, PaginationError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from backscroll._protocols import Order

__all__ = [
    "CursorPage",
    "TokenPage",
    "Window",
    "clamp_page_size",
    "cursor_pages",
    "offset_pages",
    "single_page",
    "token_pages",
    "windowed",
]

R = TypeVar("R")

#: How many pages in a row may bring nothing new before paging gives up.
MAX_STALLS = 3
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def clamp_page_size(page_size: int | None, *, default: int, maximum: int, minimum: int = 1) -> int:
    """
    The page size to request: the caller's, clamped to the vendor's range.

    Asking for more than the vendor serves would make every page look short, and a short
    page is how offset paging knows it has reached the end.
    """
    if page_size is None:
        return default
    return max(minimum, min(positive_int(page_size, "page_size"), maximum))


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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 in a zone far from UTC: as far as UTC goes
        return _FIRST if value.year == 1 else _LAST


async def windowed(
    batches: AsyncIterator[Sequence[Message]],
    window: Window,
    order: Order,
    guard: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> AsyncIterator[Message]:
    """
    Flatten batches into messages, keeping those inside *window*.

    Messages arrive in *order* by time, so the first one past the far end of the window
    ends the iteration without fetching further pages. With a window, a message without a
    timestamp cannot be placed in it and is left out. Errors pass through *guard* (the
    provider's redaction).
    """
    try:
        with guard():
            if window.unbounded:
                # The usual read: nothing to place, so no check per message.
                async for batch in batches:
                    for message in batch:
                        yield message
                return
            async for batch in batches:
                for message in batch:
                    verdict = window.place(message.created_at, order)
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
) -> AsyncGenerator[Sequence[Message], None]:
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
    fingerprint: Callable[[R], object],
    provider: str,
    start: int = 0,
) -> AsyncGenerator[Sequence[R], None]:
    """
    Page forward through an offset API; yield each position's record exactly once.

    *fetch(offset, limit)* returns the records of one page in position order. Paging ends
    at an empty or short page. A page whose records (compared by *fingerprint*) repeat the
    previous page exactly is resolved with two small probes (two records) at the same
    offset; when both agree on:

    - nothing, or the previous page's last two records: the end (a "last N" answer to an
      offset past the end, as Talkifai documents it);
    - the previous page's first two records: the vendor ignores ``offset``,
      `PaginationError`;

    and otherwise it was a passing repeat (a stale cache), and the page is fetched again.
    Two records, so that a message sent twice across the page boundary is not taken for
    the end; two probes, because a probe can meet a passing repeat too.

    Partial overlaps are deliberately not trimmed: offsets are positions in an append-only
    history, and byte-identical messages (a double-sent "ok") may legitimately straddle a
    page boundary; trimming them would lose a message.

    A repeated page of one message over and over (someone sent "?" many times in one
    second) cannot be told from the end of the conversation by any request: it is refused
    with `PaginationError` (advising a larger page) rather than taken for the end.

    Raises:
        PaginationError: the vendor ignores ``offset``, keeps repeating a page, or two
            pages in a row hold nothing but one identical message.
    """
    offset = start
    recent: deque[object] = deque(maxlen=limit)  # the last positions yielded
    head: list[object] = []  # the first page, to recognise an ignored offset
    stalls = 0
    while True:
        asked = limit
        page = (await fetch(offset, asked))[:asked]  # a vendor may send more than asked
        prints = [fingerprint(record) for record in page]
        if len(page) == asked and _repeats(prints, recent):
            if all(p == prints[0] for p in prints):
                msg = (
                    f"{provider} answered offset={offset} with {limit} identical messages, "
                    "as many as the page holds, just like the page before: more of them and "
                    "the end of the conversation look the same, so paging stops rather than "
                    "risk losing messages. Read it again with a larger page_size."
                )
                raise PaginationError(msg)
            resolved = await _resolve_repeat(
                fetch, offset, limit=limit, fingerprint=fingerprint, recent=recent, head=head
            )
            if resolved is None:
                msg = (
                    f"{provider} answered offset={offset} with the page it gave for an "
                    "earlier offset: it seems to ignore offset=, so paging cannot go on "
                    "without losing messages."
                )
                raise PaginationError(msg)
            page, prints = resolved
            asked = min(2, limit)
            if page is _UNDECIDED:
                stalls += 1
                _check_stalls(stalls, provider, f"offset={offset}")
                continue
        stalls = 0
        if not page:
            return
        yield page
        if not head:
            head = prints[:2]
        recent.extend(prints)
        offset += len(page)
        if len(page) < asked:
            return


_UNDECIDED: Final[Sequence[object]] = ()


def _repeats(prints: list[object], recent: deque[object]) -> bool:
    """
    Whether a full page is nothing but the positions just yielded, again.

    Only full pages are suspected: a stale page and a "last N" answer are full, and a
    short final page may well hold a message sent twice.
    """
    if len(prints) > len(recent):
        return False
    return prints == list(recent)[len(recent) - len(prints) :]


async def _resolve_repeat(
    fetch: Callable[[int, int], Awaitable[Sequence[R]]],
    offset: int,
    *,
    limit: int,
    fingerprint: Callable[[R], object],
    recent: deque[object],
    head: list[object],
) -> tuple[Sequence[R], list[object]] | None:
    """
    Tell apart what a page of records already yielded means, with two small probes.

    Returns the records to go on with: none (the end), a few new records (the real start
    of the page), or `_UNDECIDED` (a passing repeat met a probe too: ask again). ``None``
    means the vendor ignores ``offset``.
    """
    size = min(2, limit)
    answers: list[Sequence[R]] = [(), ()]

    async def probe(slot: int) -> None:
        answers[slot] = (await fetch(offset, size))[:size]

    # Both at once: one round trip at the end of every conversation, not two. (A plain
    # coroutine, not the generator: nothing is yielded inside this task group.)
    async with anyio.create_task_group() as group:
        group.start_soon(probe, 0)
        group.start_soon(probe, 1)
    first, second = answers
    prints = [fingerprint(record) for record in first]
    if prints != [fingerprint(record) for record in second]:
        return _UNDECIDED, []  # type: ignore[return-value]
    if not first or (len(first) == size and _repeats(prints, recent)):
        return [], []  # nothing at this offset, or a "last N" answer: the end
    if prints == head[:size] and offset > 0:
        return None
    return first, prints


def _check_stalls(stalls: int, provider: str, where: str) -> None:
    if stalls >= MAX_STALLS:
        msg = (
            f"{provider} answered {stalls} requests in a row at {where} without any new "
            "message (a page it gave before, or messages outside the cursor): it seems "
            "stuck or to ignore the cursor. Giving up rather than looping or losing "
            "messages; try again later."
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
    newest_first: bool = True,
) -> AsyncGenerator[Sequence[Message], None]:
    """
    Page through a timestamp-cursor API; yield each message exactly once, in *order*.

    *fetch(cursor, limit)* asks for the messages strictly after *cursor* (``order="asc"``,
    oldest first) or strictly before it (``"desc"``, newest first; ``None`` is the vendor's
    default, the newest page). The cursor is one second short of the last timestamp
    yielded (timestamps have one-second resolution), so siblings that share it are fetched
    again and told apart by id. The dedupe state is the set of ids at that last timestamp:
    as large as the biggest burst, not the conversation.

    A full page without anything new means a burst larger than the page: the page size
    doubles up to *max_limit*. A page on the wrong side of its cursor, or one with nothing
    new that still says ``has_more``, is asked again (a stale cache); a short answer that
    stays the same is the end, whatever ``has_more`` says. Within one second, messages
    keep the vendor's order, read in the direction the vendor lists its pages
    (*newest_first* until a page shows it).

    Raises:
        PaginationError: the vendor answered with messages on the wrong side of the cursor
            (it ignores the cursor), more messages share one second than the largest page
            holds, or the vendor keeps answering without progress.
    """
    ascending = order == "asc"
    cursor: datetime | None
    if ascending:
        # Without a cursor the vendor starts at the newest page: start at the beginning.
        cursor = _shift(_floor_second(window.since), -_ONE_SECOND) if window.since else _EPOCH
    else:
        cursor = _ceil_second(window.until) if window.until else None
    boundary: datetime | None = None
    at_boundary: set[str] = set()
    stalls = 0
    # Ascending, the first page is held back until the next answer honours its cursor: a
    # vendor that ignores ``after`` answers with its newest page, which must not pass for
    # the oldest (nothing else would show the loss).
    held: Sequence[Message] = ()
    while True:
        page = await fetch(cursor, limit)
        newest_first = _listing_direction(page.messages, default=newest_first)
        ordered = _in_order(page.messages, ascending=ascending, newest_first=newest_first)
        if _wrong_side(ordered, cursor, ascending=ascending):
            # A stale page, or a vendor that ignores the cursor: ask again, then give up.
            stalls += 1
            side = "after" if ascending else "before"
            _check_stalls(stalls, provider, f"{side}={cursor.isoformat() if cursor else None}")
            continue
        if held:
            yield held
            held = ()
        fresh = _fresh(ordered, boundary, at_boundary, ascending=ascending)
        if not fresh:
            step = _nothing_new(page, limit, max_limit, stalls)
            if step is None:
                return
            if step > limit:
                limit = step
                continue
            stalls += 1
            where = f"the cursor {cursor.isoformat()}" if cursor else "the first page"
            _check_stalls(stalls, provider, where)
            continue
        stalls = 0
        if ascending and boundary is None and page.has_more is not False:
            held = fresh
        else:
            yield fresh
        boundary, at_boundary = _advance(fresh, boundary, at_boundary)
        if page.has_more is False:
            return
        cursor = _overlapping_cursor(boundary, ascending=ascending)


def _advance(
    fresh: Sequence[Message], boundary: datetime | None, at_boundary: set[str]
) -> tuple[datetime, set[str]]:
    """The new boundary (the last timestamp yielded) and the ids yielded at it."""
    last = fresh[-1].created_at
    if last is None:  # pragma: no cover - fetch guarantees timestamps
        raise AssertionError
    if last != boundary:
        boundary, at_boundary = last, set()
    at_boundary.update(_ids_at_end(fresh, last))
    return last, at_boundary


def _nothing_new(page: CursorPage, limit: int, max_limit: int, stalls: int) -> int | None:
    """
    What a page with nothing new means: ``None`` the end, a larger limit, or a stall.

    A full page is a burst larger than the page (grow it); nothing new that still says
    ``has_more`` is a stale page or a lying ``has_more`` (ask again, and take a short
    answer that stays the same as the end).
    """
    full = len(page.messages) >= limit
    if page.has_more is False or not page.messages or (page.has_more is None and not full):
        return None
    if full and limit < max_limit:
        return min(max_limit, limit * 2)
    if not full and stalls + 1 >= MAX_STALLS:
        return None
    return limit


def _wrong_side(ordered: Sequence[Message], cursor: datetime | None, *, ascending: bool) -> bool:
    """Whether a page holds messages on the wrong side of its exclusive cursor."""
    if cursor is None or not ordered:
        return False
    first = ordered[0].created_at
    if first is None:  # pragma: no cover - fetch guarantees timestamps
        return False
    return first <= cursor if ascending else first >= cursor


def _fresh(
    ordered: list[Message], boundary: datetime | None, at_boundary: set[str], *, ascending: bool
) -> list[Message]:
    """
    The messages of a page (sorted in iteration order) not yielded before.

    The same as keeping those `_is_new` accepts, but checked one by one only up to the
    first message past the boundary: the page is sorted, so every message after that one
    is past it too, and what was yielded before can only lead the page.
    """
    if boundary is None:
        return ordered
    if ordered and ordered[-1].created_at is None:  # pragma: no cover - fetch guarantees
        return [m for m in ordered if _is_new(m, boundary, at_boundary, ascending=ascending)]
    for index, message in enumerate(ordered):
        at = message.created_at
        if at is not None and (at > boundary if ascending else at < boundary):
            head = ordered[:index]
            kept = [m for m in head if _is_new(m, boundary, at_boundary, ascending=ascending)]
            return kept + ordered[index:]
    return [m for m in ordered if _is_new(m, boundary, at_boundary, ascending=ascending)]


def _ids_at_end(fresh: Sequence[Message], boundary: datetime) -> list[str]:
    """The ids of the messages at *boundary*, the last timestamp of the sorted *fresh*."""
    ids: list[str] = []
    for message in reversed(fresh):
        if message.created_at != boundary:
            break
        ids.append(message.id)
    return ids


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


def _listing_direction(messages: Sequence[Message], *, default: bool) -> bool:
    """Whether the vendor lists this page newest first; *default* if the page cannot tell."""
    if len(messages) > 1:
        first, last = _timestamp(messages[0]), _timestamp(messages[-1])
        if first != last:
            return first > last
    return default


def _in_order(messages: Sequence[Message], *, ascending: bool, newest_first: bool) -> list[Message]:
    """
    Sort a page by time; messages that share a timestamp keep the vendor's order.

    The vendor's order is read in the direction it lists pages (the cursor API's default
    is newest first), so a question stays before its answer within one second.
    """
    ordered = list(messages)
    if newest_first:
        ordered.reverse()
    ordered.sort(key=_timestamp)
    if not ascending:
        ordered.reverse()
    return ordered


def _overlapping_cursor(boundary: datetime, *, ascending: bool) -> datetime:
    """
    The whole second before *boundary*, as an exclusive cursor, so its siblings come again.

    Cursors go out with one-second resolution; for a boundary with a fraction of a second
    the overlap stays under one second (``12:00:01.5`` gives ``after=12:00:01``).
    """
    if ascending:
        return _shift(_ceil_second(boundary), -_ONE_SECOND)
    return _shift(_floor_second(boundary), _ONE_SECOND)


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _ceil_second(value: datetime) -> datetime:
    floor = value.replace(microsecond=0)
    return floor if floor == value else _shift(floor, _ONE_SECOND)


def _shift(value: datetime, delta: timedelta) -> datetime:
    """
    *value* moved by *delta*, held at the first or last instant a datetime can hold.

    A ``since`` of ``datetime.min`` (or a vendor timestamp in year 9999) must not make a
    cursor overflow: a cursor held at the end still excludes nothing that exists.
    """
    try:
        return value + delta
    except OverflowError:
        return _FIRST if delta < timedelta(0) else _LAST


# -- opaque page tokens --------------------------------------------------------------------
# Self-contained: its own page type, checks and messages, beside the other kinds.


@attrs.frozen
class TokenPage(Generic[R]):
    """
    One page of a page-token API: its records and the vendor's ``next_page_token``.

    .. versionadded:: 0.2.0
    """

    records: Sequence[R]
    next_token: str | None


#: Pages in a row that may bring nothing new (empty, or the previous page again) before
#: a token API is taken to be stuck.
MAX_TOKEN_STALLS: Final = 3


async def token_pages(
    fetch: Callable[[str | None, int], Awaitable[TokenPage[R]]],
    *,
    limit: int,
    fingerprint: Callable[[R], object],
    provider: str,
) -> AsyncGenerator[Sequence[R], None]:
    """
    Page through an opaque page-token API; yield each record exactly once, in its order.

    *fetch(token, limit)* asks for the page after *token* (``None``: the first page) and
    returns its records with the vendor's next token; no token ends the paging. Tokens
    are opaque: nothing is read from them, only compared.

    - A token seen before (the vendor sends paging back in a circle) raises
      `PaginationError` before it is followed, so nothing is yielded twice. The tokens
      seen are kept (one per page, not per message).
    - Records that repeat the previous page (compared by *fingerprint*, which must tell
      records apart, as an id does) are dropped: a vendor whose pages overlap yields each
      record once. A page with nothing else (a stale cache, whatever token it carries)
      is asked for again with the same token.
    - Empty pages that still carry a token, or repeats, are allowed
      `MAX_TOKEN_STALLS` times in a row; then the vendor is stuck: `PaginationError`
      rather than a loop that never ends.

    Raises:
        PaginationError: a token repeats, or pages keep coming without anything new.
    """
    token: str | None = None
    followed: set[str] = set()
    previous: set[object] = set()
    stalls = 0
    while True:
        page = await fetch(token, limit)
        fresh = [record for record in page.records if fingerprint(record) not in previous]
        if page.records and not fresh:
            # The previous answer again (a stale cache): its token too, maybe. Ask again.
            stalls = _token_stall(stalls, provider, token, "the page before it again")
            continue
        if fresh:
            stalls = 0
            yield fresh
            previous = {fingerprint(record) for record in page.records}
        following = page.next_token
        if following is None or following == "":
            return
        if not fresh:
            stalls = _token_stall(stalls, provider, token, "an empty page and another token")
        if following in followed or following == token:
            msg = (
                f"{provider} sent a page token it had sent before: its paging goes round in "
                "a circle, so it stops here rather than yield messages twice. Try again "
                "later; if it persists, the vendor's paging is broken."
            )
            raise PaginationError(msg)
        if token is not None:
            followed.add(token)
        token = following


def _token_stall(stalls: int, provider: str, token: str | None, what: str) -> int:
    stalls += 1
    if stalls >= MAX_TOKEN_STALLS:
        where = "the first page" if token is None else "a page token"
        msg = (
            f"{provider} answered {stalls} requests in a row at {where} with {what}, "
            "nothing new: it seems stuck. Giving up rather than looping or losing "
            "messages; try again later."
        )
        raise PaginationError(msg)
    return stalls
