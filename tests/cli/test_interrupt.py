"""Ctrl-C stops a migration cleanly: status 130, a checkpoint; the rerun copies the rest once."""

from __future__ import annotations

import json
import signal
import sys
from typing import TYPE_CHECKING

import anyio
import pytest

from backscroll.sandbox import Faults

from .running import Served, invoke, jsonl_records, read_checkpoint

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process"),
]


async def _lines(stream: anyio.abc.ByteReceiveStream) -> list[str]:
    """Receive from *stream* until it ends, split into lines."""
    chunks = [chunk async for chunk in stream]
    return b"".join(chunks).decode().splitlines()


async def test_ctrl_c_leaves_a_checkpoint_the_rerun_resumes(served: Served, tmp_path: Path) -> None:
    """SIGINT after the first conversation: 130, resume hint; the rerun ends exactly once."""
    data = served.sandbox.data
    ids = sorted(data.talkifai)
    (tmp_path / "ids.txt").write_text("\n".join(ids), encoding="utf-8")
    # Slow answers, so that the run is still going when the signal arrives.
    served.sandbox.set_faults("talkifai", Faults(latency=0.2))
    command = [
        sys.executable, "-m", "backscroll", "migrate", "talkifai",
        "--base-url", served.base_url("talkifai"), "--ids-file", "ids.txt",
        "--to", "jsonl:out.jsonl", "--concurrency", "1",
    ]  # fmt: skip
    env = {**served.env, "PYTHONUNBUFFERED": "1"}

    seen = b""
    with anyio.fail_after(60):
        async with await anyio.open_process(command, cwd=tmp_path, env=env) as process:
            assert process.stderr is not None
            # Wait for a conversation with messages to be committed, then press Ctrl-C.
            while not any(
                b" done, " in line and b" done, 0 messages" not in line
                for line in seen.splitlines()
            ):
                seen += await process.stderr.receive()
            process.send_signal(signal.SIGINT)
            rest = await _lines(process.stderr)
            status = await process.wait()

    assert status == 130
    assert rest[-1].startswith("backscroll: interrupted. What was copied is committed: rerun")
    checkpoint = tmp_path / "out.jsonl.talkifai.checkpoint.json"
    assert read_checkpoint(checkpoint)["pass_complete"] is False
    partial = len(jsonl_records(tmp_path / "out.jsonl"))
    total = sum(len(data.talkifai[c]) for c in ids)
    assert 0 < partial < total

    served.sandbox.set_faults("talkifai", None)
    again = [
        "migrate", "talkifai", "--base-url", served.base_url("talkifai"),
        "--ids-file", "ids.txt", "--to", "jsonl:out.jsonl", "--json",
    ]  # fmt: skip
    rerun = await anyio.to_thread.run_sync(lambda: invoke(*again, env=served.env))

    assert rerun.exit_code == 0, rerun.output
    summary = json.loads(rerun.stdout)
    assert summary["conversations_skipped"] >= 1
    records = jsonl_records(tmp_path / "out.jsonl")
    keys = [(r["conversation_id"], r["id"]) for r in records]
    assert len(keys) == len(set(keys)) == total
