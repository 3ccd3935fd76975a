"""
What the reliability tests measure: tasks, streams, pooled connections and generators left.

Nothing here assumes that cleanup happened; each helper looks at the live objects (the
event loop's task tree, httpcore's connection pool, every async generator the garbage
collector knows) and reports what is still there.
"""

from __future__ import annotations

import gc
import inspect
import pathlib
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx
import pytest

import backscroll
from backscroll import _speed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from backscroll.sandbox import Sandbox

#: Source files whose async generators must all be finished after an iteration ends: the
#: package's, but not the sandbox's (its context managers are open while a test checks).
PACKAGE = str(pathlib.Path(backscroll.__file__).parent)
SANDBOX = str(pathlib.Path(PACKAGE, "sandbox"))
#: How long a test waits for the sandbox to hold a request before it gives up. Never reached
#: when things work: it turns a hang into a failure.
HOLD_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look into httpcore's pool: the speed extra's aiohttp transport stays off."""
    monkeypatch.setattr(_speed, "_httpx_aiohttp", None)


class Named(dict[int, str]):
    """Things found alive, by id, each with a name saying what it is; minus drops ids."""

    def __sub__(self, other: object) -> Named:
        return Named({k: v for k, v in self.items() if k not in other})  # type: ignore[operator]


def task_ids() -> Named:
    """Every task running in this event loop (asyncio or trio), by id."""
    return Named({task.id: f"{task.name} ({task.coro!r})" for task in anyio.get_running_tasks()})


def _unfinished(generator: Any) -> bool:
    """Whether an async generator started and has not finished (suspended, or awaiting)."""
    state = getattr(inspect, "getasyncgenstate", None)  # Python 3.12+
    if state is not None:
        return bool(state(generator) in {"AGEN_SUSPENDED", "AGEN_RUNNING"})
    # Python 3.11: a generator not yet started is still at its first instruction.
    return generator.ag_frame is not None and generator.ag_frame.f_lasti > 0


def suspended_generators() -> Named:
    """The package's async generators that started and have not finished, by id."""
    gc.collect()
    return Named(
        {
            id(obj): f"{obj.ag_code.co_qualname} line {obj.ag_frame and obj.ag_frame.f_lineno}"
            for obj in gc.get_objects()
            if inspect.isasyncgen(obj)
            and obj.ag_code.co_filename.startswith(PACKAGE)
            and not obj.ag_code.co_filename.startswith(SANDBOX)
            and _unfinished(obj)
        }
    )


class TrackedStream(httpx.AsyncByteStream):
    """A response body that tells its tracker when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, tracker: StreamTracker) -> None:
        self._inner = inner
        self._tracker = tracker
        tracker.open.add(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        """Close the real body, and say so."""
        self._tracker.open.discard(self)
        self._tracker.closed += 1
        await self._inner.aclose()


class StreamTracker(httpx.AsyncBaseTransport):
    """Wraps a client's transport and counts the response streams not yet closed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.open: set[TrackedStream] = set()
        self.sent = 0
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the real transport; wrap the body so its closing is seen."""
        self.sent += 1
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = TrackedStream(response.stream, self)
        return response

    async def aclose(self) -> None:
        """Close the real transport."""
        await self.inner.aclose()

    @classmethod
    def install(cls, client: httpx.AsyncClient) -> StreamTracker:
        """Put a tracker between *client* and its transport."""
        tracker = cls(client._transport)
        client._transport = tracker
        return tracker


def pool_in_use(client: httpx.AsyncClient) -> list[str]:
    """What *client*'s connection pool still has checked out: requests and busy connections."""
    transport: Any = client._transport
    if isinstance(transport, StreamTracker):
        transport = transport.inner
    pool = transport._pool
    busy = [repr(c) for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return busy + [f"request {r.request.url}" for r in pool._requests]


def leaks(
    client: httpx.AsyncClient, tracker: StreamTracker, *, tasks: Named, generators: Named
) -> dict[str, object]:
    """Everything an iteration left behind: empty when it cleaned up."""
    found: dict[str, object] = {
        "pool": pool_in_use(client),
        "open streams": len(tracker.open),
        "tasks": task_ids() - tasks,
        "suspended generators": suspended_generators() - generators,
    }
    return {what: value for what, value in found.items() if value}


class Gate:
    """
    Holds the sandbox's fault waits (latency, slow-body pauses) until released.

    A request that meets a held wait stays in flight for as long as the test wants, with
    no timing involved: the test waits for `held`, acts, then releases. The first
    *pass_first* waits go through, so that an iteration can get a few pages first.
    """

    def __init__(self, sandbox: Sandbox, *, pass_first: int = 0) -> None:
        self.pass_first = pass_first
        self.calls = 0
        self.held = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        sandbox.fault_sleep = self._wait

    async def _wait(self, seconds: float) -> None:
        # Runs on the server's own event loop, in uvicorn's thread.
        del seconds
        with self._lock:
            self.calls += 1
            if self.calls <= self.pass_first:
                return
        self.held.set()
        await anyio.to_thread.run_sync(self._released.wait, abandon_on_cancel=True)

    async def wait_held(self) -> None:
        """Return once the sandbox holds a request (fail if it never does)."""
        held = await anyio.to_thread.run_sync(self.held.wait, HOLD_TIMEOUT)
        assert held, "the sandbox never received the request to hold"

    def release(self) -> None:
        """Let every held and future wait go through."""
        self._released.set()
