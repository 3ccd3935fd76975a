"""Properties of follow: any growth schedule, any restart points, every message exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backscroll
from backscroll import FollowState, Message, Role

from .scripting import FakeClock, stop
from .test_vendors import _Plugin

if TYPE_CHECKING:
    from backscroll import Follower

START = datetime(2026, 1, 1, tzinfo=UTC)

# Each growth: how many messages, each with a step in seconds from the one before (0: a
# burst sharing one second).
growths = st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=6)


def _messages(steps: list[list[int]]) -> list[list[Message]]:
    at, number, batches = START, 0, []
    for growth in steps:
        batch = []
        for step in growth:
            at += timedelta(seconds=step)
            number += 1
            batch.append(
                Message(
                    id=f"m{number}",
                    conversation_id="c",
                    role=Role.USER,
                    content=f"#{number}",
                    created_at=at,
                    provider="plugin",
                )
            )
        batches.append(batch)
    return batches


# Each event loop gets its own 60 examples (a test id each): about a third of a second apiece,
# so trio costs the suite little.
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=60, deadline=None)
@given(steps=growths, restarts=st.sets(st.integers(1, 30)), lookback=st.integers(0, 5))
def test_follow_yields_every_message_once_across_any_restarts(
    backend: str, steps: list[list[int]], restarts: set[int], lookback: int
) -> None:
    """Growth in bursts, restarts from a JSON-saved state anywhere, on either loop: all, once."""
    batches = _messages(steps)
    everything = [m for batch in batches for m in batch]
    plugin = _Plugin([])
    pending = list(batches)
    got: list[Message] = []

    async def main() -> None:
        saved: object = None
        while len(got) < len(everything):
            # Then one empty poll; a follow still short of the history after it has lost one.
            clock = FakeClock(steps=[*[_grow] * len(pending), lambda: None, stop])
            state = None if saved is None else backscroll.from_dict(FollowState, saved)  # type: ignore[arg-type]
            follower: Follower = backscroll.follow(
                plugin,
                "c",
                since=START if state is None else None,
                state=state,
                lookback=timedelta(seconds=lookback),
                sleep=clock.sleep,
            )
            async with follower:
                async for message in follower:
                    got.append(message)
                    saved = json.loads(json.dumps(backscroll.to_dict(follower.state)))  # type: ignore[arg-type]
                    if len(got) in restarts or len(got) == len(everything):
                        break

    def _grow() -> None:
        if pending:
            plugin.history.extend(pending.pop(0))

    anyio.run(main, backend=backend)
    assert [m.id for m in got] == [m.id for m in everything]
