"""
Every provider yields every message exactly once, in order, whatever the vendor does.

Hypothesis draws the conversation (size, bursts of messages sharing one second), the page
size, the order, a since/until window and a vendor quirk, and reads the conversation
through the real provider over the sandbox, comparing with the sandbox's ground truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backscroll.sandbox import CursorQuirks, Sandbox, TalkifaiQuirks

if TYPE_CHECKING:
    from backscroll import ChatHistoryProvider, Message
    from backscroll._protocols import Order

pytestmark = pytest.mark.anyio

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

sizes = st.integers(0, 260)
burst_rates = st.sampled_from([0.0, 0.3, 0.8, 1.0])
max_bursts = st.integers(1, 12)
page_sizes = st.none() | st.integers(1, 120)
orders = st.sampled_from(["asc", "desc"])
#: Where the window starts and ends, as fractions of the conversation.
windows = st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1))

talkifai_quirks = st.sampled_from(
    [
        TalkifaiQuirks(),
        TalkifaiQuirks(past_end="empty"),
        TalkifaiQuirks(repeat_page_every=2),
        TalkifaiQuirks(repeat_page_every=5),
    ]
)
cursor_quirks = st.sampled_from(
    [
        CursorQuirks(),
        CursorQuirks(page_order="asc"),
        CursorQuirks(stuck_cursor=True),
        CursorQuirks(empty_page_has_more=True),
        CursorQuirks(repeat_page_every=2),
        CursorQuirks(repeat_page_every=3),
    ]
)


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


def last_conversation(records: dict[str, list[dict[str, Any]]]) -> str:
    """The generated conversation (the documents' own examples come first)."""
    return list(records)[-1]


@SETTINGS
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
    """Talkifai: each message once, in order, inside the window, despite the quirk."""
    sandbox = Sandbox(
        convai_sizes=(),
        talkifai_sizes=(size,),
        cursor_sizes=(),
        burst_rate=burst_rate,
        max_burst=max_burst,
        talkifai_quirks=quirks,
    )
    conversation_id = last_conversation(sandbox.data.talkifai)
    truth = [
        (r["content"], datetime.fromisoformat(r["timestamp"]))
        for r in sandbox.data.talkifai[conversation_id]
    ]
    want, since, until = expected(truth, order, window)
    async with sandbox.talkifai() as provider:
        got = await read(provider, conversation_id, order, since, until, page_size)
    assert seen(got) == want


@SETTINGS
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
    """Cursor API: each message once, in order, inside the window, despite the quirk."""
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
        for r in sandbox.data.cursor[conversation_id]
    ]
    want, since, until = expected(truth, order, window)
    async with sandbox.cursor() as provider:
        got = await read(provider, conversation_id, order, since, until, page_size)
    if quirks.page_order == "desc":
        assert seen(got) == want
    else:
        # A vendor listing oldest first, against its documents, is recognised from any page
        # whose timestamps differ; a page whose messages all share one second cannot show
        # it, so there only the order between seconds is certain.
        assert sorted(seen(got)) == sorted(want)
        assert [at for _, at in seen(got)] == [at for _, at in want]


@SETTINGS
@given(size=st.integers(0, 40), order=orders, window=windows)
async def test_convai_exactly_once(
    size: int, order: Order, window: tuple[float, float] | None
) -> None:
    """Convai: each speaker entry once, in order, inside the window."""
    sandbox = Sandbox(convai_sizes=(size,), talkifai_sizes=(), cursor_sizes=())
    session_id, interactions = list(sandbox.data.convai_interactions.items())[-1]
    truth = [
        (entry["message"], datetime.fromisoformat(i["timestamp"] + "+00:00"))
        for i in interactions
        for entry in i["interaction"]
    ]
    want, since, until = expected(truth, order, window)
    async with sandbox.convai() as provider:
        got = [
            m async for m in provider.messages(session_id, order=order, since=since, until=until)
        ]
    assert seen(got) == want


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
