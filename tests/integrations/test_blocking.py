"""The blocking facade: providers from synchronous code, inside running loops too."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import ConfigurationError, CursorProvider, Message, NotFoundError, Role
from backscroll.blocking import Backend, BlockingProvider, iterate, run
from backscroll.errors import BlockingCallError
from backscroll.sandbox import (
    CURSOR_API_KEY,
    Sandbox,
)

from .conftest import DOCS_CONVERSATION, convai, cursor, message, run_page

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator
    from datetime import datetime
    from pathlib import Path


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Run each facade test on both of the facade's own loops."""
    value: Backend = request.param
    return value


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh seeded sandbox."""
    return Sandbox(seed=0)


class Counting:
    """A provider of endless messages that records how far it was read and if it was closed."""

    def __init__(self) -> None:
        self.produced = 0
        self.finished = threading.Event()
        self.closed = 0

    async def _generate(self) -> AsyncIterator[Message]:
        try:
            for index in itertools.count():
                self.produced += 1
                yield message(index, Role.USER)
        finally:
            self.finished.set()

    def messages(  # noqa: D102 - the protocol's
        self,
        conversation_id: str,
        *,
        order: str = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        del conversation_id, order, since, until, page_size
        return self._generate()

    async def aclose(self) -> None:  # noqa: D102 - the protocol's
        self.closed += 1


def test_reads_a_whole_conversation_from_sync_code(sandbox: Sandbox, backend: Backend) -> None:
    """Plain synchronous code gets every message, in order, as the vendor holds them."""
    with BlockingProvider(cursor(sandbox), backend=backend) as provider:
        messages = list(provider.messages(DOCS_CONVERSATION))
    expected = [record["id"] for record in sandbox.data.cursor[DOCS_CONVERSATION]]
    assert [m.id for m in messages] == expected
    assert messages[-1].content == "Sure, you had 12 inbound and 5 outbound calls today."


def test_options_reach_the_provider(sandbox: Sandbox) -> None:
    """order, since and page_size are those of the async provider."""
    with BlockingProvider(cursor(sandbox)) as provider:
        ascending = list(provider.messages(DOCS_CONVERSATION, page_size=7))
        newest_first = list(provider.messages(DOCS_CONVERSATION, order="desc"))
        cut = ascending[10].created_at
        since = list(provider.messages(DOCS_CONVERSATION, since=cut))
    # Messages sharing one second may come in either order: compare times and ids.
    assert [m.created_at for m in newest_first] == [m.created_at for m in ascending[::-1]]
    assert sorted(m.id for m in newest_first) == sorted(m.id for m in ascending)
    assert since
    assert all(m.created_at is not None and cut is not None and m.created_at >= cut for m in since)


@pytest.mark.anyio
async def test_works_inside_a_running_event_loop(sandbox: Sandbox) -> None:
    """Called from a coroutine (as in a notebook cell), the facade neither deadlocks nor fails."""
    with BlockingProvider(cursor(sandbox)) as provider:
        messages = list(provider.messages(DOCS_CONVERSATION))
    assert len(messages) == len(sandbox.data.cursor[DOCS_CONVERSATION])


@pytest.mark.anyio
async def test_trio_facade_inside_asyncio_loop_works(
    sandbox: Sandbox, anyio_backend: tuple[str, object]
) -> None:
    """The trio facade serves an asyncio caller, and refuses a trio caller with a clear error."""
    provider = BlockingProvider(cursor(sandbox), backend="trio")
    if anyio_backend[0] == "trio":
        with pytest.raises(BlockingCallError, match="backend='asyncio'"):
            provider.messages(DOCS_CONVERSATION)
    else:
        assert len(list(provider.messages(DOCS_CONVERSATION))) > 0
        provider.close()


def test_invalid_arguments_raise_at_the_call(sandbox: Sandbox) -> None:
    """A bad option raises ConfigurationError when messages() is called, not when iterated."""
    with (
        BlockingProvider(cursor(sandbox)) as provider,
        pytest.raises(ConfigurationError, match="order must be"),
    ):
        provider.messages(DOCS_CONVERSATION, order="sideways")  # type: ignore[arg-type]


def test_vendor_errors_surface_unchanged(sandbox: Sandbox, backend: Backend) -> None:
    """An error raised while reading reaches the caller with its own type."""
    with (
        BlockingProvider(convai(sandbox), backend=backend) as provider,
        pytest.raises(backscroll.APIStatusError),
    ):
        list(provider.messages("no-such-session"))


def test_leaving_early_stops_reading_and_closes_the_iterator(backend: Backend) -> None:
    """Leaving early ends the provider's iterator before returning, having read boundedly ahead."""
    source = Counting()
    with BlockingProvider(source, backend=backend) as provider:
        stream = provider.messages("con_1")
        first = [next(stream) for _ in range(5)]
        stream.close()
        assert source.finished.is_set()
    assert [m.id for m in first] == [f"msg_{i}" for i in range(5)]
    assert source.produced <= 5 + 129
    assert source.closed == 1


def test_an_abandoned_iterator_is_closed_when_collected(backend: Backend) -> None:
    """Dropping a half-read iterator (no close) still ends the provider's iterator."""
    source = Counting()
    provider = BlockingProvider(source, backend=backend)
    stream: Generator[Message, None, None] | None = provider.messages("con_1")
    assert stream is not None
    next(stream)
    stream = None  # the generator's finaliser runs here, in this thread
    assert source.finished.wait(timeout=10)
    provider.close()


def test_lists_and_deletes_conversations_where_the_vendor_can(sandbox: Sandbox) -> None:
    """Convai's conversations() and delete_conversations() work through the facade."""
    with BlockingProvider(convai(sandbox)) as provider:
        sessions = list(provider.conversations(limit=3))
        assert len(sessions) == 3
        provider.delete_conversations([sessions[0].id])
        remaining = {c.id for c in provider.conversations()}
    assert sessions[0].id not in remaining
    assert {s.id for s in sessions[1:]} <= remaining


def test_capabilities_the_vendor_lacks_are_configuration_errors(sandbox: Sandbox) -> None:
    """The cursor API cannot list or delete: the facade says so instead of failing obscurely."""
    with BlockingProvider(cursor(sandbox)) as provider:
        with pytest.raises(ConfigurationError, match="cannot list conversations"):
            provider.conversations()
        with pytest.raises(ConfigurationError, match="cannot delete conversations"):
            provider.delete_conversations(["con_1"])


def test_close_closes_the_provider_once() -> None:
    """close() awaits the provider's aclose() once, however often it is called."""
    source = Counting()
    provider = BlockingProvider(source)
    provider.close()
    provider.close()
    assert source.closed == 1


def test_threads_share_one_facade() -> None:
    """Several threads iterating one facade at once each get their own complete reading."""
    source = Counting()
    results: list[list[str]] = []

    def read() -> None:
        results.append([m.id for m in itertools.islice(source_provider.messages("c"), 300)])

    with BlockingProvider(source) as source_provider:
        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert results == [[f"msg_{i}" for i in range(300)]] * 4


def test_run_returns_results_and_raises_errors(backend: Backend) -> None:
    """run() hands back what the coroutine returned, and raises what it raised."""

    async def answer(value: int) -> int:
        return value * 2

    async def fail() -> None:
        raise NotFoundError("gone", status_code=404, provider="cursor")

    assert run(answer, 21, backend=backend) == 42
    with pytest.raises(NotFoundError, match="gone"):
        run(fail, backend=backend)


def test_calling_back_from_the_facade_loop_is_refused(backend: Backend) -> None:
    """A blocking call made on the facade's own loop raises BlockingCallError, not a hang."""

    async def reenter() -> int:
        async def inner() -> int:
            return 1

        return run(inner, backend=backend)

    with pytest.raises(BlockingCallError, match="use the async API"):
        run(reenter, backend=backend)


def test_iterate_reads_any_async_iterable(backend: Backend) -> None:
    """iterate() turns an async generator, or any async iterable, into a plain iterator."""

    async def numbers() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    class Countdown:
        """An async iterable that is not a generator (it has no aclose)."""

        def __init__(self) -> None:
            self.left = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return self.left

    assert list(iterate(numbers(), backend=backend)) == [0, 1, 2]
    assert list(iterate(Countdown(), backend=backend)) == [2, 1, 0]


def test_unusable_arguments_are_configuration_errors(sandbox: Sandbox) -> None:
    """A non-provider or an unknown backend is refused at construction."""
    with pytest.raises(ConfigurationError, match="wraps a provider, got str"):
        BlockingProvider("cursor")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="backend must be one of"):
        BlockingProvider(cursor(sandbox), backend="curio")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="backend must be one of"):
        run(sandbox.client().aclose, backend="curio")  # type: ignore[arg-type]


def test_repr_names_the_provider(sandbox: Sandbox) -> None:
    """The facade's repr shows the wrapped provider (never its credential)."""
    provider = BlockingProvider(cursor(sandbox))
    assert isinstance(provider.provider, CursorProvider)
    assert repr(provider).startswith("BlockingProvider(CursorProvider(")
    assert CURSOR_API_KEY not in repr(provider)
    provider.close()


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/blocking.md run, offline, against the sandbox."""
    assert run_page("blocking.md", tmp_path, monkeypatch) >= 2
