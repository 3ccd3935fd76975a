"""What the follow tests script with: a fake clock that grows the sandbox, and readers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import attrs

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from backscroll._protocols import ChatHistoryProvider
    from backscroll.sandbox import Sandbox

#: A conversation of each vendor that the sandbox holds (the vendors' documented ids).
CONVERSATIONS = {
    "convai": "c1234567890aba1111222233334447862",
    "talkifai": "chat_abc123_user_1705312800000",
    "cursor": "con_9s2kd81",
}


@attrs.define
class FakeClock:
    """
    A sleep that never sleeps: it records each wait and runs the next scripted step.

    Each step is a callable run at one sleep (growing the sandbox, injecting a fault); when
    the script is spent, the waits go on without effect.
    """

    steps: list[Callable[[], object]] = attrs.field(factory=list)
    waits: list[float] = attrs.field(factory=list)

    async def sleep(self, seconds: float) -> None:
        """Record *seconds*, then run the next step."""
        self.waits.append(seconds)
        await anyio.lowlevel.checkpoint()  # as a real sleep: other tasks get their turn
        if self.steps:
            self.steps.pop(0)()


def opener(
    sandbox: Sandbox, vendor: str, **options: Any
) -> contextlib.AbstractAsyncContextManager[ChatHistoryProvider]:
    """A provider of *vendor* wired to *sandbox*."""
    factory: Callable[..., contextlib.AbstractAsyncContextManager[Any]] = getattr(sandbox, vendor)
    return factory(**options)


async def collect(iterator: AsyncIterator[Any], count: int) -> list[Any]:
    """The next *count* items of *iterator*."""
    return [await anext(iterator) for _ in range(count)]


class Stop(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the `stop` step: the scripted growth is over."""


def stop() -> None:
    """The last step of a script: end the follow (from inside its sleep)."""
    raise Stop


async def drain(follower: Any) -> list[Any]:
    """Every message *follower* yields until a `stop` step ends it; closes it."""
    got: list[Any] = []
    async with follower:
        with contextlib.suppress(Stop):
            async for message in follower:
                got.append(message)  # noqa: PERF401 - one by one: a comprehension loses all on Stop
    return got
