"""
The blocking facade: backscroll's providers from synchronous code, notebooks included.

.. code-block:: python

    import backscroll
    from backscroll.blocking import BlockingProvider

    with BlockingProvider(backscroll.CursorProvider(api_key="...")) as provider:
        for message in provider.messages("con_9s2kd81"):
            print(message.role, message.content)

How it works: every blocking call runs on one event loop in a background daemon thread (one
per backend, shared by every facade, started on first use) while the calling thread waits
for the result. The calling thread never runs an event loop itself, so this works the same
from a script, from a worker thread, and from inside an already running loop such as
Jupyter's, without ``nest_asyncio`` and without deadlocks.

Limits:

- A blocking call blocks its thread. Inside a running event loop (a notebook cell, an async
  web handler) that loop waits too; in async code, use the async API instead.
- A provider belongs to one event loop: its HTTP connections are tied to it. Hand the
  provider to the facade before using it anywhere else, and do not also use it from your own
  loop. The same holds for an ``http_client=`` you gave the provider.
- Calling the facade from code that runs on its own loop (an async provider or sink that
  calls back into `backscroll.blocking`) raises `BlockingCallError` instead of waiting forever.
  So does ``backend="trio"`` called from inside a running trio loop, which trio forbids
  (the default ``"asyncio"`` backend works there).
- Iterators read ahead: up to 129 messages (plus the page the provider holds) may be fetched
  before you ask for them. Leaving a ``for`` loop early (``break``, an exception, or
  ``close()`` on the iterator) cancels the reading and closes the provider's iterator.
- Ctrl-C while waiting cancels what was being waited for, then raises `KeyboardInterrupt`.
- After ``os.fork()`` the child starts a loop of its own; do not use a provider in the child
  that was used before the fork.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, Self, TypeVar, TypeVarTuple, Unpack

import anyio
import attrs
from anyio.from_thread import BlockingPortal

from backscroll._protocols import (
    ChatHistoryProvider,
    DeletesConversations,
    ListsConversations,
    Order,
)
from backscroll.errors import BlockingCallError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable, Generator, Sequence
    from datetime import datetime
    from types import TracebackType

    from backscroll._models import Conversation, Message

__all__ = ["Backend", "BlockingProvider", "iterate", "run"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: The event loop the facade runs providers on.
Backend = Literal["asyncio", "trio"]

_BACKENDS: Final = ("asyncio", "trio")
#: How many items wait between the loop and the reading thread, and go over per wake-up:
#: an iterator reads at most twice this (and one more) ahead of its reader.
_BATCH: Final = 64


@attrs.frozen
class _Loop:
    """One event loop in a daemon thread, shared by every blocking call on a backend."""

    portal: BlockingPortal
    thread_id: int
    pid: int


_loops: dict[str, _Loop] = {}
_loops_lock = threading.Lock()


def _portal(backend: Backend) -> BlockingPortal:
    """The portal of *backend*'s shared loop, started on first use (and again after a fork)."""
    if backend not in _BACKENDS:
        msg = f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}"
        raise ConfigurationError(msg)
    with _loops_lock:
        loop = _loops.get(backend)
        if loop is None or loop.pid != os.getpid():
            loop = _loops[backend] = _start(backend)
    if threading.get_ident() == loop.thread_id:
        msg = (
            "a blocking backscroll call was made from the event loop that serves blocking "
            "calls, where it would wait on itself forever: use the async API there"
        )
        raise BlockingCallError(msg)
    if backend == "trio" and _in_trio():
        msg = (
            "trio refuses blocking calls into a trio loop from inside another trio run: "
            "use backend='asyncio' (the default) here, or the async API"
        )
        raise BlockingCallError(msg)
    return loop.portal


def _in_trio() -> bool:
    """Whether this thread is running trio (which then forbids calls into any trio loop)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def _start(backend: Backend) -> _Loop:
    # A thread of our own rather than anyio's start_blocking_portal(): that context manager
    # stops its loop when it is finalised, which at interpreter exit can wait forever on a
    # daemon thread that no longer runs.
    ready: Future[BlockingPortal] = Future()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.set_result(portal)
            await portal.sleep_until_stopped()

    def main() -> None:
        try:
            anyio.run(serve, backend=backend)
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            if not ready.done():
                ready.set_exception(exc)

    threading.Thread(target=main, name=f"backscroll-{backend}", daemon=True).start()
    try:
        portal = ready.result()
    except ImportError:
        msg = f"backend={backend!r} needs {backend} installed: pip install {backend}"
        raise ConfigurationError(msg) from None
    thread_id = portal.call(threading.get_ident)
    return _Loop(portal=portal, thread_id=thread_id, pid=os.getpid())


def run(
    function: Callable[[Unpack[Ts]], Awaitable[T]],
    *args: *Ts,
    backend: Backend = "asyncio",
) -> T:
    """
    Run an async function to completion on the facade's loop, and return its result.

    .. code-block:: python

        report = backscroll.blocking.run(backscroll.migrate, provider, sink)

    Args:
        function: The async function to call.
        args: Its positional arguments (use `functools.partial` for keyword arguments).
        backend: The loop to run on: ``"asyncio"`` (the default) or ``"trio"``.

    Returns:
        What *function* returned; what it raised is raised here.

    Raises:
        BlockingCallError: called from the facade's own loop.

    .. versionadded:: 0.1.0
    """
    future = _portal(backend).start_task_soon(function, *args)
    try:
        return future.result()
    except BaseException:
        # Interrupted while waiting (Ctrl-C): stop the call rather than leave it running.
        future.cancel()
        raise


def iterate(
    iterable: AsyncIterable[T], *, backend: Backend = "asyncio"
) -> Generator[T, None, None]:
    """
    Iterate an async iterable from synchronous code.

    The iterable is read in one task on the facade's loop, a little ahead of you (at most 129
    items); leaving the loop early cancels the reading and closes the iterable.

    .. code-block:: python

        for message in backscroll.blocking.iterate(provider.messages("con_9s2kd81")):
            ...

    Args:
        iterable: An async iterable not yet started, such as ``provider.messages(...)``.
        backend: The loop to run on: ``"asyncio"`` (the default) or ``"trio"``.

    Raises:
        BlockingCallError: called from the facade's own loop.

    .. versionadded:: 0.1.0
    """
    return _drain(_portal(backend), iterable)


class _Reader(Generic[T]):
    """Reads an async iterable to its end in one task, handing items over in batches."""

    def __init__(self, iterable: AsyncIterable[T]) -> None:
        # Built on the loop: anyio's primitives need it.
        self._iterable = iterable
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._send, self._receive = anyio.create_memory_object_stream[T](_BATCH)
        self.error: Exception | None = None

    async def run(self) -> None:
        iterator = aiter(self._iterable)
        try:
            with self._scope:
                async for item in iterator:
                    await self._send.send(item)
        except Exception as exc:  # noqa: BLE001 - handed over to the reading thread, raised there
            self.error = exc
        finally:
            try:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    with anyio.CancelScope(shield=True):
                        await aclose()
            finally:
                # The error is set before the stream ends, so the reader always sees it.
                self._send.close()
                self._done.set()

    async def next_batch(self) -> list[T] | None:
        """The items ready now (waiting for at least one), or ``None`` at the end."""
        try:
            batch = [await self._receive.receive()]
        except anyio.EndOfStream:
            return None
        while len(batch) < _BATCH:
            try:
                batch.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        return batch

    def cancel(self) -> None:
        self._scope.cancel()

    async def stop(self) -> None:
        """Cancel the reading and wait until the iterable is closed."""
        self._scope.cancel()
        await self._done.wait()
        self._receive.close()


def _drain(portal: BlockingPortal, iterable: AsyncIterable[T]) -> Generator[T, None, None]:
    reader: _Reader[T] = portal.call(_Reader, iterable)
    portal.start_task_soon(reader.run)
    try:
        while (batch := portal.call(reader.next_batch)) is not None:
            yield from batch
        if reader.error is not None:
            raise reader.error
    finally:
        try:
            portal.call(reader.stop)
        except RuntimeError:
            # Finalised on the loop's own thread (garbage collection there): cancel, no waiting.
            reader.cancel()


class BlockingProvider:
    """
    A provider for synchronous code: the same methods, without ``async``.

    .. code-block:: python

        with BlockingProvider(backscroll.ConvaiProvider(character_id="...")) as convai:
            for session in convai.conversations(limit=10):
                history = list(convai.messages(session.id))

    Args:
        provider: Any `ChatHistoryProvider`, not yet used from another event loop. The facade
            closes it when closed itself.
        backend: The loop it runs on: ``"asyncio"`` (the default) or ``"trio"``.

    Raises:
        ConfigurationError: *provider* is not a provider, or *backend* is unknown.

    See the module's documentation for the limits.

    .. versionadded:: 0.1.0
    """

    def __init__(self, provider: ChatHistoryProvider, *, backend: Backend = "asyncio") -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = f"BlockingProvider wraps a provider, got {type(candidate).__name__}"
            raise ConfigurationError(msg)
        if backend not in _BACKENDS:
            msg = f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}"
            raise ConfigurationError(msg)
        self._provider = provider
        self._backend: Backend = backend
        self._closed = False

    @property
    def provider(self) -> ChatHistoryProvider:
        """The async provider this facade runs."""
        return self._provider

    def __repr__(self) -> str:
        return f"BlockingProvider({self._provider!r}, backend={self._backend!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the wrapped provider (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        aclose: Callable[[], Awaitable[Any]] | None = getattr(self._provider, "aclose", None)
        if aclose is not None:
            run(aclose, backend=self._backend)

    def messages(
        self,
        conversation_id: str,
        *,
        order: Order = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> Generator[Message, None, None]:
        """
        Iterate every message of a conversation exactly once, lazily, page by page.

        The arguments are those of `ChatHistoryProvider.messages`; invalid ones raise here,
        before any request.
        """
        iterable = self._provider.messages(
            conversation_id, order=order, since=since, until=until, page_size=page_size
        )
        return iterate(iterable, backend=self._backend)

    def conversations(self, *, limit: int | None = None) -> Generator[Conversation, None, None]:
        """
        Iterate the provider's conversations, at most *limit* of them.

        Raises:
            ConfigurationError: the provider cannot list conversations.
        """
        provider = self._provider
        if not isinstance(provider, ListsConversations):
            msg = (
                f"{provider!r} cannot list conversations: only providers with "
                "conversations() (ListsConversations; backscroll.vendors() says which) can"
            )
            raise ConfigurationError(msg)
        return iterate(provider.conversations(limit=limit), backend=self._backend)

    def delete_conversations(self, ids: Sequence[str]) -> None:
        """
        Delete these conversations at the vendor. Irreversible.

        Raises:
            ConfigurationError: the provider cannot delete conversations.
        """
        provider = self._provider
        if not isinstance(provider, DeletesConversations):
            msg = (
                f"{provider!r} cannot delete conversations: only providers with "
                "delete_conversations() (DeletesConversations; backscroll.vendors() says which) can"
            )
            raise ConfigurationError(msg)
        run(provider.delete_conversations, ids, backend=self._backend)
