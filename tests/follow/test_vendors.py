"""What each vendor's poll catches: Talkifai's checked offsets, quirks, back-dated inserts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import FollowState
from backscroll.errors import PaginationError, ResponseFormatError
from backscroll.sandbox import CursorQuirks, TalkifaiQuirks

from .scripting import CONVERSATIONS, FakeClock, collect, drain, opener, stop

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from datetime import datetime

    from backscroll import Message
    from backscroll.sandbox import Sandbox

pytestmark = pytest.mark.anyio

TALKIFAI = "chat_abc123"  # 42 generated messages


def _record(sandbox: Sandbox, index: int, content: str) -> dict[str, object]:
    return dict(sandbox.data.talkifai[TALKIFAI][index], content=content, token_count=None)


async def test_talkifai_polls_from_the_offset_reached(sandbox: Sandbox, clock: FakeClock) -> None:
    """Once caught up, a Talkifai poll with nothing new is one request at the saved offset."""
    clock.steps = [lambda: None, lambda: None]
    async with sandbox.talkifai() as provider:
        follower = backscroll.follow(provider, TALKIFAI, sleep=clock.sleep)
        clock.steps.append(stop)
        await drain(follower)
    polls = [r for r in sandbox.requests if r.route == "messages"][-2:]
    assert [("offset=0" in r.query) for r in polls] == [False, False]
    assert len([r for r in sandbox.requests if "offset=0" in r.query]) == 1  # the first read


async def test_talkifai_catches_an_insert_that_shifts_the_offsets(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """A message inserted before the offset reached, within lookback, is found and yielded."""
    records = sandbox.data.talkifai[TALKIFAI]
    late = _record(sandbox, -2, "inserted late")
    clock.steps = [lambda: records.insert(len(records) - 1, late)]
    async with sandbox.talkifai() as provider:
        follower = backscroll.follow(
            provider, TALKIFAI, lookback=timedelta(hours=1), sleep=clock.sleep
        )
        async with follower:
            got = await collect(follower, 1)
            clock.steps = [lambda: sandbox.grow(TALKIFAI, 2)]
            got += await collect(follower, 2)
    assert [m.content for m in got] == ["inserted late", *(r["content"] for r in records[-2:])]


async def test_talkifai_refuses_a_shift_older_than_the_lookback(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """An insert before the horizon is a PaginationError, again after a restart, never a gap."""
    records = sandbox.data.talkifai[TALKIFAI]
    clock.steps = [lambda: records.insert(0, _record(sandbox, 0, "ancient"))]
    async with sandbox.talkifai() as provider:
        follower = backscroll.follow(
            provider, TALKIFAI, lookback=timedelta(seconds=1), sleep=clock.sleep
        )
        async with follower:
            with pytest.raises(PaginationError, match="inserted earlier"):
                await anext(follower)
            saved = json.dumps(backscroll.to_dict(follower.state))  # type: ignore[arg-type]
        state = backscroll.from_dict(FollowState, json.loads(saved))
        async with backscroll.follow(provider, TALKIFAI, state=state, sleep=clock.sleep) as again:
            with pytest.raises(PaginationError, match="inserted earlier"):
                await anext(again)


async def test_talkifai_yields_an_appended_message_with_an_old_timestamp(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """A record appended past the offset reached is new, however old its timestamp."""
    records = sandbox.data.talkifai[TALKIFAI]
    clock.steps = [lambda: records.append(_record(sandbox, 0, "late, with an old time"))]
    async with sandbox.talkifai() as provider:
        follower = backscroll.follow(
            provider, TALKIFAI, lookback=timedelta(seconds=1), sleep=clock.sleep
        )
        async with follower:
            got = await collect(follower, 1)
    assert [m.content for m in got] == ["late, with an old time"]


@pytest.mark.parametrize(
    ("vendor", "quirks"),
    [
        pytest.param("talkifai", TalkifaiQuirks(repeat_page_every=2), id="talkifai-stale"),
        pytest.param("talkifai", TalkifaiQuirks(past_end="empty"), id="talkifai-empty-end"),
        pytest.param("talkifai", TalkifaiQuirks(max_limit=50), id="talkifai-capped"),
        pytest.param("cursor", CursorQuirks(page_order="asc"), id="cursor-asc-pages"),
        pytest.param("cursor", CursorQuirks(repeat_page_every=2), id="cursor-stale"),
        pytest.param("cursor", CursorQuirks(max_limit=20), id="cursor-capped"),
    ],
)
async def test_follow_is_exact_under_paging_quirks(
    sandbox: Sandbox, clock: FakeClock, vendor: str, quirks: object
) -> None:
    """Stale pages, capped limits and page orders change nothing: no repeat, no gap."""
    cid = CONVERSATIONS[vendor]
    async with opener(sandbox, vendor) as provider:
        before = [m async for m in provider.messages(cid)]
        setattr(sandbox, f"{vendor}_quirks", quirks)
        clock.steps = [
            lambda: sandbox.grow(cid, 30),
            lambda: None,
            lambda: sandbox.grow(cid, 120),
            lambda: None,
            stop,
        ]
        got = await drain(backscroll.follow(provider, cid, sleep=clock.sleep))
        setattr(sandbox, f"{vendor}_quirks", type(quirks)())  # the truth, read plainly
        truth = [m async for m in provider.messages(cid)]
    assert [m.id for m in got] == [m.id for m in truth[len(before) :]]


class _Plugin:
    """A provider of a plugin vendor: only messages(), no follow protocol."""

    name = "plugin"

    def __init__(self, history: list[Message]) -> None:
        self.history = history

    async def messages(
        self,
        conversation_id: str,
        *,
        order: str = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        del until, page_size
        picked = [
            m
            for m in self.history
            if m.conversation_id == conversation_id
            and (since is None or m.created_at is None or m.created_at >= since)
        ]
        for message in picked if order == "asc" else picked[::-1]:
            yield message


async def test_any_provider_is_followed_by_rereading(sandbox: Sandbox, clock: FakeClock) -> None:
    """A provider without the follow protocol is followed through messages() and ids."""
    async with sandbox.cursor() as cursor:
        history = [m async for m in cursor.messages(CONVERSATIONS["cursor"])]
    plugin = _Plugin(history[:-10])
    clock.steps = [lambda: plugin.history.extend(history[-10:-4]), lambda: None]
    clock.steps += [lambda: plugin.history.extend(history[-4:]), stop]
    got = await drain(backscroll.follow(plugin, CONVERSATIONS["cursor"], sleep=clock.sleep))
    assert [m.id for m in got] == [m.id for m in history[-10:]]


async def test_a_message_without_a_timestamp_is_refused(sandbox: Sandbox, clock: FakeClock) -> None:
    """Follow places messages by time: one without a timestamp is a ResponseFormatError."""
    async with sandbox.cursor() as cursor:
        history = [m async for m in cursor.messages(CONVERSATIONS["cursor"])]
    from attrs import evolve  # noqa: PLC0415 - only here

    plugin = _Plugin([evolve(history[0], created_at=None)])
    follower = backscroll.follow(plugin, CONVERSATIONS["cursor"], sleep=clock.sleep)
    async with follower:
        with pytest.raises(ResponseFormatError, match="without a timestamp"):
            await anext(follower)
