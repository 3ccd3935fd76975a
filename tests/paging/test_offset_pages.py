"""The offset pager yields every position once, in order, and always ends, or says why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backscroll._paging import offset_pages, offset_pages_backward
from backscroll.errors import PaginationError, ServerError

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.anyio

Record = tuple[int, str]
PAST_END = ["last_page", "empty", "first_page", "error"]


class OffsetServer:
    """An offset API with switchable vendor readings, counting its requests."""

    def __init__(
        self,
        records: Sequence[Record],
        *,
        max_limit: int = 100,
        past_end: str = "last_page",
        repeat_every: int | None = None,
        ignore_offset: str | None = None,
        delete_every: int | None = None,
    ) -> None:
        self.records = list(records)
        self.max_limit = max_limit
        self.past_end = past_end
        self.repeat_every = repeat_every
        self.ignore_offset = ignore_offset
        self.delete_every = delete_every
        self.requests = 0

    async def fetch(self, offset: int, limit: int) -> list[Record]:
        """Answer one page request, as the vendor would."""
        self.requests += 1
        if self.delete_every and self.requests % self.delete_every == 0 and self.records:
            del self.records[0]
        limit = min(limit, self.max_limit)
        if self.repeat_every and offset and self.requests % self.repeat_every == 0:
            # A stale cache: the page before the one asked for, at the same size.
            return self.records[max(0, offset - limit) : offset]
        if self.ignore_offset == "first_page":
            offset = 0
        elif self.ignore_offset == "last_page":
            return self.records[-limit:]
        if offset and offset >= len(self.records):  # offset=0 is the documented default
            return self.past_the_end(limit)
        return self.records[offset : offset + limit]

    def past_the_end(self, limit: int) -> list[Record]:
        """What an offset at or past the end answers, by the reading chosen."""
        if self.past_end == "last_page":
            return self.records[-limit:]
        if self.past_end == "first_page":
            return self.records[:limit]
        if self.past_end == "error":
            msg = "offset out of range"
            raise ServerError(msg, status_code=500, provider="t")
        return []


def longest_run(records: Sequence[Record]) -> int:
    """The most identical texts in a row."""
    best = run = 0
    for i, (_, text) in enumerate(records):
        run = run + 1 if i and records[i - 1][1] == text else 1
        best = max(best, run)
    return best


def fingerprint(record: Record) -> object:
    return record[1]


async def collect(server: OffsetServer, limit: int) -> list[Record]:
    out: list[Record] = []
    async for batch in offset_pages(
        server.fetch, limit=limit, fingerprint=fingerprint, provider="t"
    ):
        out.extend(batch)
    return out


async def collect_backward(server: OffsetServer, limit: int) -> list[Record]:
    out: list[Record] = []
    async for batch in offset_pages_backward(
        server.fetch, limit=limit, fingerprint=fingerprint, provider="t"
    ):
        out[:0] = batch
    return out


def conversation(size: int, doubles: Sequence[int] = ()) -> list[Record]:
    """*size* distinct records, but those at *doubles* repeat the one before (a double send)."""
    records: list[Record] = []
    for i in range(size):
        text = records[-1][1] if i in doubles and records else f"m{i}"
        records.append((i, text))
    return records


@given(
    size=st.integers(0, 350),
    limit=st.integers(2, 100),
    cap=st.none() | st.integers(2, 100),
    past_end=st.sampled_from(PAST_END),
    repeat_every=st.none() | st.integers(2, 7),
    doubles=st.sets(st.integers(1, 349), max_size=40),
    backward=st.booleans(),
)
@settings(max_examples=200, deadline=None)
async def test_every_position_once_in_order(  # noqa: PLR0917 - one per dimension
    size: int,
    limit: int,
    cap: int | None,
    past_end: str,
    repeat_every: int | None,
    doubles: set[int],
    backward: bool,
) -> None:
    """Whatever the size, page size, cap, past-the-end answer and repeats, each record once.

    The one refusal allowed: identical messages in a row nearly as many as the page the
    vendor serves (the overlap that checks each page would hold no new record).
    """
    records = conversation(size, sorted(doubles))
    server = OffsetServer(
        records, max_limit=cap or 100, past_end=past_end, repeat_every=repeat_every
    )
    read = collect_backward if backward else collect
    if longest_run(records) < min(limit, cap or limit) - 1:
        assert await read(server, limit) == records
        return
    try:
        got = await read(server, limit)
    except PaginationError:
        return  # allowed here: a run too long to check against the page the vendor serves
    assert got == records


@given(
    size=st.integers(0, 350),
    limit=st.integers(3, 100),
    ignore=st.sampled_from(["first_page", "last_page"]),
)
@settings(max_examples=100, deadline=None)
async def test_an_ignored_offset_is_exact_or_refused(size: int, limit: int, ignore: str) -> None:
    """An offset ignored in either form never yields a wrong record: exact, or refused.

    Exact only for a conversation of one record; any longer one could be a capped page.
    """
    records = conversation(size)
    server = OffsetServer(records, ignore_offset=ignore)
    try:
        got = await collect(server, limit)
    except PaginationError as error:
        message = str(error)
    else:
        assert got == records
        return
    assert "offset" in message
    assert size > 1


@given(
    size=st.integers(0, 300),
    limit=st.integers(3, 100),
    delete_every=st.integers(1, 6),
    backward=st.booleans(),
)
@settings(max_examples=100, deadline=None)
async def test_deletions_while_reading_never_skip_a_survivor(
    size: int,
    limit: int,
    delete_every: int,
    backward: bool,
) -> None:
    """Messages deleted while reading: every survivor comes, in order, or PaginationError."""
    records = conversation(size)
    server = OffsetServer(records, delete_every=delete_every)
    read = collect_backward if backward else collect
    try:
        got = await read(server, limit)
    except PaginationError as error:
        message = str(error)
        assert "deleted" in message or "changed" in message
        return
    survivors = server.records
    assert len(set(got)) == len(got)
    assert got == sorted(got)
    assert set(survivors) <= set(got) <= set(records)


@given(size=st.integers(0, 350), limit=st.integers(2, 100))
@settings(max_examples=60, deadline=None)
async def test_requests_are_the_pages_plus_at_most_one(size: int, limit: int) -> None:
    """A well-behaved vendor: one request a page (each repeating one record), plus one."""
    server = OffsetServer(conversation(size))
    await collect(server, limit)
    pages = 1 if size <= limit else 1 + -(-(size - limit) // (limit - 1))
    assert server.requests <= pages + 1


@pytest.mark.parametrize("past_end", PAST_END)
async def test_paging_never_asks_past_the_end(past_end: str) -> None:
    """Whatever an offset past the end answers, it is never asked: exactly two pages' worth."""
    records = conversation(200)
    server = OffsetServer(records, past_end=past_end)
    assert await collect(server, 100) == records
    assert server.requests == 3  # 0..99, 99..198, 198..199


async def test_the_newest_page_is_never_passed_off_as_the_first() -> None:
    """A vendor answering every offset with its "last N" page yields nothing before refusing."""
    server = OffsetServer(conversation(250), ignore_offset="last_page")
    got: list[Record] = []

    async def read() -> None:
        async for batch in offset_pages(
            server.fetch, limit=100, fingerprint=fingerprint, provider="t"
        ):
            got.extend(batch)

    with pytest.raises(PaginationError, match="offset=99"):
        await read()
    assert got == []


async def test_ignored_offset_names_the_first_page() -> None:
    """A vendor answering every offset with the first page is told so."""
    server = OffsetServer(conversation(250), ignore_offset="first_page")
    with pytest.raises(PaginationError, match="the first page again"):
        await collect(server, 50)


async def test_a_capped_limit_is_learnt_not_taken_for_the_end() -> None:
    """A vendor serving 30 where 100 are asked is read whole, not stopped after 30."""
    records = conversation(95)
    server = OffsetServer(records, max_limit=30)
    assert await collect(server, 100) == records


async def test_a_capped_limit_is_learnt_newest_first() -> None:
    """The backward pass asks no more than the vendor was seen to serve."""
    records = conversation(95)
    assert await collect_backward(OffsetServer(records, max_limit=30), 100) == records


async def test_an_earlier_message_deleted_while_reading_is_refused() -> None:
    """Deleting a message already yielded shifts the offsets: PaginationError, never a skip."""

    class Deleting(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            if self.requests == 2:  # the first two pages are out: nothing to start over
                del self.records[3]
            return await super().fetch(offset, limit)

    server = Deleting(conversation(150))
    seen: list[Record] = []

    async def read() -> None:
        async for batch in offset_pages(
            server.fetch, limit=50, fingerprint=fingerprint, provider="t"
        ):
            seen.extend(batch)

    with pytest.raises(PaginationError, match="deleted or inserted"):
        await read()
    assert len(seen) == 99  # the first two pages, each record once, then the refusal


async def test_a_deletion_before_anything_is_yielded_reads_the_survivors_once() -> None:
    """A shift found while the first page is still held: read again from the start, exactly."""

    class Deleting(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            if self.requests == 1:
                del self.records[3]
            return await super().fetch(offset, limit)

    server = Deleting(conversation(150))
    survivors = list(server.records)
    del survivors[3]
    got = await collect(server, 50)
    assert [fingerprint(r) for r in got] == [fingerprint(r) for r in survivors]


async def test_a_vendor_that_keeps_flapping_raises_pagination_error() -> None:
    """A vendor stuck on stale pages ends in PaginationError after three tries."""

    class Flapping(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            self.requests += 1
            if offset >= 40:
                return self.records[max(0, offset - limit) : offset]
            return self.records[offset : offset + limit]

    server = Flapping(conversation(300))
    with pytest.raises(PaginationError, match="3 tries"):
        await collect(server, 50)
    assert server.requests < 10


async def test_a_vendor_that_sends_more_than_asked_is_read_by_position() -> None:
    """Records beyond the limit asked for are ignored; the next page picks them up."""

    class Generous(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            self.requests += 1
            return self.records[offset : offset + limit + 5]

    records = conversation(123)
    assert await collect(Generous(records), 10) == records


async def test_max_pages_bounds_a_vendor_that_never_ends() -> None:
    """A vendor answering a full page of new records forever ends in PaginationError."""

    async def endless(offset: int, limit: int) -> list[Record]:
        return [(i, f"m{i}") for i in range(offset, offset + limit)]

    pages = offset_pages(endless, limit=10, fingerprint=fingerprint, provider="t", max_pages=7)
    with pytest.raises(PaginationError, match="max_pages"):
        async for _ in pages:
            pass


async def test_nothing_is_fetched_before_iteration() -> None:
    """Creating the pager sends no request: paging is lazy."""
    server = OffsetServer(conversation(10))
    offset_pages(server.fetch, limit=5, fingerprint=fingerprint, provider="t")
    assert server.requests == 0


async def test_breaking_early_stops_fetching() -> None:
    """Leaving the loop after the first page fetches no page beyond the one that checks it."""
    server = OffsetServer(conversation(1000))
    pages = offset_pages(server.fetch, limit=10, fingerprint=fingerprint, provider="t")
    async for _ in pages:
        break
    await pages.aclose()
    assert server.requests == 2


@pytest.mark.parametrize("past_end", PAST_END)
async def test_a_run_of_identical_messages_as_long_as_a_page_is_refused(past_end: str) -> None:
    """A run of one message repeated as long as the page ends in PaginationError, never a cut."""
    records = [(0, "hello"), *((i, "?") for i in range(1, 9)), (9, "bye")]
    with pytest.raises(PaginationError, match="larger page_size"):
        await collect(OffsetServer(records, past_end=past_end), 3)


async def test_a_run_of_identical_messages_shorter_than_a_page_is_read_whole() -> None:
    """Identical messages in a run shorter than the page are read one by one."""
    records = [(0, "hello"), *((i, "?") for i in range(1, 4)), (4, "bye")]
    assert await collect(OffsetServer(records, repeat_every=2), 5) == records
