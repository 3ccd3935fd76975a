"""
One event loop for the providers of the adapters that frameworks call sync and async.

A provider's HTTP connections belong to the event loop that opened them. LangChain calls a
chat history's ``messages`` property from plain threads and ``aget_messages()`` from its
own loop, and a synchronous LangGraph graph calls a store's ``batch`` while an async one
calls ``abatch``: on one provider over real sockets, that ends in asyncio's "bound to a
different event loop". So these adapters run every provider call on one loop, the
blocking facade's (`backscroll.blocking`), whichever loop or thread asks: sync calls wait
for it, async calls wait for it in a worker thread, and the provider only ever sees one
loop.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, TypeVar

import anyio.to_thread

from backscroll import blocking

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["call", "call_async"]

T = TypeVar("T")


def call(function: Callable[[], Awaitable[T]]) -> T:
    """Run *function* on the facade's loop from synchronous code, and return its result."""
    return blocking.run(function)


async def call_async(function: Callable[[], Awaitable[T]]) -> T:
    """Run *function* on the facade's loop from any async code (asyncio or trio)."""
    return await anyio.to_thread.run_sync(functools.partial(blocking.run, function))
