"""
Closing what was opened: ``async with`` for providers, iterators that close with their object.

`Follower` and LangGraph's `ThreadFollower` are objects with state of their own (where the
follow stands) around one generator: iterating steps it, and ``aclose`` or leaving
``async with`` closes it, so nothing keeps running once the caller is done.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Generic, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from types import TracebackType

__all__ = ["Closeable", "GeneratorIterator", "aclose"]

T = TypeVar("T")


class Closeable(abc.ABC):
    """``async with`` for a provider, HTTP or not: entering gives it, leaving calls `aclose`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release what the provider holds."""


async def aclose(iterator: object) -> None:
    """
    Close an async iterator that can be closed (a provider's generator); others are left.

    A plugin's ``messages()`` may return any async iterator, with no ``aclose``.
    """
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


class GeneratorIterator(Closeable, Generic[T]):
    """
    Iterates `_run`'s generator, made once on first use; ``aclose`` closes it.

    A subclass writes `_run` only.
    """

    __generator: AsyncGenerator[T, None] | None = None

    @abc.abstractmethod
    def _run(self) -> AsyncGenerator[T, None]:
        """The generator whose items this object yields."""

    @property
    def _generator(self) -> AsyncGenerator[T, None]:
        if self.__generator is None:
            self.__generator = self._run()
        return self.__generator

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Stop: the generator is closed, and nothing it started keeps running."""
        await self._generator.aclose()
