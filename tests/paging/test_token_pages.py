"""The page-token pager yields every record once, in order, and always ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backscroll._paging import MAX_TOKEN_STALLS, TokenPage, token_pages
from backscroll.errors import PaginationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

pytestmark = pytest.mark.anyio

Record = tuple[int, str]


class TokenServer:
    """A page-token API with switchable vendor quirks, counting its requests."""

    def __init__(
        self,
        records: list[Record],
        *,
        overlap: int = 0,
        stale_every: int | None = None,
        empty_pages: bool = False,
    ) -> None:
        self.records = records
        self.overlap = overlap
        self.stale_every = stale_every
        self.empty_pages = empty_pages
        self.requests = 0
        self.last: TokenPage[Record] | None = None

    async def fetch(self, token: str | None, limit: int) -> TokenPage[Record]:
        """The page after *token*, as the vendor (and its quirks) would answer."""
        self.requests += 1
        if self.stale_every and self.last is not None and self.requests % self.stale_every == 0:
            return self.last
        position = 0 if token is None else int(token.removeprefix("t").removesuffix("e"))
        if self.empty_pages and token is not None and not token.endswith("e"):
            return TokenPage([], f"{token}e")  # an empty page, then the real one
        start = max(0, position - self.overlap) if position else 0
        page = self.records[start : position + limit]
        end = position + limit
        self.last = TokenPage(page, f"t{end}" if end < len(self.records) else None)
        return self.last


async def drain(pages: AsyncIterator[Sequence[Record]], seen: list[Record]) -> None:
    """Read every page into *seen*, until the pager ends or raises."""
    async for page in pages:
        seen.extend(page)


async def collect(server: TokenServer, limit: int) -> list[Record]:
    pages = token_pages(server.fetch, limit=limit, fingerprint=lambda r: r[0], provider="p")
    return [record async for page in pages for record in page]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 60),
    limit=st.integers(1, 12),
    overlap=st.integers(0, 3),
    stale_every=st.none() | st.integers(2, 5),
    empty_pages=st.booleans(),
)
async def test_every_record_once_in_order(
    size: int, limit: int, overlap: int, stale_every: int | None, empty_pages: bool
) -> None:
    """Overlapping pages, stale repeats and empty pages still give each record once."""
    records = [(n, f"m{n}") for n in range(size)]
    server = TokenServer(
        records,
        overlap=min(overlap, limit - 1),
        stale_every=stale_every,
        empty_pages=empty_pages and stale_every is None,
    )

    assert await collect(server, limit) == records


async def test_a_token_seen_before_is_refused_before_it_is_followed() -> None:
    """A vendor that sends paging back to an earlier token raises, yielding nothing twice."""
    answers = {None: TokenPage([(1, "a")], "x"), "x": TokenPage([(2, "b")], "y")}
    answers["y"] = TokenPage([(3, "c")], "x")
    seen: list[Record] = []

    async def fetch(token: str | None, _limit: int) -> TokenPage[Record]:
        return answers[token]

    pages = token_pages(fetch, limit=1, fingerprint=lambda r: r[0], provider="p")
    with pytest.raises(PaginationError, match="sent before"):
        await drain(pages, seen)
    assert seen == [(1, "a"), (2, "b"), (3, "c")]


async def test_a_token_that_never_ends_is_bounded() -> None:
    """Empty pages that keep sending new tokens end in PaginationError, not a loop."""
    requests = 0

    async def fetch(_token: str | None, _limit: int) -> TokenPage[Record]:
        nonlocal requests
        requests += 1
        return TokenPage([], f"t{requests}")

    pages = token_pages(fetch, limit=5, fingerprint=lambda r: r[0], provider="p")
    with pytest.raises(PaginationError, match="stuck"):
        await drain(pages, [])
    assert requests == MAX_TOKEN_STALLS


async def test_a_page_that_keeps_repeating_the_previous_one_is_refused() -> None:
    """The previous page over and over, whatever its token, ends in PaginationError."""
    first = TokenPage([(1, "a")], "t1")
    requests = 0

    async def fetch(token: str | None, _limit: int) -> TokenPage[Record]:
        nonlocal requests
        requests += 1
        return first if token is None else TokenPage([(1, "a")], "t2")

    seen: list[Record] = []
    pages = token_pages(fetch, limit=1, fingerprint=lambda r: r[0], provider="p")
    with pytest.raises(PaginationError, match="again"):
        await drain(pages, seen)
    assert seen == [(1, "a")]
    assert requests == 1 + MAX_TOKEN_STALLS
