"""
Every provider yields every message exactly once, in order, whatever the vendor does.

Hypothesis draws the conversation (size, bursts of messages sharing one second), the page
size, the order, a since/until window and a combination of the vendor's quirks (every
reading of its document the sandbox can play), and reads the conversation through the
real provider over the sandbox, comparing with the ground truth of the fake's store
(`read_against_truth`: one check for every vendor). Each read ends exact, or in
`PaginationError` where the combination makes exactness impossible; which combinations
may raise is spelt out in `cursor_may_raise` and `talkifai_may_raise`.

`test_every_registered_vendor_exactly_once` runs the same check over every vendor
`backscroll.vendors()` lists with a fake, plugins' included, through the vendor-neutral
surfaces only (`Sandbox.provider(name)`, `sandbox.data.store(name)`); the per-vendor
sweeps below it add each vendor's quirks.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backscroll
from backscroll import PaginationError
from backscroll.sandbox import CursorQuirks, Sandbox, TalkifaiQuirks

if TYPE_CHECKING:
    from backscroll import ChatHistoryProvider, Message
    from backscroll._protocols import Order

#: Every registered vendor that ships a sandbox fake: the built-ins and installed plugins.
FAKED = [name for name, vendor in backscroll.vendors().items() if vendor.fake is not None]

pytestmark = pytest.mark.anyio

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: The quirk sweeps draw from many more combinations: more examples.
SWEEP = settings(SETTINGS, max_examples=80)

sizes = st.integers(0, 260)
burst_rates = st.sampled_from([0.0, 0.3, 0.8, 1.0])
max_bursts = st.integers(1, 12)
page_sizes = st.none() | st.integers(1, 120)
orders = st.sampled_from(["asc", "desc"])
#: Where the window starts and ends, as fractions of the conversation.
windows = st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1))

talkifai_quirks = st.builds(
    TalkifaiQuirks,
    max_limit=st.sampled_from([100, 30, 7]),
    past_end=st.sampled_from(["last_page", "empty", "first_page", "error"]),
    repeat_page_every=st.sampled_from([None, None, 2, 5]),
    ignore_offset=st.sampled_from([False, False, False, "first_page", "last_page"]),
    delete_every=st.sampled_from([None, None, None, 3, 7]),
)
cursor_quirks = st.builds(
    CursorQuirks,
    max_limit=st.sampled_from([100, 30]),
    page_order=st.sampled_from(["desc", "asc"]),
    stuck_cursor=st.booleans(),
    empty_page_has_more=st.booleans(),
    repeat_page_every=st.sampled_from([None, None, 2, 3]),
    ignore_cursor=st.sampled_from([False, False, False, True]),
    after_selects=st.sampled_from(["nearest", "farthest"]),
    before_selects=st.sampled_from(["nearest", "farthest"]),
    inclusive=st.booleans(),
    timestamp_precision=st.sampled_from(["s", "ms", "us"]),
    default_page=st.sampled_from(["newest", "oldest"]),
)


def cursor_may_raise(quirks: CursorQuirks, order: Order) -> bool:
    """
    The cursor readings where an exact read is impossible in *order*: PaginationError.

    A vendor that ignores the cursor, or takes the farthest N from it in the direction
    read (``after`` for oldest first, ``before`` for newest first, which is also where a
    default page of the oldest messages sends a newest-first read). Every other
    combination (page order, inclusive bounds, precision, caps, stale pages, lying
    ``has_more``, either default page) must be exact.
    """
    if quirks.ignore_cursor:
        return True
    side = quirks.after_selects if order == "asc" else quirks.before_selects
    return side == "farthest"


def talkifai_may_raise(quirks: TalkifaiQuirks) -> bool:
    """
    The Talkifai readings where an exact read is impossible: PaginationError.

    An ignored offset (in either form: it could be a capped page), and messages deleted
    while reading (offsets shift under the read). The past-the-end answer, the real cap
    and stale pages must all read exactly.
    """
    return bool(quirks.ignore_offset) or quirks.delete_every is not None


def expected(
    truth: list[tuple[str, datetime]], order: str, window: tuple[float, float] | None
) -> tuple[list[tuple[str, datetime]], datetime | None, datetime | None]:
    """The ground truth in *order*, cut to the window the fractions choose."""
    since = until = None
    if window is not None and truth:
        low, high = sorted(window)
        since = truth[int(low * (len(truth) - 1))][1]
        until = truth[int(high * (len(truth) - 1))][1]
        if since == until:
            until = None
        truth = [row for row in truth if row[1] >= since and (until is None or row[1] < until)]
    return (truth if order == "asc" else truth[::-1]), since, until


def seen(messages: list[Message]) -> list[tuple[str, datetime]]:
    """What must match the ground truth: the text and the instant of each message."""
    assert len({m.id for m in messages}) == len(messages), "a message id came twice"
    return [(m.content, m.created_at) for m in messages]  # type: ignore[misc]


async def read(  # noqa: PLR0917 - the arguments of messages(), in order
    provider: ChatHistoryProvider,
    conversation_id: str,
    order: Order,
    since: datetime | None,
    until: datetime | None,
    page_size: int | None,
) -> list[Message]:
    """Everything *provider* yields for one conversation and window."""
    messages = provider.messages(
        conversation_id, order=order, since=since, until=until, page_size=page_size
    )
    return [m async for m in messages]


Row = tuple[str, datetime]


async def read_against_truth(
    sandbox: Sandbox,
    vendor: str,
    conversation_id: str,
    *,
    order: Order,
    window: tuple[float, float] | None,
    page_size: int | None,
    truth: list[Row] | None = None,
) -> tuple[list[Row], list[Row]]:
    """
    What the vendor's provider read, and what it must read: the store's truth, cut and ordered.

    *truth* replaces the store's where a quirk serves other values (finer timestamps).
    """
    if truth is None:
        truth = sandbox.data.store(vendor).truth(conversation_id)
    want, since, until = expected(truth, order, window)
    async with sandbox.provider(vendor) as provider:
        got = seen(await read(provider, conversation_id, order, since, until, page_size))
    return got, want


def last_conversation(records: dict[str, list[dict[str, Any]]]) -> str:
    """The generated conversation (the documents' own examples come first)."""
    return list(records)[-1]


@pytest.mark.parametrize("vendor", FAKED)
@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    burst_rate=burst_rates,
    max_burst=max_bursts,
    page_size=page_sizes,
    order=orders,
    window=windows,
    data=st.data(),
)
async def test_every_registered_vendor_exactly_once(  # noqa: PLR0917 - one argument per drawn dimension
    vendor: str,
    seed: int,
    burst_rate: float,
    max_burst: int,
    page_size: int | None,
    order: Order,
    window: tuple[float, float] | None,
    data: st.DataObject,
) -> None:
    """Every vendor with a fake: each message once, in order, in the window, either order."""
    sandbox = Sandbox(seed=seed, burst_rate=burst_rate, max_burst=max_burst)
    conversation_id = data.draw(st.sampled_from(sandbox.data.store(vendor).conversation_ids()))
    got, want = await read_against_truth(
        sandbox, vendor, conversation_id, order=order, window=window, page_size=page_size
    )
    assert got == want


def test_the_sweep_covers_the_builtins_and_the_plugin() -> None:
    """The registered vendors with fakes include the three built-ins and the test plugin."""
    assert {"convai", "talkifai", "cursor", "tokenchat"} <= set(FAKED)


@SWEEP
@given(
    size=sizes,
    burst_rate=burst_rates,
    max_burst=max_bursts,
    page_size=page_sizes,
    order=orders,
    window=windows,
    quirks=talkifai_quirks,
)
async def test_talkifai_exactly_once(  # noqa: PLR0917 - one argument per drawn dimension
    size: int,
    burst_rate: float,
    max_burst: int,
    page_size: int | None,
    order: Order,
    window: tuple[float, float] | None,
    quirks: TalkifaiQuirks,
) -> None:
    """Talkifai: each message once, in order, in the window, or PaginationError if allowed."""
    sandbox = Sandbox(
        convai_sizes=(),
        talkifai_sizes=(size,),
        cursor_sizes=(),
        burst_rate=burst_rate,
        max_burst=max_burst,
        talkifai_quirks=quirks,
    )
    conversation_id = last_conversation(sandbox.data.talkifai)
    records = sandbox.data.talkifai[conversation_id]
    try:
        got, want = await read_against_truth(
            sandbox, "talkifai", conversation_id, order=order, window=window, page_size=page_size
        )
    except PaginationError:
        assert talkifai_may_raise(quirks), "refused a reading that can be read exactly"
        return
    if quirks.delete_every is None:
        assert got == want
        return
    # Deleted while reading: every survivor, in order; a deleted one only if read first.
    survivors = {(r["content"], datetime.fromisoformat(r["timestamp"])) for r in records}
    assert [row for row in want if row in survivors or row in got] == got
    assert {row for row in want if row in survivors} <= set(got)


@SWEEP
@given(
    size=sizes,
    burst_rate=burst_rates,
    max_burst=max_bursts,
    page_size=page_sizes,
    order=orders,
    window=windows,
    quirks=cursor_quirks,
)
async def test_cursor_exactly_once(  # noqa: PLR0917 - one argument per drawn dimension
    size: int,
    burst_rate: float,
    max_burst: int,
    page_size: int | None,
    order: Order,
    window: tuple[float, float] | None,
    quirks: CursorQuirks,
) -> None:
    """Cursor API: each message once, in order, in the window, or PaginationError if allowed."""
    sandbox = Sandbox(
        convai_sizes=(),
        talkifai_sizes=(),
        cursor_sizes=(size,),
        burst_rate=burst_rate,
        max_burst=max_burst,
        cursor_quirks=quirks,
    )
    conversation_id = last_conversation(sandbox.data.cursor)
    truth = [
        (r["text"], datetime.fromisoformat(r["created_at"]))
        for r in quirks.served(sandbox.data.cursor[conversation_id])
    ]
    try:
        got, want = await read_against_truth(
            sandbox,
            "cursor",
            conversation_id,
            order=order,
            window=window,
            page_size=page_size,
            truth=truth,
        )
    except PaginationError:
        assert cursor_may_raise(quirks, order), "refused a reading that can be read exactly"
        return
    if quirks.page_order == "desc":
        assert got == want
    else:
        # A vendor listing oldest first, against its documents, is recognised from any page
        # whose timestamps differ; a page whose messages all share one timestamp cannot
        # show it, so there only the order between timestamps is certain.
        assert sorted(got) == sorted(want)
        assert [at for _, at in got] == [at for _, at in want]


@SETTINGS
@given(size=st.integers(0, 40), order=orders, window=windows)
async def test_convai_exactly_once(
    size: int, order: Order, window: tuple[float, float] | None
) -> None:
    """Convai: each speaker entry once, in order, inside the window."""
    sandbox = Sandbox(convai_sizes=(size,), talkifai_sizes=(), cursor_sizes=())
    session_id = sandbox.data.store("convai").conversation_ids()[-1]  # the generated one
    got, want = await read_against_truth(
        sandbox, "convai", session_id, order=order, window=window, page_size=None
    )
    assert got == want


@SETTINGS
@given(size=st.integers(1, 150), page_size=st.integers(2, 40))
async def test_talkifai_ids_are_the_same_in_both_orders(size: int, page_size: int) -> None:
    """Derived Talkifai ids do not depend on the order or page size they were read in."""
    sandbox = Sandbox(
        convai_sizes=(), talkifai_sizes=(size,), cursor_sizes=(), burst_rate=1.0, max_burst=6
    )
    conversation_id = last_conversation(sandbox.data.talkifai)
    async with sandbox.talkifai() as provider:
        forward = [m.id async for m in provider.messages(conversation_id)]
        backward = [
            m.id
            async for m in provider.messages(conversation_id, order="desc", page_size=page_size)
        ]
    assert backward[::-1] == forward
