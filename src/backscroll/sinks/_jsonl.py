"""`JsonlSink`: the canonical export, one `to_dict` form of a `Message` per line."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any, ClassVar

from backscroll._converter import to_dict
from backscroll._speed import dumps_row
from backscroll.errors import SinkError
from backscroll.sinks._file import FileSink

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll._models import Message

__all__ = ["JsonlSink", "json_line"]


def json_line(data: Any) -> bytes:
    r"""
    One line of JSON (UTF-8, newline-terminated), readable and lossless.

    Non-ASCII text is written as is; only a string holding a lone surrogate (which UTF-8
    cannot carry, but a vendor's JSON can) makes the line fall back to ``\\u`` escapes.
    """
    return dumps_row(data) + b"\n"


class JsonlSink(FileSink):
    """
    Append messages to a JSON Lines file, one `backscroll.to_dict` form per line.

    This is the canonical, lossless export: `backscroll.providers.JsonlProvider` reads it
    back, and ``from_dict(Message, json.loads(line))`` gives the message that was written.
    Lines are appended, oldest first within each conversation, conversations interleaved.

    `commit` flushes and fsyncs the file. With a checkpoint, `backscroll.migrate` records
    the committed size after every commit and, when resuming, cuts off whatever an
    interrupted run wrote after it (`rewind`), so the file holds each message exactly once.
    Keep one export file per checkpoint: the cut assumes the tail is this migration's.

    Args:
        path: The file; created if missing, appended to if present.

    The file is opened on first use. ``async with`` commits on a clean exit and closes.
    Lines written since the last `commit` are not
    fsynced when it closes.

    .. versionadded:: 0.1.0
    """

    file_kind: ClassVar[str] = "JSONL export"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._file: IO[bytes] | None = None
        self._committed = 0
        self._separate = False  # the file ends without a newline: start with one

    async def write(self, messages: Sequence[Message]) -> None:
        """Append *messages*, one line each (durable after `commit`)."""
        if messages:
            await self._worker.run(lambda: self._append(messages))

    async def position(self) -> int:
        """The committed size of the file in bytes."""
        await self._worker.run(self._open)
        return self._committed

    async def rewind(self, position: int) -> None:
        """
        Cut the file back to *position* bytes, dropping what was written after that commit.

        Raises:
            SinkError: the file is shorter than *position* (it was replaced or truncated
                since), or cannot be truncated.
        """
        await self._worker.run(lambda: self._rewind(position))

    # -- blocking, in the worker thread ---------------------------------------------------------

    def _open(self) -> IO[bytes]:
        if self._file is not None:
            return self._file
        self._refuse_if_closed()
        try:
            file = self.path.open("a+b")
            size = os.fstat(file.fileno()).st_size
            if size:
                file.seek(size - 1)
                self._separate = file.read(1) != b"\n"
        except OSError as exc:
            self._fail("open", exc)
        self._file = file
        self._committed = size
        return file

    def _append(self, messages: Sequence[Message]) -> None:
        file = self._open()
        lines = [json_line(to_dict(message)) for message in messages]
        if self._separate:
            lines.insert(0, b"\n")
        try:
            file.write(b"".join(lines))
        except OSError as exc:
            self._fail("write to", exc)
        self._separate = False

    def _commit(self) -> None:
        file = self._open()
        try:
            file.flush()
            os.fsync(file.fileno())
            self._committed = os.fstat(file.fileno()).st_size
        except OSError as exc:
            self._fail("commit", exc)

    def _rewind(self, position: int) -> None:
        file = self._open()
        try:
            file.flush()
            size = os.fstat(file.fileno()).st_size
            if size < position:
                msg = (
                    f"cannot resume the JSONL export {self.path}: it holds {size} bytes, fewer "
                    f"than the {position} the checkpoint saw committed, so it was replaced or "
                    "truncated since. Restore it, or start over with a new checkpoint and file"
                )
                raise SinkError(msg)
            if size > position:
                file.truncate(position)
                os.fsync(file.fileno())
            if position:
                file.seek(position - 1)
                self._separate = file.read(1) != b"\n"
            else:
                self._separate = False
        except OSError as exc:
            self._fail("rewind", exc)
        self._committed = position

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                self._fail("close", exc)
