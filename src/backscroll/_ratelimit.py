"""
Pacing: one adaptive token bucket shared by every task that sends through a provider.

``rate_limit=N`` spaces the provider's requests at least ``1/N`` seconds apart, however many
tasks share the provider: a bucket that holds one token and refills at the current rate.
Each request reserves the next free slot at once (no lock: the reservation is a read and a
write with no ``await`` between them, atomic on one event loop) and sleeps until it comes.

Adaptive, as the AWS SDKs' adaptive retry mode is: a 429 halves the current rate (never
below 1/64 of ``rate_limit``) and, when the vendor sent ``Retry-After``, holds every slot
until then, so the other tasks do not storm a vendor that has just said stop. Each success
afterwards gives back 2% of ``rate_limit``: about fifty successes climb from any depth back
to the full rate. Requests whose slots were reserved before the rate dropped cannot lower
it again: one overloaded moment is one decrease, not one per task.

Why not aiolimiter or a similar library: the core depends only on httpx, attrs, cattrs
and anyio, and aiolimiter is asyncio-only (trio is supported here); the adaptive part is
specific to how a vendor answers, and a few lines with an injectable clock are easy to test.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Final

import anyio

from backscroll import testing
from backscroll._fields import describe
from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter", "check_rate"]

logger = logging.getLogger("backscroll")

#: A 429 multiplies the current rate by this.
DECREASE: Final = 0.5
#: Each success adds this share of the ceiling back.
RECOVERY: Final = 0.02
#: The rate never drops below this share of the ceiling.
FLOOR: Final = 1 / 64


def check_rate(value: object) -> float | None:
    """*value* as a positive, finite number of requests per second, or ``None``."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        msg = f"rate_limit must be a positive number of requests per second, got {describe(value)}"
        raise ConfigurationError(msg)
    return float(value)


class RateLimiter:
    """
    An adaptive token bucket: how fast a provider may send, and who is waiting on it.

    A provider makes one from ``rate_limit=N``; pass your own to ``rate_limit=`` to share
    one quota between several providers (every shard in one process, say). The progress
    display, or your own code, reads its counters: `waiting` tasks right now, `waits` and
    `waited` seconds in total, and the current `rate`.

    Args:
        limit: The ceiling, in requests per second.
        provider: The name its log lines give.
        clock: Monotonic seconds (a seam for fake clocks in tests).
        sleep: How to wait (a seam for fake clocks in tests).

    Attributes:
        limit: The ceiling, in requests per second (``rate_limit=``).
        rate: The current rate: the ceiling, or less after a 429.
        waiting: How many tasks are waiting for a slot right now.
        waits: How many requests had to wait, in total.
        waited: The seconds of those waits, added up.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        limit: float,
        *,
        provider: str = "provider",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        checked = check_rate(limit)
        assert checked is not None  # noqa: S101 - limit is typed float
        self.limit = checked
        self.rate = checked
        self.waiting = 0
        self.waits = 0
        self.waited = 0.0
        self._provider = provider
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf  # the earliest time the next slot may start
        self._paused_until = -math.inf
        self._decreased_at = -math.inf

    def __repr__(self) -> str:
        return f"<RateLimiter {self.rate:g}/{self.limit:g} per second, {self.waiting} waiting>"

    async def acquire(self) -> float:
        """
        Wait for the next slot; return when it was reserved (pass that to `throttled`).

        A task cancelled while it waits gives its slot up unused: pacing stays on the safe
        side.
        """
        now = self._clock()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + 1 / self.rate
        delay = slot - now
        if delay <= 0:
            return now
        self.waits += 1
        self.waited += delay
        self.waiting += 1
        logger.info(
            "%s: waiting %.2fs for the rate limit (%.3g requests/s)",
            self._provider,
            delay,
            self.rate,
        )
        try:
            if testing.is_testing():
                await anyio.lowlevel.checkpoint()
            else:
                await self._sleep(delay)
        finally:
            self.waiting -= 1
        return now

    def throttled(self, reserved: float, retry_after: float | None) -> None:
        """
        A request whose slot was *reserved* then got a 429: slow down, pause *retry_after*.

        Only a request reserved after the last decrease lowers the rate again: the ones
        reserved before were spaced at the old rate, and their 429s say nothing new.
        """
        now = self._clock()
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        if reserved < self._decreased_at:
            return
        self._decreased_at = now
        self.rate = max(self.limit * FLOOR, self.rate * DECREASE)
        logger.info(
            "%s: rate limited by the vendor; pacing at %.3g requests/s",
            self._provider,
            self.rate,
        )

    def succeeded(self) -> None:
        """A request went through: climb back towards the ceiling."""
        if self.rate < self.limit:
            self.rate = min(self.limit, self.rate + self.limit * RECOVERY)
