"""
One migration at a time per file: an exclusive lock on the sink's file and the checkpoint.

Two runs that write one JSONL export at once each append the messages both read, so the
file holds them twice; two runs on one checkpoint each save their own progress over the
other's. `migrate` therefore locks the checkpoint and a built-in sink's file for the whole
run, and a second run fails at once with a `backscroll.errors.LockedError` naming the
process that holds it.

The lock is the operating system's, on a small file beside the locked one
(``history.db.lock``): ``flock`` on POSIX, ``msvcrt.locking`` on Windows. The system
releases it when the holding process ends, however it ends (a SIGKILL included), so a
crash never leaves a lock that blocks the rerun. The file says who holds it (process id,
host, since when); it is removed when the run ends. A run that opens the file just as the
holder removes it finds, once it holds the lock, that the path names another file (or
none) and tries again, so two runs never both hold a lock on two different files.

The standard library does this in a few lines, so no dependency: ``filelock`` and
``portalocker`` wrap the same calls, and neither would tell the second run who the holder
is. The lock is advisory: programs that do not ask for it (an editor, ``sqlite3``) are not
stopped, and on a network file system it is as good as the server's ``flock``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from backscroll.errors import BackscrollError, LockedError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

__all__ = ["RunLock", "holding"]

#: How often a run tries again when the holder removed the lock file as it opened it.
_ATTEMPTS: Final = 16
#: Windows locks a byte range, and a locked range cannot be read: the lock sits on one
#: byte past what the holder writes, so that the second run can read who holds it.
_WINDOWS_OFFSET: Final = 1 << 20


class RunLock:
    """
    An exclusive lock on *path*, held through a file beside it, ``<path>.lock``.

    Acquire it with `acquire`, release it with `release` (or use `holding`).
    """

    __slots__ = ("_fd", "lock_path", "path")

    def __init__(self, path: Path, lock_path: Path, fd: int) -> None:
        self.path = path
        self.lock_path = lock_path
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, path: Path, what: str, unwritable: type[BackscrollError] = LockedError
    ) -> RunLock:
        """
        Lock *path* for this run, or fail at once (blocking: run it in a worker thread).

        Args:
            path: The file to lock (it need not exist).
            what: What it is, for the message: ``"the checkpoint"``.
            unwritable: What to raise when the lock file cannot be created beside it.

        Raises:
            LockedError: another run holds the lock (the message names its process and
                host).
            BackscrollError: the lock file cannot be created (*unwritable*).
        """
        lock_path = path.with_name(f"{path.name}.lock")
        for _ in range(_ATTEMPTS):
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                msg = (
                    f"cannot write {what} {path}: {exc.strerror or exc} (creating its lock "
                    f"file {lock_path}). Check that its folder exists and is writable"
                )
                raise unwritable(msg) from None
            if not _try_lock(fd):
                holder = _holder(fd)
                os.close(fd)
                msg = (
                    f"{what} {path} is in use by another migration ({holder}): two runs at "
                    "once would write its messages twice. Wait for that run to end (or stop "
                    "it), then run this again"
                )
                raise LockedError(msg)
            if _still_names(lock_path, fd):
                _write_holder(fd)
                return cls(path, lock_path, fd)
            os.close(fd)  # the holder removed the file as we opened it: try the new one
        msg = f"cannot lock {what} {path}: {lock_path} keeps being replaced; try again"
        raise LockedError(msg)

    def release(self) -> None:
        """Remove the lock file and release the lock (blocking; idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Removed while still locked: a run waiting on this file sees it is gone.
        if sys.platform != "win32":
            with contextlib.suppress(OSError):
                self.lock_path.unlink()
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def holding(
    locks: Iterable[tuple[Path, str, type[BackscrollError]]],
) -> Iterator[None]:
    """
    Hold a `RunLock` on each ``(path, what, unwritable)`` (blocking); release them at the end.

    Raises:
        LockedError: one of them is held by another run (none is held when it raises).
        BackscrollError: a lock file cannot be created (its *unwritable*).
    """
    held: list[RunLock] = []
    try:
        for path, what, unwritable in locks:
            held.append(RunLock.acquire(path, what, unwritable))
        yield
    finally:
        for lock in reversed(held):
            lock.release()


def _still_names(lock_path: Path, fd: int) -> bool:
    """Whether *lock_path* is still the file *fd* holds open."""
    try:
        named = lock_path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with contextlib.suppress(OSError):  # who holds it is a courtesy; the lock is what counts
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(holder).encode("utf-8"))


def _holder(fd: int) -> str:
    """Who holds the lock, as the lock file says: ``process 4242 on host "ci-7", since ...``."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
        pid, host, since = data["pid"], data["host"], data["since"]
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said which yet"
    return f"process {pid} on host {host!r}, since {since}"


if sys.platform == "win32":  # pragma: no cover - tested on POSIX only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
