"""
An async iterator over one async generator that closes with its object.

`Follower` and LangGraph's `ThreadFollower` are objects with state of their own (where the
follow stands) around one generator: iterating steps it, and ``aclose`` or leaving
``async with`` closes it, so nothing keeps running once the caller is done.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from backscroll._provider import Closeable

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

__all__ = ["GeneratorIterator"]

T = TypeVar("T")


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
