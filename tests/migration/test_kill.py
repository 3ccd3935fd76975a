"""A process killed with SIGKILL mid-migration: the rerun still copies each message once."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import pytest

import backscroll
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import MemoryProvider, expected, jsonl_messages, sqlite_messages

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

SIZES = [3000, 0, 4000, 2000]  # over two COMMIT_EVERY, so commits 1 and 2 are mid-run

# The child migrates and kills itself, for real, right after the sink's n-th write or
# commit returns: buffers unflushed, a commit in the sink but not in the checkpoint.
CHILD = """
import os, signal, sys
import anyio, backscroll
from backscroll.sinks import JsonlSink, SqliteSink
sys.path.insert(0, {tests!r})
from migration.fakes import MemoryProvider

kind, directory, point, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

async def main():
    sink = JsonlSink(directory + "/out.jsonl") if kind == "jsonl" else SqliteSink(
        directory + "/out.db"
    )
    real = getattr(sink, point)
    calls = 0
    async def dying(*args):
        nonlocal calls
        await real(*args)
        calls += 1
        if calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
    setattr(sink, point, dying)
    source = MemoryProvider.build({sizes!r}, burst=3)
    await backscroll.migrate(source, sink, checkpoint=directory + "/ckpt.json", concurrency=3)

anyio.run(main)
"""


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
@pytest.mark.parametrize(("point", "n"), [("write", 3), ("commit", 1), ("commit", 2)])
async def test_a_killed_migration_resumes_exactly_once(
    tmp_path: Path, kind: str, point: str, n: int
) -> None:
    """Killed after a write or after a commit, the rerun leaves each message exactly once."""
    code = CHILD.format(tests=str(Path(__file__).parents[1]), sizes=SIZES)
    child = await anyio.run_process(
        [sys.executable, "-c", code, kind, str(tmp_path), point, str(n)], check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    source = MemoryProvider.build(SIZES, burst=3)
    sink = JsonlSink(tmp_path / "out.jsonl") if kind == "jsonl" else SqliteSink(tmp_path / "out.db")
    async with sink:
        report = await backscroll.migrate(source, sink, checkpoint=tmp_path / "ckpt.json")
    assert report.complete
    stored = (
        jsonl_messages(tmp_path / "out.jsonl")
        if kind == "jsonl"
        else sqlite_messages(tmp_path / "out.db")
    )
    keys = [(m.provider, m.conversation_id, m.id) for m in stored]
    assert len(keys) == len(set(keys))
    assert dict(zip(keys, stored, strict=True)) == expected(source)
