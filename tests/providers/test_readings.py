"""
Each reading of the vendor documents, one by one: the exact history or PaginationError.

The property sweep (test_paging_properties.py) draws combinations; these name each reading
and its outcome, as the table in docs/concepts/paging.md lists them, and pin the request
counts that table states.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest

from backscroll import PaginationError
from backscroll.sandbox import CursorQuirks, Sandbox, TalkifaiQuirks

if TYPE_CHECKING:
    from backscroll._protocols import Order

pytestmark = pytest.mark.anyio


def cursor_sandbox(size: int, quirks: CursorQuirks, **options: Any) -> tuple[Sandbox, str]:
    """A sandbox with one generated cursor conversation of *size* messages, and its id."""
    sandbox = Sandbox(
        convai_sizes=(), talkifai_sizes=(), cursor_sizes=(size,), cursor_quirks=quirks, **options
    )
    return sandbox, list(sandbox.data.cursor)[-1]


def talkifai_sandbox(size: int, quirks: TalkifaiQuirks, **options: Any) -> tuple[Sandbox, str]:
    """A sandbox with one generated Talkifai conversation of *size* messages, and its id."""
    sandbox = Sandbox(
        convai_sizes=(), talkifai_sizes=(size,), cursor_sizes=(), talkifai_quirks=quirks, **options
    )
    return sandbox, list(sandbox.data.talkifai)[-1]


async def cursor_ids(sandbox: Sandbox, conversation_id: str, order: Order) -> list[str]:
    """The ids the cursor provider yields for one conversation."""
    async with sandbox.cursor() as provider:
        return [m.id async for m in provider.messages(conversation_id, order=order)]


def truth_ids(sandbox: Sandbox, conversation_id: str, order: Order) -> list[str]:
    """The conversation's ids in *order*, from the ground truth."""
    ids = [r["id"] for r in sandbox.data.cursor[conversation_id]]
    return ids if order == "asc" else ids[::-1]


# -- the cursor API ------------------------------------------------------------------------


async def test_after_answering_the_newest_n_is_refused_not_cut() -> None:
    """after= answering the newest N (ORDER BY DESC LIMIT N): PaginationError, nothing yielded."""
    sandbox, conversation_id = cursor_sandbox(350, CursorQuirks(after_selects="farthest"))
    seen: list[str] = []

    async def read() -> None:
        async with sandbox.cursor() as provider:
            seen.extend([m.id async for m in provider.messages(conversation_id)])

    with pytest.raises(PaginationError, match="newest messages on that side"):
        await read()
    assert seen == []


async def test_after_answering_the_newest_n_reads_newest_first_exactly() -> None:
    """The same vendor read newest first (its before= takes the nearest N) is exact."""
    sandbox, conversation_id = cursor_sandbox(350, CursorQuirks(after_selects="farthest"))
    assert await cursor_ids(sandbox, conversation_id, "desc") == truth_ids(
        sandbox, conversation_id, "desc"
    )


async def test_before_answering_the_oldest_n_is_refused_not_cut() -> None:
    """before= answering the oldest N: newest first is refused at the gap, oldest first exact."""
    sandbox, conversation_id = cursor_sandbox(350, CursorQuirks(before_selects="farthest"))
    # The default first page is the newest (and right); the gap shows on the second.
    with pytest.raises(PaginationError, match="in between were skipped"):
        await cursor_ids(sandbox, conversation_id, "desc")
    assert await cursor_ids(sandbox, conversation_id, "asc") == truth_ids(
        sandbox, conversation_id, "asc"
    )


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_inclusive_cursors_read_exactly(order: Order) -> None:
    """Cursors that include their own timestamp (>=, <=) are read exactly, deduped by id."""
    sandbox, conversation_id = cursor_sandbox(
        350, CursorQuirks(inclusive=True), burst_rate=0.8, max_burst=8
    )
    assert await cursor_ids(sandbox, conversation_id, order) == truth_ids(
        sandbox, conversation_id, order
    )


@pytest.mark.parametrize("precision", ["ms", "us"])
async def test_a_burst_larger_than_a_page_within_one_second_reads_at_finer_precision(
    precision: str,
) -> None:
    """150 messages in one second, at ms or µs precision: the cursor steps inside the second."""
    quirks = CursorQuirks(timestamp_precision=precision)  # type: ignore[arg-type]
    sandbox, conversation_id = cursor_sandbox(0, quirks)
    sandbox.data.extend_cursor(conversation_id, 1)
    stamp = sandbox.data.cursor[conversation_id][0]["created_at"]
    for record in sandbox.data.extend_cursor(conversation_id, 149):
        record["created_at"] = stamp  # one second in the data, spread over it when served
    for order in ("asc", "desc"):
        assert await cursor_ids(sandbox, conversation_id, order) == truth_ids(
            sandbox, conversation_id, order
        )


async def test_cursors_go_out_at_the_vendors_precision() -> None:
    """With millisecond timestamps, the cursor sent has milliseconds too."""
    sandbox, conversation_id = cursor_sandbox(
        250, CursorQuirks(timestamp_precision="ms"), burst_rate=0.0
    )
    await cursor_ids(sandbox, conversation_id, "asc")
    queries = [parse_qs(r.query) for r in sandbox.requests]
    cursors = [q["after"][0] for q in queries if "after" in q]
    assert any(len(c) == len("2026-03-15T13:59:11.123Z") for c in cursors), cursors


async def test_a_default_page_of_the_oldest_messages_is_replaced_by_before() -> None:
    """A default page of the oldest N is detected by the probe; newest first stays exact."""
    sandbox, conversation_id = cursor_sandbox(250, CursorQuirks(default_page="oldest"))
    assert await cursor_ids(sandbox, conversation_id, "desc") == truth_ids(
        sandbox, conversation_id, "desc"
    )
    befores = [parse_qs(r.query).get("before", [""])[0] for r in sandbox.requests]
    assert any(before.startswith("9999-") for before in befores)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_lying_has_more_and_a_capped_page_read_exactly(order: Order) -> None:
    """has_more always true and a silent cap of 30: the next page decides, nothing is lost."""
    quirks = CursorQuirks(empty_page_has_more=True, max_limit=30)
    sandbox, conversation_id = cursor_sandbox(250, quirks, burst_rate=0.8, max_burst=8)
    assert await cursor_ids(sandbox, conversation_id, order) == truth_ids(
        sandbox, conversation_id, order
    )


async def test_max_pages_bounds_a_cursor_read() -> None:
    """provider.max_pages ends a read that would need more requests, in PaginationError."""
    sandbox, conversation_id = cursor_sandbox(350, CursorQuirks())
    async with sandbox.cursor() as provider:
        provider.max_pages = 2
        with pytest.raises(PaginationError, match="max_pages"):
            [m async for m in provider.messages(conversation_id, page_size=50)]


# -- Talkifai ------------------------------------------------------------------------------


async def talkifai_contents(sandbox: Sandbox, conversation_id: str, order: Order) -> list[str]:
    """The texts the Talkifai provider yields for one conversation."""
    async with sandbox.talkifai() as provider:
        return [m.content async for m in provider.messages(conversation_id, order=order)]


@pytest.mark.parametrize("past_end", ["last_page", "empty", "first_page", "error"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_every_past_the_end_answer_reads_exactly(past_end: str, order: Order) -> None:
    """Whatever an offset past the end answers (even an error), paging never asks it."""
    quirks = TalkifaiQuirks(past_end=past_end)  # type: ignore[arg-type]
    sandbox, conversation_id = talkifai_sandbox(200, quirks)
    texts = [r["content"] for r in sandbox.data.talkifai[conversation_id]]
    got = await talkifai_contents(sandbox, conversation_id, order)
    assert got == (texts if order == "asc" else texts[::-1])


@pytest.mark.parametrize("ignore", ["first_page", "last_page"])
async def test_an_ignored_offset_is_refused_with_nothing_yielded(ignore: str) -> None:
    """An offset ignored (first or "last N" page): PaginationError before any message."""
    quirks = TalkifaiQuirks(ignore_offset=ignore)  # type: ignore[arg-type]
    sandbox, conversation_id = talkifai_sandbox(250, quirks)
    seen: list[str] = []

    async def read() -> None:
        async with sandbox.talkifai() as provider:
            seen.extend([m.content async for m in provider.messages(conversation_id)])

    with pytest.raises(PaginationError, match="offset=99"):
        await read()
    assert seen == []


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_a_cap_below_the_documented_maximum_is_learnt(order: Order) -> None:
    """A Talkifai serving 30 where 100 are asked is read whole, in both orders."""
    sandbox, conversation_id = talkifai_sandbox(250, TalkifaiQuirks(max_limit=30))
    texts = [r["content"] for r in sandbox.data.talkifai[conversation_id]]
    got = await talkifai_contents(sandbox, conversation_id, order)
    assert got == (texts if order == "asc" else texts[::-1])


async def test_a_message_deleted_while_reading_is_refused_not_skipped() -> None:
    """The oldest message deleted at the third request shifts offsets: PaginationError."""
    sandbox, conversation_id = talkifai_sandbox(250, TalkifaiQuirks(delete_every=3))
    with pytest.raises(PaginationError, match="deleted or inserted"):
        await talkifai_contents(sandbox, conversation_id, "asc")


# -- what it costs -------------------------------------------------------------------------

SIZES = (0, 1, 5, 50, 99, 100, 101, 250, 1000)
#: Requests per conversation at the default page size, as docs/concepts/paging.md states.
REQUESTS = {
    ("talkifai", "asc"): (1, 2, 2, 2, 2, 2, 2, 3, 11),
    ("talkifai", "desc"): (1, 2, 2, 2, 2, 2, 4, 6, 22),
    ("cursor", "asc"): (1, 1, 1, 1, 1, 1, 3, 4, 12),
    ("cursor", "desc"): (1, 1, 1, 1, 1, 1, 3, 4, 12),
}


@pytest.mark.parametrize(("vendor", "order"), list(REQUESTS))
async def test_requests_per_conversation_are_as_documented(vendor: str, order: Order) -> None:
    """The checks cost what the docs say on a well-behaved vendor, over a spread of sizes."""
    counts = []
    for size in SIZES:
        sizes: dict[str, tuple[int, ...]] = {
            "convai_sizes": (),
            "talkifai_sizes": (),
            "cursor_sizes": (),
        }
        sizes[f"{vendor}_sizes"] = (size,)
        sandbox = Sandbox(seed=0, burst_rate=0.3, max_burst=8, **sizes)  # type: ignore[arg-type]
        conversation_id = list(getattr(sandbox.data, vendor))[-1]
        async with getattr(sandbox, vendor)() as provider:
            read = [m async for m in provider.messages(conversation_id, order=order)]
        assert len(read) == size
        counts.append(len(sandbox.requests))
    assert tuple(counts) == REQUESTS[vendor, order]


async def test_a_stale_first_answer_does_not_confirm_itself_after_the_default_page() -> None:
    """Default page oldest, stale repeats, one per page: newest first is still whole."""
    quirks = CursorQuirks(page_order="asc", repeat_page_every=2, default_page="oldest")
    sandbox, conversation_id = cursor_sandbox(3, quirks, burst_rate=0.0, max_burst=1)
    truth = [r["text"] for r in quirks.served(sandbox.data.cursor[conversation_id])]
    async with sandbox.cursor() as provider:
        got = [
            m.content async for m in provider.messages(conversation_id, order="desc", page_size=1)
        ]
    assert got == truth[::-1]


async def test_an_offset_refused_after_a_deletion_is_a_pagination_error() -> None:
    """A 400 at an offset already read (the history shrank) is PaginationError, not a 400."""
    quirks = TalkifaiQuirks(past_end="error", repeat_page_every=2, delete_every=3)
    sandbox, conversation_id = talkifai_sandbox(2, quirks)
    truth = [r["content"] for r in sandbox.data.talkifai[conversation_id]]
    async with sandbox.talkifai() as provider:
        try:
            got = [m.content async for m in provider.messages(conversation_id)]
        except PaginationError:
            return
    survivors = [r["content"] for r in sandbox.data.talkifai[conversation_id]]
    assert got in (truth, survivors)
