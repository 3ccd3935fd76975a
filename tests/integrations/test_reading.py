"""What the adapters share without a framework: reading the newest part, one loop for all."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest

from backscroll import Message, Role
from backscroll.integrations import _facade
from backscroll.integrations._reading import read_history

from .conftest import ListProvider, message

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from datetime import datetime

pytestmark = pytest.mark.anyio

HISTORY = [message(i, Role.USER if i % 2 else Role.ASSISTANT) for i in range(6)]


class Counting(ListProvider):
    """A list provider that counts the messages drawn from it."""

    drawn = 0

    async def messages(
        self,
        conversation_id: str,
        *,
        order: Any = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """The messages, counted as they are drawn."""
        inner = super().messages(
            conversation_id, order=order, since=since, until=until, page_size=page_size
        )
        async with contextlib.aclosing(inner):  # type: ignore[type-var]
            async for item in inner:
                self.drawn += 1
                yield item


async def test_whole_history_is_oldest_first() -> None:
    """Without newest=, every message comes back, oldest first."""
    assert await read_history(ListProvider(HISTORY), "con_1") == HISTORY


async def test_newest_reads_only_as_many_as_it_keeps() -> None:
    """newest=N returns the last N oldest first, drawing only N from the provider."""
    provider = Counting(HISTORY)
    assert await read_history(provider, "con_1", newest=2) == HISTORY[-2:]
    assert provider.drawn == 2


async def test_keep_decides_what_counts() -> None:
    """Messages keep= refuses neither count nor come back."""
    users = await read_history(
        ListProvider(HISTORY), "con_1", newest=2, keep=lambda m: m.role is Role.USER
    )
    assert users == [HISTORY[3], HISTORY[5]]


async def test_newest_zero_reads_nothing() -> None:
    """newest=0 is an empty list, without a request."""
    provider = Counting(HISTORY)
    assert await read_history(provider, "con_1", newest=0) == []
    assert provider.drawn == 0


async def test_the_facade_runs_the_same_call_sync_and_async() -> None:
    """call_async from this loop and call from a thread reach the same facade loop."""

    async def where() -> int:
        import threading  # noqa: PLC0415 - only this probe needs it

        return threading.get_ident()

    from_async = await _facade.call_async(where)
    from_sync = await anyio.to_thread.run_sync(_facade.call, where)
    assert from_async == from_sync
