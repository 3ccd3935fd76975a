"""
The one paging engine every provider shares.

Three kinds of vendor paging, each written once here; a vendor module supplies only a
``fetch`` function that sends one request and parses one page:

- `offset_pages` and `offset_pages_backward`: ``offset``/``limit`` pages (Talkifai). Each
  request after the first starts one record early, at the last record read, and that
  record must come back first: an ignored offset (in any form), a stale page, or a shift
  from messages deleted or inserted while reading shows up as a mismatch instead of as
  a silent gap, and paging never asks past the end, so whatever a vendor answers there
  does not matter. The real page size is learnt (a short page is the end only once the
  vendor has shown it serves more).
- `cursor_pages`: timestamp cursors, ``after``/``before`` (the cursor API). The cursor is
  taken from the data, one step of the vendor's own timestamp precision (learnt from the
  data) short of the last timestamp read, so that messages sharing it are fetched again
  rather than dropped, and the repeats are removed by id; inclusive and exclusive cursors
  both read exactly. Which side of the cursor a page is taken from (the nearest or the
  farthest messages) is checked on the first page with a one-message probe, and every
  later page must reach back to what was read. The vendor's own ``next_cursor`` is not
  trusted, nor its ``has_more`` where the next page can check it.
- `single_page`: one response that holds everything, as messages; `single_response`: the
  same built lazily from the decoded records, one group of equal times at a time (Convai
  details), so that a session is not held twice.
- `token_pages`: opaque page tokens (``next_page_token``/``page_token``), the most common
  style: tokens are compared, never read; a token seen before, a page that only repeats
  the previous one and empty pages that keep promising more are each checked.

`windowed` then applies ``since``/``until`` and stops early once the iteration has passed
the window. Dedupe state is bounded: the last record read (offset paging) or the ids at
the last timestamp (cursor paging), never every id ever seen. Every loop is bounded by
*max_pages* (`MAX_PAGES` by default) as well as by its progress checks.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Sequence,
)
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Generic, TypeVar

import attrs

from backscroll._closing import aclose
from backscroll._models import Message
from backscroll._validate import positive_int
from backscroll.errors import BadRequestError, ConfigurationError, PaginationError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from backscroll._protocols import Order

__all__ = [
    "MAX_PAGES",
    "MAX_STALLS",
    "CursorPage",
    "Placement",
    "TokenPage",
    "Window",
    "clamp_page_size",
    "cursor_pages",
    "micros",
    "offset_pages",
    "offset_pages_backward",
    "single_page",
    "single_response",
    "token_pages",
    "windowed",
]

R = TypeVar("R")

#: How many answers in a row may bring nothing new before paging gives up.
MAX_STALLS: Final = 3
#: The most requests one conversation may take, by default: a vendor that keeps answering
#: with new messages forever (or a history of more than ten million messages) ends in
#: `PaginationError` instead of an endless read. Providers take it as ``max_pages``.
MAX_PAGES: Final = 100_000
#: About how many messages `single_response` builds before it hands them on.
_SINGLE_RESPONSE_BATCH: Final = 128
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


class Placement(enum.Enum):
    """Where a timestamp falls against a `Window`, in iteration order."""

    #: Before the window: leave the message out and read on.
    SKIP = "skip"
    #: Inside the window: yield the message.
    KEEP = "keep"
    #: Past the window: nothing later can be inside it, stop reading.
    STOP = "stop"


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

    def place(self, at: datetime | None, order: Order) -> Placement:
        """Where a timestamp falls, in iteration *order* (no timestamp: skip it)."""
        if at is None:
            return Placement.SKIP
        early = self.since is not None and at < self.since
        late = self.until is not None and at >= self.until
        # Reading oldest first, a late message means every later one is late too.
        past, not_yet = (late, early) if order == "asc" else (early, late)
        if past:
            return Placement.STOP
        return Placement.SKIP if not_yet else Placement.KEEP


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
                    placement = window.place(message.created_at, order)
                    if placement is Placement.KEEP:
                        yield message
                    elif placement is Placement.STOP:
                        return
    finally:
        await aclose(batches)


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


def micros(at: datetime) -> int:
    """An aware time as whole microseconds since the epoch: exact, and 8 bytes in an array."""
    return (at - _EPOCH) // _ONE_US


async def single_response(
    fetch: Callable[[], Awaitable[tuple[Sequence[R], Sequence[int]]]],
    read: Callable[[Sequence[R], datetime], list[Message]],
    order: Order,
) -> AsyncGenerator[Sequence[Message], None]:
    """
    One response that holds the whole conversation, its messages built lazily in *order*.

    *fetch* answers the response's records, checked, and the time of each as `micros`
    (an ``array("q")`` holds them in 8 bytes each, where datetimes would take 56). They
    are sorted by time, stably, so records that share a timestamp keep the vendor's order
    (a user's line before the character's answer). *read* builds the messages of one group
    of records that share a time, in that order, only when iteration reaches it, given the
    group's time as an aware UTC datetime: memory holds the decoded response and one batch
    of messages, never the conversation twice. Newest first reads the groups from the
    newest and reverses each.
    """
    records, times = await fetch()
    ranked: Sequence[int] = range(len(records))
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        ranked = sorted(ranked, key=times.__getitem__)
    # Groups are gathered into batches of about a page: one step of the iteration per
    # group would cost more than building its messages.
    batch: list[Message] = []
    for start, end in _groups(ranked, times, ascending=order == "asc"):
        at = _EPOCH + _ONE_US * times[ranked[start]]  # twice as fast as timedelta(...)
        messages = read([records[i] for i in ranked[start:end]], at)
        if order == "desc":
            messages.reverse()
        batch += messages
        if len(batch) >= _SINGLE_RESPONSE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _groups(
    ranked: Sequence[int], times: Sequence[int], *, ascending: bool
) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` runs of *ranked* whose times are equal, oldest or newest first."""
    size = len(ranked)
    if ascending:
        start = 0
        while start < size:
            at, end = times[ranked[start]], start + 1
            while end < size and times[ranked[end]] == at:
                end += 1
            yield start, end
            start = end
    else:
        end = size
        while end > 0:
            at, start = times[ranked[end - 1]], end - 1
            while start > 0 and times[ranked[start - 1]] == at:
                start -= 1
            yield start, end
            end = start


def _timestamp(message: Message) -> datetime:
    return message.created_at or _EPOCH


# -- offset pages --------------------------------------------------------------------------


@attrs.define
class _OffsetReader(Generic[R]):
    """
    One forward read of an offset API, learning the vendor's real page size as it goes.

    Every request after the first starts at the last record read (offset ``n - 1`` after
    ``n`` records) and must answer it first. What that one record of overlap buys:

    - an ignored offset, in any form (the first page, the documented "last N" page, a page
      from a cache keyed on the wrong offset), does not start with it: asked again, then
      `PaginationError`;
    - messages deleted or inserted before the offset while reading shift what it holds:
      the same;
    - paging never asks past the end (offset ``n - 1`` always holds a record), so the
      vendor's answer there (the last page, nothing, the first page, an error status) is
      never needed: an answer with nothing after the overlap is the end;
    - the first page is held back until the second answer has shown that its last record
      is really at its position, so the newest page passed off for the oldest is never
      yielded.

    Where the last records read are identical (a double-sent "ok" in one second), the
    overlap is the whole run and the record before it (`overlap`), so that a stale page
    one position early cannot pass. A page shorter than asked is the end only once the
    vendor has shown that it serves more than that; until then one more request tells a
    capped ``limit`` from the end.
    """

    fetch: Callable[[int, int], Awaitable[Sequence[R]]]
    limit: int
    fingerprint: Callable[[R], object]
    provider: str
    max_pages: int
    #: The most records the vendor has been seen to answer (``None``: not known yet).
    served: int | None = None
    requests: int = 0
    #: The records read so far (the position of the next one).
    count: int = 0
    #: A short answer not yet known to be the end (the vendor may cap ``limit`` there).
    short: int | None = None
    #: The overlap was cut short by a suspected cap (a run of identical records).
    weak: bool = False
    #: The identical records in a row at the end of what was read.
    run: int = 0
    #: The first records of the first page, to name an offset that is ignored.
    head: list[object] = attrs.Factory(list)
    #: The offset of the first record to read (a follow resumes where it stopped).
    start: int = 0
    #: The first answer did not hold up: the next first answer must be given twice.
    doubted: bool = False

    async def request(self, offset: int, limit: int) -> Sequence[R]:
        """One request, counted against *max_pages*."""
        self.requests += 1
        if self.requests > self.max_pages:
            msg = (
                f"{self.provider} was asked for {self.max_pages} pages of this conversation "
                f"(max_pages) and still had more ({self.count} messages so far): the vendor "
                "seems to answer without end. Raise max_pages on the provider if the "
                "conversation really is that long."
            )
            raise PaginationError(msg)
        try:
            page = await self.fetch(offset, limit)
        except BadRequestError as exc:
            if not offset or offset >= self.start + self.count:
                raise
            # Paging only asks where a record was read: refused there, the history shrank.
            msg = (
                f"{self.provider} refused offset={offset} ({exc.status_code}), where a message "
                "was read before: messages were deleted while reading. Nothing after it was "
                "yielded; read the conversation again."
            )
            raise PaginationError(msg) from None
        return page[:limit]  # a vendor may send more than asked

    async def first(self) -> Sequence[R]:
        """
        The first answer; once it has been in doubt, only when two answers in a row agree.

        Agreeing twice keeps a stale cache's turn from falling on the first page each time.
        """
        page = await self.request(self.start, self.limit)
        if self.doubted:
            for _ in range(MAX_STALLS):
                again = await self.request(self.start, self.limit)
                if list(map(self.fingerprint, again)) == list(map(self.fingerprint, page)):
                    break
                page = again
        return page

    def restart(self, recent: deque[object]) -> None:
        """Forget what was read, to read the first page again (nothing was yielded yet)."""
        self.count, self.short, self.served, self.doubted = 0, None, None, True
        recent.clear()

    async def pages(self) -> AsyncGenerator[Sequence[R], None]:  # noqa: C901 - a branch per reading
        """The records in position order, in batches, each position once."""
        held: Sequence[R] = ()
        recent: deque[object] = deque(maxlen=self.limit)  # the last fingerprints read
        restarts = 0
        while True:
            try:
                new, answered, prints = await self._next(recent)
            except PaginationError:
                if not held or restarts:
                    raise
                # Nothing is yielded yet and the first answer is the one in doubt (a stale
                # cache's page, or another conversation's last answer): start again, once.
                restarts += 1
                held = ()
                self.restart(recent)
                continue
            if held:
                yield held  # the overlap matched: the first page is where it says it is
                held = ()
            if not new:
                return  # nothing after the last record read: the end
            if self.short is not None:
                self.served = max(self.served or 0, self.short)  # capped, not the end
                self.short = None
            if answered >= self.limit:
                self.served = max(self.served or 0, answered)
            self.count += len(new)
            recent.extend(prints)
            if self.count == len(new):
                held = new  # the first page waits for the second answer
                self.head = prints[:2]
            else:
                yield new
            if answered < self.limit:
                if self.served is not None and answered < self.served:
                    return  # shorter than the vendor serves: the end
                self.short = answered

    def overlap(self, recent: deque[object]) -> int:
        """
        How many records the next request repeats: one, or a run of identical ones and one.

        A record identical to the one before it (a double-sent "ok" in one second) would
        let a stale page that starts one position early pass the check; the whole run and
        the record before it cannot be met elsewhere.
        """
        last, run = recent[-1], 0
        for fingerprint in reversed(recent):
            if fingerprint != last:
                break
            run += 1
        overlap = 1 if run == 1 else min(run + 1, self.count)
        # The page as large as the vendor is known (or, after a short answer, suspected)
        # to serve: an overlap as large would leave no room for a new record. (A vendor
        # serving one message a request is not a reading: a short answer of one is the
        # end of a one-message conversation.)
        size = max(2, self.short or self.served or self.limit)
        self.run = run
        if overlap >= size and self.short:
            # Only suspected: most likely the end. One fewer still shows the end, asked
            # twice; anything more proves the cap, and the run too long (`_next`).
            self.weak = True
            return size - 1
        self.weak = False
        if overlap >= size:
            raise self.too_long(size)
        return overlap

    async def unshifted(self, recent: deque[object]) -> bool:
        """
        Whether the last page's worth of records read is still where it was read.

        After a mismatch, one record of overlap is not enough: a history that shifted (a
        message deleted) can put the expected record where a stale page looks. The last
        records read, as many as a page, must come back at their positions (a stale
        answer is asked again).
        """
        depth = min(len(recent), max(2, self.short or self.served or self.limit))
        expected = list(recent)[-depth:]
        for _ in range(MAX_STALLS):
            page = await self.request(self.start + self.count - depth, depth)
            if [self.fingerprint(record) for record in page[:depth]] == expected:
                return True
        return False

    def too_long(self, size: int) -> PaginationError:
        """The error for a run of identical records too long to check a page against."""
        msg = (
            f"{self.provider} has {self.run} identical messages in a row (same time, "
            f"speaker and text) at offset {self.start + self.count - self.run}, too many to "
            f"check a page of {size} against: read it again with a larger page_size, if "
            "the vendor serves more."
        )
        return PaginationError(msg)

    async def _next(  # noqa: C901, PLR0912 - a branch per reading
        self, recent: deque[object]
    ) -> tuple[Sequence[R], int, list[object]]:
        """
        The records after the last one read, how many the vendor answered, and their prints.

        Every record of an answer is fingerprinted once, here, before anything of it is
        yielded (a record that cannot be fingerprinted fails the read at this answer).
        """
        if not self.count:
            page = await self.request(self.start, self.limit)
            prints = [self.fingerprint(record) for record in page]
            if self.doubted:
                # The first answer was in doubt: take it only once two answers in a row
                # agree, so that a stale cache's turn cannot fall on it every time.
                for _ in range(MAX_STALLS):
                    again = await self.request(self.start, self.limit)
                    again_prints = [self.fingerprint(record) for record in again]
                    if again_prints == prints:
                        break
                    page, prints = again, again_prints
            return page, len(page), prints
        overlap = self.overlap(recent)
        offset = self.start + self.count - overlap
        expected = list(recent)[-overlap:]
        mismatched = False
        for _ in range(MAX_STALLS):
            page = await self.request(offset, self.limit)
            prints = [self.fingerprint(record) for record in page]
            if prints[:overlap] != expected:
                mismatched = True
                continue
            if mismatched and not await self.unshifted(recent):
                continue  # the overlap matched by a shift (a deletion) meeting a stale page
            if self.weak:
                if len(page) > overlap:
                    raise self.too_long(len(page))  # more came: the page is capped
                # The end, seen through a weakened check: only if it answers so twice.
                again = await self.request(offset, self.limit)
                if [self.fingerprint(record) for record in again] != prints:
                    continue
            return page[overlap:], len(page), prints[overlap:]
        if not page:
            first = "nothing"
        elif [self.fingerprint(record) for record in page[:2]] == self.head:
            first = "the first page again"
        else:
            first = "a page that does not start with them"
        msg = (
            f"{self.provider} answered offset={offset} with {first} ({MAX_STALLS} tries), "
            f"though the last {overlap} message(s) read were at that position: the "
            "vendor ignores offset= (answering the first or the last page whatever is "
            "asked), keeps serving stale pages, or messages were deleted or inserted "
            f"before it while reading. Nothing after offset {offset} was yielded; read "
            "the conversation again, and if this persists the vendor cannot be paged by "
            "offset."
        )
        raise PaginationError(msg)


async def offset_pages(
    fetch: Callable[[int, int], Awaitable[Sequence[R]]],
    *,
    limit: int,
    fingerprint: Callable[[R], object],
    provider: str,
    max_pages: int = MAX_PAGES,
    start: int = 0,
) -> AsyncGenerator[Sequence[R], None]:
    """
    Page forward through an offset API; yield each position's record exactly once.

    Reading begins at offset *start* (0: the whole history; a follow resumes later).

    *fetch(offset, limit)* returns the records of one page in position order. Records are
    compared by *fingerprint*; the overlap of one record per request (see `_OffsetReader`)
    checks every page against the one before. Records identical to their neighbour (a
    double-sent "ok") are read by position, one each.

    Raises:
        PaginationError: an answer does not start with the last record read, three times
            in a row (an ignored offset, stale pages, or a history that shifted while it
            was read), or the read took more than *max_pages* requests.
    """
    reader = _OffsetReader(fetch, limit, fingerprint, provider, max_pages, start=start)
    pages = reader.pages()
    try:
        async for page in pages:
            yield page
    finally:
        await pages.aclose()


async def offset_pages_backward(
    fetch: Callable[[int, int], Awaitable[Sequence[R]]],
    *,
    limit: int,
    fingerprint: Callable[[R], object],
    provider: str,
    max_pages: int = MAX_PAGES,
) -> AsyncGenerator[Sequence[R], None]:
    """
    Page through an offset API from the newest record back: newest page first.

    Each page is in position (oldest first) order. An offset API has no total and no
    newest-first order, so a first pass pages forward to count the records, keeping only
    the last page (yielded first) and learning the real page size; the earlier pages are
    then read backwards from the end. That is about twice the requests of
    `offset_pages`; memory stays one page. Each backward request also asks for the first
    record of the page after it, its anchor: an answer that does not end with its anchor
    is stale (asked again) or shows the history changed since it was counted.

    Records added while reading are not included: this is the history as it was counted.

    Raises:
        PaginationError: as `offset_pages`, or a backward page did not end with its
            anchor three times in a row.
    """
    reader = _OffsetReader(fetch, limit, fingerprint, provider, max_pages)
    page: Sequence[R] = ()
    pages = reader.pages()
    try:
        async for batch in pages:
            page = batch
    finally:
        await pages.aclose()
    end = reader.count - len(page)
    step = (reader.served or limit) - 1  # one record of each request is the anchor
    while True:
        if page:
            yield page
        if end <= 0:
            return
        start = max(0, end - step)
        page = await _anchored(reader, start, end - start, anchor=page[0])
        end = start


async def _anchored(reader: _OffsetReader[R], start: int, size: int, *, anchor: R) -> Sequence[R]:
    """The *size* records at *start*, checked against the record that follows them."""
    expected = reader.fingerprint(anchor)
    for _ in range(MAX_STALLS):
        page = await reader.request(start, size + 1)
        if len(page) == size + 1 and reader.fingerprint(page[-1]) == expected:
            return page[:-1]
    msg = (
        f"{reader.provider} did not answer offset={start} with the messages counted there "
        f"({MAX_STALLS} tries): the conversation changed while reading it newest first, "
        "or the vendor keeps serving stale pages. Read it again, or with order='asc'."
    )
    raise PaginationError(msg)


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


class _Side(enum.Enum):
    """Which messages a page holds, seen from its cursor, as a probe shows it."""

    NEAREST = "nearest"
    FARTHEST = "farthest"
    UNCLEAR = "unclear"  # the probe met a stale page: ask again
    LARGER = "larger"  # one timestamp fills the page: ask again with a larger one


_ONE_MS: Final = timedelta(milliseconds=1)
_ONE_US: Final = timedelta(microseconds=1)
#: The cursor that stands for "before everything", where a vendor's default page is not
#: the newest one.
_END_OF_TIME: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


async def cursor_pages(
    fetch: Callable[[datetime | None, int], Awaitable[CursorPage]],
    *,
    order: Order,
    limit: int,
    max_limit: int,
    provider: str,
    window: Window,
    newest_first: bool = True,
    max_pages: int = MAX_PAGES,
) -> AsyncGenerator[Sequence[Message], None]:
    """
    Page through a timestamp-cursor API; yield each message exactly once, in *order*.

    *fetch(cursor, limit)* asks for the messages after *cursor* (``order="asc"``) or
    before it (``"desc"``; ``None`` is the vendor's default page). What the engine checks
    and learns, rather than trusts (see `_CursorReader`):

    - the vendor's timestamp precision (seconds, milliseconds, microseconds), from the
      data: the cursor is one step of it short of the last timestamp read, so messages
      sharing that timestamp come again and are told apart by id, with inclusive and
      exclusive cursors alike;
    - which side of the cursor a page is taken from: a first page that may not hold
      everything is checked with a one-message probe at the same cursor, and every later
      page must reach back to the last timestamp read;
    - the default page without a cursor (newest or oldest), by the same probe;
    - the page order (newest or oldest first), from any page whose timestamps differ;
    - ``has_more``: a page that says more is coming is checked by the next one, and a
      full page that says nothing more is too; a page size capped below what is asked is
      learnt.

    Raises:
        PaginationError: the vendor takes the farthest messages from the cursor in the
            order asked (read the other order), ignores the cursor, skipped messages
            between pages, put more messages in one timestamp than the largest page
            holds, keeps answering without progress, or the read took more than
            *max_pages* requests.
    """
    ascending = order == "asc"
    cursor: datetime | None
    if ascending:
        # Without a cursor the vendor starts at its default page: start at the beginning.
        cursor = _shift(_floor_second(window.since), -_ONE_SECOND) if window.since else _EPOCH
    else:
        cursor = _ceil_second(window.until) if window.until else None
    reader = _CursorReader(
        fetch,
        ascending=ascending,
        limit=limit,
        max_limit=max_limit,
        provider=provider,
        max_pages=max_pages,
        newest_first=newest_first,
    )
    pages = reader.pages(cursor)
    try:
        async for page in pages:
            yield page
    finally:
        await pages.aclose()


@attrs.define(kw_only=True)
class _CursorReader:
    """One read of a timestamp-cursor API, and what it has learnt of the vendor so far."""

    fetch: Callable[[datetime | None, int], Awaitable[CursorPage]] = attrs.field(kw_only=False)
    ascending: bool
    limit: int
    max_limit: int
    provider: str
    max_pages: int
    newest_first: bool
    #: The vendor's timestamp precision, learnt from the data: coarse until shown finer.
    unit: timedelta = _ONE_SECOND
    #: A page size the vendor has shown it caps at, below what is asked.
    cap: int | None = None
    #: The length of the last short page that more came after (twice the same: a cap).
    capped: int | None = None
    #: The ids of the last first answer of a single timestamp, awaiting its twin.
    single: tuple[datetime | None, list[str]] | None = None
    requests: int = 0

    async def request(self, cursor: datetime | None, limit: int) -> CursorPage:
        """One request, counted against *max_pages*."""
        self.requests += 1
        if self.requests > self.max_pages:
            msg = (
                f"{self.provider} was asked for {self.max_pages} pages of this conversation "
                "(max_pages) and still had more: the vendor seems to answer without end. "
                "Raise max_pages on the provider if the conversation really is that long."
            )
            raise PaginationError(msg)
        return await self.fetch(cursor, limit)

    def where(self, cursor: datetime | None) -> str:
        """The request, as the error messages name it."""
        if cursor is None:
            return "the first page (no cursor)"
        return f"{'after' if self.ascending else 'before'}={cursor.isoformat()}"

    async def pages(  # noqa: C901, PLR0912, PLR0915 - one loop, a branch per reading
        self, cursor: datetime | None
    ) -> AsyncGenerator[Sequence[Message], None]:
        """The fresh messages of each page, in iteration order."""
        boundary: datetime | None = None  # the last timestamp yielded
        at_boundary: set[str] = set()  # the ids yielded at it
        stalls = 0
        verified = False  # the side the pages are taken from has been checked
        default_checked = False
        short: int | None = None  # a short page that said more is coming
        while True:
            page = await self.request(cursor, self.limit)
            ordered = self.read(page)
            if _wrong_side(ordered, cursor, ascending=self.ascending):
                # A stale page, or a vendor that ignores the cursor: ask again, then give up.
                stalls += 1
                _check_stalls(stalls, self.provider, self.where(cursor))
                continue
            full = self.full(page)
            # It may not hold everything: ``has_more: false`` is believed (the next page could
            # only show it wrong by what was deleted), anything else is checked.
            partial = page.has_more is not False
            if not verified and ordered and partial:
                side = await self.first_page(cursor, ordered, full=full)
                if side is _Side.LARGER:
                    continue
                if side is _Side.UNCLEAR:
                    stalls += 1
                    _check_stalls(stalls, self.provider, self.where(cursor))
                    continue
                if side is _Side.FARTHEST:
                    if cursor is None and not default_checked:
                        # The default page is the oldest one: say "before the end".
                        cursor, default_checked = _END_OF_TIME, True
                        continue
                    raise self.farthest(cursor, ordered)
            verified = verified or bool(ordered)
            if boundary is not None and partial and ordered:
                nearest = _at(ordered[0])
                if nearest > boundary if self.ascending else nearest < boundary:
                    stalls += 1
                    if stalls >= MAX_STALLS:
                        raise self.gap(cursor, ordered, boundary)
                    continue
            fresh = _fresh(ordered, boundary, at_boundary, ascending=self.ascending)
            if not fresh:
                step = self.nothing_new(page, full=full, stalls=stalls)
                if step is None:
                    return
                if step > self.limit:
                    self.limit = step
                    continue
                stalls += 1
                where = f"the cursor {cursor.isoformat()}" if cursor else "the first page"
                _check_stalls(stalls, self.provider, where)
                continue
            stalls = 0
            if short is not None:
                # More came after a short page: capped, if the next short one agrees (a
                # stale answer is short too, but not twice the same).
                if short == self.capped:
                    self.cap = short
                self.capped = short
            short = len(page.messages) if not full and page.has_more else None
            yield fresh
            boundary, at_boundary = _advance(fresh, boundary, at_boundary)
            if page.has_more is False:
                return
            cursor = self.overlapping(boundary)

    def read(self, page: CursorPage) -> list[Message]:
        """The page sorted in iteration order, learning precision and listing order."""
        self.unit = _precision(page.messages, self.unit)
        self.newest_first = _listing_direction(page.messages, default=self.newest_first)
        return _in_order(page.messages, ascending=self.ascending, newest_first=self.newest_first)

    def full(self, page: CursorPage) -> bool:
        """Whether a page holds as many messages as the vendor serves at once."""
        count = len(page.messages)
        return count >= self.limit or (self.cap is not None and count >= self.cap)

    async def first_page(
        self, cursor: datetime | None, ordered: Sequence[Message], *, full: bool
    ) -> _Side:
        """Which side of its cursor a first page that may not hold everything is from."""
        if len({m.created_at for m in ordered}) > 1:
            return await self.probe(cursor, ordered)
        # One timestamp: no probe can show its side. Grow the page until it shows more (a
        # burst as large as the largest page is read no other way); a short page of one
        # timestamp is read as the document has it, once two answers in a row agree (a
        # stale page would otherwise pass for the first).
        if full and self.limit < self.max_limit:
            self.limit = min(self.max_limit, self.limit * 2)
            return _Side.LARGER
        # Agreeing answers must be to the same cursor: a stale answer to the first page
        # must not confirm itself once the read restarts from the end of time.
        seen = (cursor, [m.id for m in ordered])
        if seen == self.single:
            return _Side.NEAREST
        self.single = seen
        return _Side.UNCLEAR

    async def probe(self, cursor: datetime | None, ordered: Sequence[Message]) -> _Side:
        """
        Ask for one message at the same cursor: the nearest or the farthest of the page?

        An answer of more than one message, or of one from inside the page, is a stale
        page: the probe alone is asked again (a vendor that repeats every other answer
        would otherwise meet the repeat on every probe).
        """
        for _ in range(MAX_STALLS):
            answer = await self.request(cursor, 1)
            if len(answer.messages) != 1:
                continue
            at = answer.messages[0].created_at
            if at == ordered[0].created_at:
                return _Side.NEAREST
            if at == ordered[-1].created_at:
                return _Side.FARTHEST
        return _Side.UNCLEAR

    def nothing_new(self, page: CursorPage, *, full: bool, stalls: int) -> int | None:
        """
        What a page with nothing new means: ``None`` the end, a larger limit, or a stall.

        A full page is a burst larger than the page (grow it); nothing new that still says
        ``has_more`` is a stale page or a lying ``has_more`` (ask again, and take a short
        answer that stays the same as the end).
        """
        if page.has_more is False or not page.messages or (page.has_more is None and not full):
            return None
        if full and self.limit < self.max_limit:
            return min(self.max_limit, self.limit * 2)
        if not full and stalls + 1 >= MAX_STALLS:
            return None
        return self.limit

    def overlapping(self, boundary: datetime) -> datetime:
        """
        One step of the vendor's precision before *boundary*, on the side already read.

        Exclusive, it brings the messages at *boundary* again; inclusive, those one step
        earlier too. Both are removed by id and time (`_fresh`).
        """
        floor = _floor(boundary, self.unit)
        return _shift(floor, -self.unit if self.ascending else self.unit)

    def farthest(self, cursor: datetime | None, ordered: Sequence[Message]) -> PaginationError:
        """The error for a vendor that takes the farthest messages from its cursor."""
        near, far = ("oldest", "newest") if self.ascending else ("newest", "oldest")
        other = "desc" if self.ascending else "asc"
        msg = (
            f"{self.provider} answers {self.where(cursor)} with the {far} messages on that "
            f"side, not the {near}: a one-message probe at the same cursor found "
            f"{_at(ordered[-1]).isoformat()}, the far end of the {len(ordered)}-message page "
            f"({_at(ordered[0]).isoformat()} .. {_at(ordered[-1]).isoformat()}). Paging "
            "this way would skip messages, so nothing more is read; read this vendor with "
            f"order={other!r}, and check that it honours "
            f"{'after' if self.ascending else 'before'}=."
        )
        return PaginationError(msg)

    def gap(
        self, cursor: datetime | None, ordered: Sequence[Message], boundary: datetime
    ) -> PaginationError:
        """The error for a page that does not reach back to what was read."""
        msg = (
            f"{self.provider} answered {self.where(cursor)} with {len(ordered)} messages, "
            f"the nearest at {_at(ordered[0]).isoformat()}, none at or before the last one "
            f"read ({boundary.isoformat()}), {MAX_STALLS} times: the messages in between "
            "were skipped. The vendor takes the farthest messages from the cursor, or "
            "messages were deleted while reading; read the conversation again, or in the "
            "other order."
        )
        return PaginationError(msg)


def _at(message: Message) -> datetime:
    at = message.created_at
    if at is None:  # pragma: no cover - fetch guarantees timestamps
        raise AssertionError
    return at


def _precision(messages: Sequence[Message], unit: timedelta) -> timedelta:
    """The finest step the timestamps show: *unit*, or finer if a message shows it."""
    for message in messages:
        micro = message.created_at.microsecond if message.created_at else 0
        if micro % 1000:
            return _ONE_US
        if micro:
            unit = min(unit, _ONE_MS)
    return unit


def _floor(value: datetime, unit: timedelta) -> datetime:
    if unit >= _ONE_SECOND:
        return value.replace(microsecond=0)
    if unit >= _ONE_MS:
        return value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


def _advance(
    fresh: Sequence[Message], boundary: datetime | None, at_boundary: set[str]
) -> tuple[datetime, set[str]]:
    """The new boundary (the last timestamp yielded) and the ids yielded at it."""
    last = _at(fresh[-1])
    if last != boundary:
        boundary, at_boundary = last, set()
    at_boundary.update(_ids_at_end(fresh, last))
    return last, at_boundary


def _wrong_side(ordered: Sequence[Message], cursor: datetime | None, *, ascending: bool) -> bool:
    """Whether a page holds messages beyond its cursor (at it is fine: inclusive bounds)."""
    if cursor is None or not ordered:
        return False
    first = _at(ordered[0])
    return first < cursor if ascending else first > cursor


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
