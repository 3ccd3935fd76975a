"""The offset pager yields every position once, in order, and always ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backscroll._paging import offset_pages
from backscroll.errors import PaginationError

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.anyio

Record = tuple[int, str]


class OffsetServer:
    """An offset API with switchable vendor quirks, counting its requests."""

    def __init__(
        self,
        records: Sequence[Record],
        *,
        max_limit: int = 100,
        past_end: str = "last_page",
        repeat_every: int | None = None,
        ignore_offset: bool = False,
    ) -> None:
        self.records = list(records)
        self.max_limit = max_limit
        self.past_end = past_end
        self.repeat_every = repeat_every
        self.ignore_offset = ignore_offset
        self.requests = 0

    async def fetch(self, offset: int, limit: int) -> list[Record]:
        """Answer one page request, as the vendor would."""
        self.requests += 1
        limit = min(limit, self.max_limit)
        if self.repeat_every and offset and self.requests % self.repeat_every == 0:
            # A stale cache: the page before the one asked for, at the same size.
            return self.records[max(0, offset - limit) : offset]
        if self.ignore_offset:
            offset = 0
        if offset >= len(self.records) and self.past_end == "last_page":
            return self.records[-limit:]
        return self.records[offset : offset + limit]


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
    past_end=st.sampled_from(["last_page", "empty"]),
    repeat_every=st.none() | st.integers(2, 7),
    doubles=st.sets(st.integers(1, 349), max_size=40),
)
@settings(max_examples=150, deadline=None)
async def test_every_position_once_in_order(
    size: int, limit: int, past_end: str, repeat_every: int | None, doubles: set[int]
) -> None:
    """Whatever the size, page size, end-of-history answer and repeats, each record comes once.

    The one refusal allowed: a run of identical messages as long as a page, which looks
    the same as the end of the conversation (PaginationError, never a silent cut).
    """
    records = conversation(size, sorted(doubles))
    server = OffsetServer(records, past_end=past_end, repeat_every=repeat_every)
    if longest_run(records) < limit:
        assert await collect(server, limit) == records
        return
    try:
        got = await collect(server, limit)
    except PaginationError as error:
        message = str(error)
    else:
        assert got == records
        return
    assert "larger page_size" in message


@given(size=st.integers(0, 350), limit=st.integers(2, 100))
@settings(max_examples=60, deadline=None)
async def test_requests_are_the_pages_plus_at_most_three(size: int, limit: int) -> None:
    """Paging costs one request a page, plus at most a "last N" answer and two probes."""
    server = OffsetServer(conversation(size))
    await collect(server, limit)
    assert server.requests <= size // limit + 3


async def test_last_n_answer_past_the_end_is_not_yielded_again() -> None:
    """A history of exactly two pages ends after a probe, not with a third copy of page two."""
    records = conversation(200)
    server = OffsetServer(records, past_end="last_page")
    assert await collect(server, 100) == records
    assert server.requests == 5  # two pages, the repeated "last N" answer, two probes


async def test_ignored_offset_raises_pagination_error() -> None:
    """A vendor that answers every offset with the first page is refused, not looped over."""
    server = OffsetServer(conversation(250), ignore_offset=True)
    with pytest.raises(PaginationError, match="ignore offset"):
        await collect(server, 50)


async def test_ignored_offset_on_a_single_page_history_is_harmless() -> None:
    """If everything fits in one page, a vendor that ignores offset still gives it all once."""
    records = conversation(30)
    assert await collect(OffsetServer(records, ignore_offset=True), 50) == records


async def test_a_vendor_that_keeps_flapping_raises_pagination_error() -> None:
    """A vendor stuck on a stale page, its probes disagreeing, ends in PaginationError."""

    class Flapping(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            self.requests += 1
            stale = self.records[max(0, offset - limit) : offset]
            if offset >= 50 and (limit > 2 or self.requests % 2):
                return stale
            return self.records[offset : offset + limit]

    server = Flapping(conversation(300))
    with pytest.raises(PaginationError, match="without any new message"):
        await collect(server, 50)
    assert server.requests < 20


async def test_a_vendor_that_sends_more_than_asked_is_read_by_position() -> None:
    """Records beyond the limit asked for are ignored; the next page picks them up."""

    class Generous(OffsetServer):
        async def fetch(self, offset: int, limit: int) -> list[Record]:
            self.requests += 1
            return self.records[offset : offset + limit + 5]

    records = conversation(123)
    assert await collect(Generous(records), 10) == records


async def test_nothing_is_fetched_before_iteration() -> None:
    """Creating the pager sends no request: paging is lazy."""
    server = OffsetServer(conversation(10))
    offset_pages(server.fetch, limit=5, fingerprint=fingerprint, provider="t")
    assert server.requests == 0


async def test_breaking_early_stops_fetching() -> None:
    """Leaving the loop after the first page fetches no further page."""
    server = OffsetServer(conversation(1000))
    pages = offset_pages(server.fetch, limit=10, fingerprint=fingerprint, provider="t")
    async for _ in pages:
        break
    await pages.aclose()
    assert server.requests == 1


@pytest.mark.parametrize("past_end", ["last_page", "empty"])
async def test_a_run_of_identical_messages_is_refused_not_cut(past_end: str) -> None:
    """Two full pages of one message repeated end in PaginationError, never a silent end."""
    records = [(0, "hello"), *((i, "?") for i in range(1, 9)), (9, "bye")]
    with pytest.raises(PaginationError, match="larger page_size"):
        await collect(OffsetServer(records, past_end=past_end), 2)


async def test_a_run_of_identical_messages_shorter_than_a_page_is_read_whole() -> None:
    """Identical messages that do not fill two pages in a row are read one by one."""
    records = [(0, "hello"), *((i, "?") for i in range(1, 4)), (4, "bye")]
    assert await collect(OffsetServer(records), 2) == records
