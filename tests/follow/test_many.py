"""backscroll.follow_many: several conversations in one stream, and nothing left running."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

import backscroll
from backscroll import FollowState
from backscroll.errors import ConfigurationError, NotFoundError

from .scripting import FakeClock, drain, stop

if TYPE_CHECKING:
    from backscroll.sandbox import Sandbox

pytestmark = pytest.mark.anyio

A, B = "con_9s2kd81", "con_new_one"


async def test_follow_many_yields_every_new_message_of_each_conversation(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """Each conversation's new messages arrive once, in order within the conversation."""
    sandbox.grow(B, 3, vendor="cursor")
    steps = [lambda: sandbox.grow(A, 4), lambda: sandbox.grow(B, 5), lambda: None]
    clock.steps = [*steps, *steps]
    async with sandbox.cursor() as provider:
        got = []
        async with backscroll.follow_many(provider, [A, B], sleep=clock.sleep) as following:
            async for message in following:
                got.append(message)
                if len(got) == 18:  # 2 x 4 for A, 2 x 5 for B
                    break
        truth_a = [m async for m in provider.messages(A)][-8:]
        truth_b = [m async for m in provider.messages(B)][-10:]
    assert [m.id for m in got if m.conversation_id == A] == [m.id for m in truth_a]
    assert [m.id for m in got if m.conversation_id == B] == [m.id for m in truth_b]


async def test_follow_many_states_resume_every_conversation(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """The states saved after a message resume each conversation with no repeat, no gap."""
    sandbox.grow(B, 3, vendor="cursor")
    clock.steps = [lambda: (sandbox.grow(A, 3), sandbox.grow(B, 3))]
    async with sandbox.cursor() as provider:
        first = []
        async with backscroll.follow_many(provider, [A, B], sleep=clock.sleep) as following:
            async for message in following:
                first.append(message)
                if len(first) == 4:
                    break
            saved = json.dumps([backscroll.to_dict(s) for s in following.states.values()])
        sandbox.grow(A, 2)
        sandbox.grow(B, 2)
        states = [backscroll.from_dict(FollowState, d) for d in json.loads(saved)]
        clock.steps = [lambda: None, stop]
        rest = await drain(backscroll.follow_many(provider, states=states, sleep=clock.sleep))
        truth = {cid: [m async for m in provider.messages(cid)][-5:] for cid in (A, B)}
    for cid in (A, B):
        mine = [m.id for m in first + rest if m.conversation_id == cid]
        assert mine == [m.id for m in truth[cid]]


async def test_follow_many_leaves_nothing_running_after_the_block(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """Leaving the block stops every poller: no request is sent afterwards."""
    clock.steps = [lambda: sandbox.grow(A, 1)]
    async with sandbox.cursor() as provider:
        async with backscroll.follow_many(provider, [A], sleep=clock.sleep) as following:
            await anext(following)
        sent = len(sandbox.requests)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
    assert len(sandbox.requests) == sent


async def test_follow_many_raises_a_pollers_error(sandbox: Sandbox, clock: FakeClock) -> None:
    """A conversation that cannot be followed ends the whole follow with its error."""
    async with sandbox.talkifai() as provider:
        following = backscroll.follow_many(provider, ["chat_nope"], sleep=clock.sleep)
        with pytest.raises(NotFoundError):
            async with following:
                await anext(following)


async def test_follow_many_refuses_a_conversation_given_twice(sandbox: Sandbox) -> None:
    """One conversation followed twice would yield its messages twice: refused."""
    async with sandbox.cursor() as provider:
        with pytest.raises(ConfigurationError, match="twice"):
            backscroll.follow_many(provider, [A, A])


async def test_follow_is_cancelled_cleanly(sandbox: Sandbox) -> None:
    """A follow waiting for messages ends with its cancelled scope, on both event loops."""
    rests = 0
    with anyio.CancelScope() as scope:

        async def sleep(_: float) -> None:
            nonlocal rests
            rests += 1
            if rests == 3:  # the third wait for news: cancel, from inside the follow
                scope.cancel()
            await anyio.lowlevel.checkpoint()

        async with (
            sandbox.cursor() as provider,
            backscroll.follow(provider, A, interval=0.01, sleep=sleep) as follower,
        ):
            async for _ in follower:
                pass
    assert scope.cancelled_caught
    assert rests == 3
