"""One worker thread per sink: blocking file and database calls stay off the event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SerialWorker"]

T = TypeVar("T")


class SerialWorker:
    """
    Runs a sink's blocking calls in a worker thread, one at a time.

    A capacity limiter of one keeps the calls serial, so a file handle or an SQLite
    connection is never used by two threads at once. A call that has started is waited
    for even when the task is cancelled: a write or commit is never abandoned halfway.
    """

    __slots__ = ("_limiter",)

    def __init__(self) -> None:
        # Created on first use: a limiter belongs to the event loop that runs it.
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, func: Callable[[], T]) -> T:
        """Run *func* in the worker thread and return its result."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(func, limiter=self._limiter)
