"""backscroll.follow against the sandbox: new messages exactly once, across restarts."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import FollowState
from backscroll.errors import ConfigurationError, ServerError
from backscroll.sandbox import Faults

from .scripting import CONVERSATIONS, FakeClock, collect, drain, opener, stop

if TYPE_CHECKING:
    from backscroll import Message
    from backscroll.sandbox import Sandbox

pytestmark = pytest.mark.anyio


async def _history(sandbox: Sandbox, vendor: str) -> list[Message]:
    async with opener(sandbox, vendor) as provider:
        return [m async for m in provider.messages(CONVERSATIONS[vendor])]


async def test_follow_yields_each_new_message_once_in_order(
    sandbox: Sandbox, vendor: str, clock: FakeClock
) -> None:
    """From now: only what is added later, each message once, oldest first."""
    cid = CONVERSATIONS[vendor]
    before = await _history(sandbox, vendor)
    clock.steps = [
        lambda: sandbox.grow(cid, 3),
        lambda: None,
        lambda: sandbox.grow(cid, 4),
    ]
    grown: list[Message] = []
    async with opener(sandbox, vendor) as provider:
        follower = backscroll.follow(provider, cid, sleep=clock.sleep)
        async with follower:
            after_first = None
            while clock.steps or len(grown) < 1:
                grown.append(await anext(follower))
                if after_first is None:
                    after_first = len(clock.waits)
            truth = await _history(sandbox, vendor)
            expected = truth[len(before) :]
            grown += await collect(follower, len(expected) - len(grown))
    assert [m.id for m in grown] == [m.id for m in expected]


async def test_follow_resumes_from_saved_state_with_no_repeat_and_no_gap(
    sandbox: Sandbox, vendor: str, clock: FakeClock
) -> None:
    """A state saved mid-way, through JSON, resumes exactly after the last message handled."""
    cid = CONVERSATIONS[vendor]
    before = await _history(sandbox, vendor)
    clock.steps = [lambda: sandbox.grow(cid, 6)]
    async with opener(sandbox, vendor) as provider:
        async with backscroll.follow(provider, cid, sleep=clock.sleep) as follower:
            first = await collect(follower, 3)
            saved = json.dumps(backscroll.to_dict(follower.state))  # type: ignore[arg-type]
        sandbox.grow(cid, 5)  # while the service is down
        truth = await _history(sandbox, vendor)
        expected = truth[len(before) :]
        state = backscroll.from_dict(FollowState, json.loads(saved))
        async with backscroll.follow(provider, cid, state=state, sleep=clock.sleep) as follower:
            rest = await collect(follower, len(expected) - 3)
    assert [m.id for m in first + rest] == [m.id for m in expected]


async def test_follow_since_starts_at_that_time(
    sandbox: Sandbox, vendor: str, clock: FakeClock
) -> None:
    """since= yields the messages from that time on (inclusive), then what is added."""
    cid = CONVERSATIONS[vendor]
    before = await _history(sandbox, vendor)
    start = before[-2].created_at
    assert start is not None
    expected_old = [m for m in before if m.created_at and m.created_at >= start]
    clock.steps = [lambda: sandbox.grow(cid, 2)]
    async with (
        opener(sandbox, vendor) as provider,
        backscroll.follow(provider, cid, since=start, sleep=clock.sleep) as follower,
    ):
        old = await collect(follower, len(expected_old))
        truth = await _history(sandbox, vendor)
        new = await collect(follower, len(truth) - len(before))
    assert [m.id for m in old + new] == [m.id for m in expected_old + truth[len(before) :]]


async def test_follow_waits_the_interval_only_after_a_poll_with_nothing_new(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """Polls that bring messages are followed at once; empty ones wait about the interval."""
    cid = CONVERSATIONS["cursor"]
    clock.steps = [lambda: None, lambda: sandbox.grow(cid, 2)]
    async with (
        sandbox.cursor() as provider,
        backscroll.follow(provider, cid, interval=10.0, jitter=0.2, sleep=clock.sleep) as follower,
    ):
        await collect(follower, 2)
        waits_before_empty = list(clock.waits)
        clock.steps = [lambda: sandbox.grow(cid, 1)]
        await collect(follower, 1)
    assert len(waits_before_empty) == 2
    assert all(8.0 <= w <= 10.0 for w in clock.waits)


async def test_follow_backs_off_on_server_errors_and_loses_nothing(
    sandbox: Sandbox, vendor: str, clock: FakeClock
) -> None:
    """Failed polls (5xx, 429, dropped connections) back off, then the follow goes on whole."""
    cid = CONVERSATIONS[vendor]
    before = await _history(sandbox, vendor)
    faults = Faults(rate=0.4, statuses={500: 1, 429: 1}, retry_after=None, drop=0.1, seed=3)

    def grow_under_faults() -> None:
        sandbox.grow(cid, 2)
        sandbox.set_faults(vendor, faults)

    clock.steps = [
        grow_under_faults,
        lambda: sandbox.grow(cid, 2),
        lambda: sandbox.grow(cid, 2),
        lambda: sandbox.grow(cid, 2),
        lambda: sandbox.set_faults(vendor, None),
        lambda: None,
        stop,
    ]
    async with opener(sandbox, vendor, max_retries=0) as provider:
        follower = backscroll.follow(
            provider, cid, interval=1.0, max_failures=50, sleep=clock.sleep
        )
        got = await drain(follower)
    truth = await _history(sandbox, vendor)
    assert [m.id for m in got] == [m.id for m in truth[len(before) :]]
    assert any(r.fault != "ok" for r in sandbox.requests)  # the faults were met


async def test_follow_raises_after_max_failures(sandbox: Sandbox, clock: FakeClock) -> None:
    """A vendor that keeps failing ends the follow with its error after max_failures polls."""
    sandbox.set_faults("cursor", Faults(rate=1.0, statuses={500: 1}, retry_after=None))
    async with sandbox.cursor(max_retries=0) as provider:
        follower = backscroll.follow(
            provider, CONVERSATIONS["cursor"], max_failures=3, sleep=clock.sleep
        )
        async with follower:
            with pytest.raises(ServerError):
                await anext(follower)
    assert len(clock.waits) == 3
    assert clock.waits[0] <= 5.0 < clock.waits[2]  # doubling from the interval (jitter < 25%)


async def test_follow_catches_a_backdated_cursor_message_within_lookback(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """A message inserted later with an older timestamp, within lookback, is still yielded."""
    cid = CONVERSATIONS["cursor"]
    records = sandbox.data.cursor[cid]
    late = dict(records[-1], id="msg_late01", text="late (#late)")

    def insert_late() -> None:
        records.insert(len(records) - 1, late)

    clock.steps = [insert_late]
    async with (
        sandbox.cursor() as provider,
        backscroll.follow(
            provider, cid, lookback=timedelta(minutes=5), sleep=clock.sleep
        ) as follower,
    ):
        got = await collect(follower, 1)
    assert [m.id for m in got] == ["msg_late01"]


def test_follow_state_round_trips_and_pickles() -> None:
    """A FollowState survives to_dict/from_dict through JSON, and pickle, unchanged."""
    at = datetime(2026, 3, 15, 14, 0, 1, tzinfo=UTC)
    state = FollowState(
        conversation_id="c",
        provider="talkifai",
        horizon=at - timedelta(minutes=1),
        watermark=at,
        seen={"a": at},
        position={"offset": 3, "group": [["10:00:00", "user", "hi", None]]},
    )
    data = json.loads(json.dumps(backscroll.to_dict(state)))
    assert backscroll.from_dict(FollowState, data) == state
    assert pickle.loads(pickle.dumps(state)) == state  # noqa: S301 - our own bytes


async def test_follow_refuses_a_state_of_another_conversation(sandbox: Sandbox) -> None:
    """A state saved for one conversation is refused for another, naming both."""
    state = FollowState(conversation_id="con_other", provider="cursor")
    async with sandbox.cursor() as provider:
        with pytest.raises(ConfigurationError, match="con_other"):
            backscroll.follow(provider, "con_9s2kd81", state=state)


async def test_follow_refuses_since_and_state_together(sandbox: Sandbox) -> None:
    """since= and state= are exclusive."""
    state = FollowState(conversation_id="con_9s2kd81", provider="cursor")
    async with sandbox.cursor() as provider:
        with pytest.raises(ConfigurationError, match="not both"):
            backscroll.follow(provider, "con_9s2kd81", state=state, since=datetime.now(UTC))
