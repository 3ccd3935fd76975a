"""
Cancelling an iteration leaves no task, stream, pooled connection or generator behind.

The sandbox runs under uvicorn on 127.0.0.1 and a `Gate` holds one of its responses (before
the headers, or halfway through a slow body), so that the cancellation meets a request
really in flight on a real socket. Then the test looks at what is left: the event loop's
tasks, the connection pool's checked-out connections and requests, the response streams
not closed, and backscroll's async generators not finished.
"""

from __future__ import annotations

import contextlib
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Final

import anyio
import pytest

import backscroll.testing
from backscroll import APITimeoutError, ProviderClosedError
from backscroll.providers import ConvaiProvider, CursorProvider, TalkifaiProvider
from backscroll.sandbox import (
    CONVAI_API_KEY,
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    TALKIFAI_TOKEN,
    Faults,
    Sandbox,
)

from .conftest import Gate, Named, StreamTracker, leaks, suspended_generators, task_ids

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from contextlib import AbstractAsyncContextManager

    import httpx

    from backscroll._provider import HTTPProvider

pytestmark = pytest.mark.anyio

VENDORS: Final = ["convai", "talkifai", "cursor"]
#: A page size that makes the longest conversations take many requests.
PAGE_SIZE: Final = 20
#: Fault plans that make the sandbox wait (through the gate) before the headers, or in the
#: middle of the body.
PHASES: Final = {
    "headers": Faults(latency=1.0),
    "body": Faults(slow=1.0, slow_chunks=4, slow_delay=1.0),
}
#: How many gated waits each response makes: the latency, or the pauses between pieces.
WAITS: Final = {"headers": 1, "body": 3}


def small_sandbox() -> Sandbox:
    """A sandbox with one long conversation per vendor (quick to build)."""
    return Sandbox(seed=3, convai_sizes=(40,), talkifai_sizes=(120,), cursor_sizes=(120,))


def longest(records: dict[str, list[Any]]) -> str:
    return max(records, key=lambda key: len(records[key]))


def conversation(sandbox: Sandbox, vendor: str) -> str:
    """The vendor's longest conversation: many pages for the paged vendors."""
    if vendor == "convai":
        return longest(sandbox.data.convai_interactions)
    return longest(sandbox.data.talkifai if vendor == "talkifai" else sandbox.data.cursor)


def sandbox_provider(
    sandbox: Sandbox, vendor: str, url: str, **options: Any
) -> AbstractAsyncContextManager[HTTPProvider]:
    """A provider on the caller's client (the sandbox's), pointed at the server."""
    make: Any = {"convai": sandbox.convai, "talkifai": sandbox.talkifai, "cursor": sandbox.cursor}
    provider: AbstractAsyncContextManager[HTTPProvider] = make[vendor](base_url=url, **options)
    return provider


def own_provider(vendor: str, url: str, **options: Any) -> HTTPProvider:
    """A provider that creates (and so closes) its own HTTP client."""
    if vendor == "convai":
        return ConvaiProvider(
            api_key=CONVAI_API_KEY,
            character_id=CONVAI_CHARACTER_ID,
            base_url=f"{url}/convai",
            **options,
        )
    if vendor == "talkifai":
        return TalkifaiProvider(token=TALKIFAI_TOKEN, base_url=f"{url}/talkifai", **options)
    return CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{url}/cursor/v1", **options)


class Served:
    """A sandbox under uvicorn with a gate on one vendor, and the baseline to compare with."""

    def __init__(self, sandbox: Sandbox, url: str, gate: Gate) -> None:
        self.sandbox = sandbox
        self.url = url
        self.gate = gate
        self.tasks = Named()
        self.generators = Named()

    def baseline(self) -> None:
        """Note what is alive before the iteration (in the test's own task, not a fixture's)."""
        self.tasks = task_ids()
        self.generators = suspended_generators()


@contextlib.asynccontextmanager
async def serve(vendor: str, phase: str, *, pass_first: int) -> AsyncIterator[Served]:
    sandbox = small_sandbox()
    # Only the paged vendors can have pages before the held one.
    responses_before = pass_first if vendor != "convai" else 0
    gate = Gate(sandbox, pass_first=responses_before * WAITS[phase])
    sandbox.set_faults(vendor, PHASES[phase])
    async with sandbox.serving() as url:
        try:
            yield Served(sandbox, url, gate)
        finally:
            # Before the server stops, so that it need not wait out a held response.
            gate.release()


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    """Each vendor in turn."""
    name: str = request.param
    return name


@pytest.fixture(params=list(PHASES))
def phase(request: pytest.FixtureRequest) -> str:
    """Where the response is held: before its headers, or halfway through its body."""
    name: str = request.param
    return name


@pytest.fixture
async def served(vendor: str, phase: str) -> AsyncIterator[Served]:
    """The sandbox on loopback; the vendor's second response is held at *phase*."""
    async with serve(vendor, phase, pass_first=1) as served:
        yield served


def client_of(provider: HTTPProvider) -> httpx.AsyncClient:
    client: httpx.AsyncClient = provider._http._client
    return client


def assert_clean(served: Served, client: httpx.AsyncClient, tracker: StreamTracker) -> None:
    left = leaks(client, tracker, tasks=served.tasks, generators=served.generators)
    assert not left, f"left behind: {left}"


async def test_a_cancel_scope_around_an_iteration_leaves_nothing(
    served: Served, vendor: str
) -> None:
    """Cancelling the scope around `async for` while a request is in flight cleans up."""
    conversation_id = conversation(served.sandbox, vendor)
    read = 0
    async with sandbox_provider(served.sandbox, vendor, served.url) as provider:
        tracker = StreamTracker.install(client_of(provider))
        served.baseline()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:

                async def cancel_when_held() -> None:
                    await served.gate.wait_held()
                    scope.cancel()

                group.start_soon(cancel_when_held)
                async for _ in provider.messages(conversation_id, page_size=PAGE_SIZE):
                    read += 1
        assert scope.cancelled_caught
        assert tracker.sent >= 1
        assert_clean(served, client_of(provider), tracker)
    if vendor == "talkifai":
        assert read == 0, "the first page waits for the answer that checks it"
    # Convai has one response; the cursor API checks its first page with a probe before
    # handing it out (see _paging.cursor_pages).


async def test_a_timeout_around_an_iteration_leaves_nothing(served: Served, vendor: str) -> None:
    """anyio.fail_after expiring during a held response raises TimeoutError and cleans up."""
    conversation_id = conversation(served.sandbox, vendor)
    async with sandbox_provider(served.sandbox, vendor, served.url) as provider:
        tracker = StreamTracker.install(client_of(provider))
        served.baseline()

        async def read_until_the_deadline() -> None:
            with anyio.fail_after(3600) as scope:
                async with anyio.create_task_group() as group:

                    async def expire_when_held() -> None:
                        # The deadline passes now, rather than after a wait on the clock.
                        await served.gate.wait_held()
                        scope.deadline = anyio.current_time()

                    group.start_soon(expire_when_held)
                    async for _ in provider.messages(conversation_id, page_size=PAGE_SIZE):
                        pass

        with pytest.raises(TimeoutError):
            await read_until_the_deadline()
        assert served.gate.held.is_set()
        assert_clean(served, client_of(provider), tracker)


async def test_the_providers_timeout_raises_api_timeout_error_and_leaves_nothing(
    served: Served, vendor: str
) -> None:
    """A held response outlasts timeout= on every attempt: APITimeoutError, nothing left."""
    conversation_id = conversation(served.sandbox, vendor)
    async with sandbox_provider(
        served.sandbox, vendor, served.url, timeout=0.25, max_retries=1
    ) as provider:
        backscroll.testing.set_testing(True)  # no waits; reset by the autouse fixture
        tracker = StreamTracker.install(client_of(provider))
        served.baseline()
        with pytest.raises(APITimeoutError, match=r"did not answer .* in time .*2 attempts"):
            async for _ in provider.messages(conversation_id, page_size=PAGE_SIZE):
                pass
        assert provider.retries == 1
        assert_clean(served, client_of(provider), tracker)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_break_then_aclose_leaves_nothing(vendor: str, order: str) -> None:
    """Leaving `async for` early and closing the iterator finishes every generator inside."""
    sandbox = small_sandbox()
    conversation_id = conversation(sandbox, vendor)
    async with sandbox.serving() as url, sandbox_provider(sandbox, vendor, url) as provider:
        tracker = StreamTracker.install(client_of(provider))
        tasks, generators = task_ids(), suspended_generators()
        messages = provider.messages(
            conversation_id,
            order=order,  # type: ignore[arg-type]
            page_size=PAGE_SIZE,
        )
        async with aclosing(messages):  # type: ignore[type-var]
            async for _ in messages:
                break
        assert not suspended_generators() - generators
        left = leaks(client_of(provider), tracker, tasks=tasks, generators=generators)
        assert not left, f"left behind: {left}"
        assert tracker.sent >= 1
        # The pool keeps its connection for the next iteration, idle.
        assert client_of(provider)._transport.inner._pool.connections  # type: ignore[attr-defined]


async def test_break_without_aclose_holds_no_connection(vendor: str) -> None:
    """Even left suspended (no aclose yet), an iteration holds no connection or stream."""
    sandbox = small_sandbox()
    conversation_id = conversation(sandbox, vendor)
    async with sandbox.serving() as url, sandbox_provider(sandbox, vendor, url) as provider:
        tracker = StreamTracker.install(client_of(provider))
        messages = provider.messages(conversation_id, page_size=PAGE_SIZE)
        async for _ in messages:
            break
        assert tracker.open == set()
        assert tracker.sent == tracker.closed
        assert not leaks(client_of(provider), tracker, tasks=task_ids(), generators=Named()).get(
            "pool"
        )
        await messages.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("phase", list(PHASES))
async def test_closing_the_provider_during_an_iteration_leaves_nothing(
    vendor: str, phase: str
) -> None:
    """aclose() from another task mid-request ends the iteration with a BackscrollError."""
    async with serve(vendor, phase, pass_first=1) as served:
        provider = own_provider(vendor, served.url, max_retries=3)
        backscroll.testing.set_testing(True)  # no waits; reset by the autouse fixture
        client = client_of(provider)
        tracker = StreamTracker.install(client)
        served.baseline()
        failure: list[BaseException] = []

        async def iterate() -> None:
            try:
                async for _ in provider.messages(
                    conversation(served.sandbox, vendor), page_size=PAGE_SIZE
                ):
                    pass
            except Exception as exc:  # noqa: BLE001 - whatever it is, the test looks at it
                failure.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(iterate)
            await served.gate.wait_held()
            await provider.aclose()
        assert len(failure) == 1
        assert isinstance(failure[0], ProviderClosedError), repr(failure[0])
        assert client.is_closed
        assert tracker.inner._pool.connections == []  # type: ignore[attr-defined]
        assert_clean(served, client, tracker)
