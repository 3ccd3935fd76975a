"""Two migrations at once on one sink file or checkpoint: the second fails at once, by name."""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

import anyio
import pytest

import backscroll
from backscroll._migration import lock as lock_module
from backscroll._migration.lock import RunLock
from backscroll.errors import LockedError
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import GatedProvider, MemoryProvider, expected, jsonl_keys, sqlite_messages

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from backscroll.sinks import Sink

pytestmark = pytest.mark.anyio

SINKS: list[tuple[str, Callable[[Path], Sink]]] = [
    ("out.jsonl", JsonlSink),
    ("out.db", SqliteSink),
]


@pytest.mark.parametrize(("name", "make"), SINKS, ids=["jsonl", "sqlite"])
async def test_a_second_run_on_the_same_sink_file_fails_at_once(
    tmp_path: Path, name: str, make: Callable[[Path], Sink]
) -> None:
    """While one run writes a file, another run into it raises LockedError naming the holder."""
    source = MemoryProvider.build([5, 7, 3])
    gated = GatedProvider(source)
    target = tmp_path / name
    raised: list[LockedError] = []
    first_sink, second_sink = make(target), make(target)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: backscroll.migrate(gated, first_sink))
        await gated.reading.wait()
        with pytest.raises(LockedError) as caught:
            await backscroll.migrate(source, second_sink, checkpoint=tmp_path / "other.json")
        raised.append(caught.value)
        gated.release.set()
    await first_sink.aclose()
    await second_sink.aclose()
    message = str(raised[0])
    assert str(target) in message
    assert f"process {os.getpid()}" in message
    assert socket.gethostname() in message
    assert not (tmp_path / "other.json").exists()  # nothing was started
    keys = (
        jsonl_keys(target)
        if name.endswith(".jsonl")
        else [(m.provider, m.conversation_id, m.id) for m in sqlite_messages(target)]
    )
    assert sorted(keys) == sorted(expected(source))


async def test_a_second_run_on_the_same_checkpoint_fails_at_once(tmp_path: Path) -> None:
    """Two runs sharing a checkpoint but not a sink: the second raises LockedError."""
    source = MemoryProvider.build([4, 4])
    gated = GatedProvider(source)
    checkpoint = tmp_path / "ckpt.json"
    async with (
        SqliteSink(tmp_path / "a.db") as one,
        SqliteSink(tmp_path / "b.db") as other,
        anyio.create_task_group() as group,
    ):
        group.start_soon(lambda: backscroll.migrate(gated, one, checkpoint=checkpoint))
        await gated.reading.wait()
        with pytest.raises(LockedError, match=r"the checkpoint .*ckpt.json is in use"):
            await backscroll.migrate(source, other, checkpoint=checkpoint)
        gated.release.set()
    assert len(sqlite_messages(tmp_path / "a.db")) == 8
    assert sqlite_messages(tmp_path / "b.db") == []


async def test_the_lock_is_gone_after_the_run(tmp_path: Path) -> None:
    """A finished run removes its lock files, and the next run takes the lock again."""
    source = MemoryProvider.build([3])
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        source.append("c0", 2)
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.messages_written == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.json", "out.jsonl"]  # noqa: ASYNC240


async def test_a_failed_run_releases_the_lock(tmp_path: Path) -> None:
    """A run that raises (here: another migration's checkpoint) leaves no lock behind."""
    checkpoint = tmp_path / "ckpt.json"
    async with SqliteSink(tmp_path / "a.db") as sink:
        await backscroll.migrate(MemoryProvider.build([1]), sink, checkpoint=checkpoint)
    async with SqliteSink(tmp_path / "b.db") as other:
        with pytest.raises(backscroll.CheckpointError):
            await backscroll.migrate(MemoryProvider.build([1]), other, checkpoint=checkpoint)
        await backscroll.migrate(MemoryProvider.build([1]), other, checkpoint=tmp_path / "b.json")
    assert not list(tmp_path.glob("*.lock"))  # noqa: ASYNC240


@pytest.mark.skipif(sys.platform == "win32", reason="runs the CLI in a child process")
async def test_the_cli_in_another_process_exits_non_zero_naming_the_holder(
    tmp_path: Path,
) -> None:
    """A real second process (the CLI) meets the lock: status 4 (a file), the holder's pid, host."""
    source = MemoryProvider.build([3, 3])
    export = tmp_path / "export.jsonl"
    async with JsonlSink(export) as sink:
        await backscroll.migrate(source, sink)
    gated = GatedProvider(source)
    target = tmp_path / "out.jsonl"
    async with JsonlSink(target) as sink, anyio.create_task_group() as group:
        group.start_soon(lambda: backscroll.migrate(gated, sink))
        await gated.reading.wait()
        command = [
            sys.executable, "-m", "backscroll", "migrate", f"jsonl:{export}",
            "--to", f"jsonl:{target}", "--checkpoint", str(tmp_path / "second.json"),
        ]  # fmt: skip
        with anyio.fail_after(60):
            result = await anyio.run_process(command, check=False)
        gated.release.set()
    stderr = result.stderr.decode()
    assert result.returncode == 4, stderr
    assert stderr.splitlines()[-1].startswith(f"backscroll: error: the JSONL export {target}")
    assert f"process {os.getpid()} on host {socket.gethostname()!r}" in stderr
    assert len(jsonl_keys(target)) == 6


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_a_killed_holder_leaves_no_lock_that_blocks(tmp_path: Path) -> None:
    """The system drops the lock of a process killed with SIGKILL: the next run takes it."""
    path = tmp_path / "out.jsonl"
    code = (
        "import sys, pathlib\n"
        "from backscroll._migration.lock import RunLock\n"
        f"RunLock.acquire(pathlib.Path({str(path)!r}), 'the file')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with anyio.fail_after(60):
        async with await anyio.open_process([sys.executable, "-c", code]) as process:
            assert process.stdout is not None
            assert b"locked" in await process.stdout.receive()
            with pytest.raises(LockedError, match=f"process {process.pid} on host"):
                RunLock.acquire(path, "the file")
            process.send_signal(signal.SIGKILL)
            await process.wait()
    lock = RunLock.acquire(path, "the file")
    lock.release()
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_a_lock_file_removed_while_opening_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that opened the lock file just as its holder removed it locks a new file."""
    path = tmp_path / "out.db"
    lock_path = tmp_path / "out.db.lock"
    real_try_lock = lock_module._try_lock
    calls: list[int] = []

    def racing_try_lock(fd: int) -> bool:
        if not calls:
            lock_path.unlink()  # the holder releases between our open and our lock
        calls.append(fd)
        return real_try_lock(fd)

    monkeypatch.setattr(lock_module, "_try_lock", racing_try_lock)
    lock = RunLock.acquire(path, "the file")
    try:
        assert len(calls) == 2
        assert lock_path.exists()
        monkeypatch.setattr(lock_module, "_try_lock", real_try_lock)
        with pytest.raises(LockedError):
            RunLock.acquire(path, "the file")
    finally:
        lock.release()
