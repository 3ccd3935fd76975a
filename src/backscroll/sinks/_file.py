"""What the built-in sinks share: one file, opened on first use, worked in one thread."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NoReturn, Self

from backscroll.errors import SinkError
from backscroll.sinks._worker import SerialWorker

if TYPE_CHECKING:
    import os
    from types import TracebackType

__all__ = ["FileSink"]


class FileSink(abc.ABC):
    """
    A sink kept in one file: its lifecycle, its worker thread and its error messages.

    A subclass says how to open, commit and close the file; those run in the sink's one
    worker thread, never two at once. ``async with`` opens the file on entry, commits on
    a clean exit and closes it either way. A closed sink stays closed.
    """

    #: The file as messages name it: ``"JSONL export"``, ``"SQLite database"``.
    file_kind: ClassVar[str]

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._closed = False
        self._worker = SerialWorker()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def identity(self) -> dict[str, str]:
        """Its type and resolved file, for checkpoints (see `backscroll.Identifiable`)."""
        return {"type": type(self).__name__, "path": str(self.path.resolve())}

    async def __aenter__(self) -> Self:
        await self._worker.run(self._open)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.commit()
        finally:
            await self.aclose()

    async def commit(self) -> None:
        """Make everything written so far durable: a crash after this loses none of it."""
        await self._worker.run(self._commit)

    async def aclose(self) -> None:
        """Close the file; what was written since the last `commit` may be lost."""
        await self._worker.run(self._close_file)

    # -- blocking, in the worker thread ---------------------------------------------------------

    @abc.abstractmethod
    def _open(self) -> object:
        """Open the file if it is not open yet (after `_refuse_if_closed`); return it."""

    @abc.abstractmethod
    def _commit(self) -> None:
        """Make what was written durable."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Close the file if it is open."""

    def _close_file(self) -> None:
        self._closed = True
        self._close()

    def _refuse_if_closed(self) -> None:
        if self._closed:
            name = type(self).__name__
            msg = f"the {name} {self.path} is closed: create a new {name} to write again"
            raise SinkError(msg)

    def _fail(self, action: str, exc: Exception) -> NoReturn:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        msg = f"cannot {action} the {self.file_kind} {self.path}: {reason}"
        raise SinkError(msg) from None
