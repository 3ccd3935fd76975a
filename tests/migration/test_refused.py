"""A refused credential ends the run at once: reported once, the checkpoint kept for the rerun."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import AuthenticationError, PermissionDeniedError
from backscroll.sandbox import Faults, Sandbox
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import FailingProvider, MemoryProvider, expected, jsonl_keys

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_a_wrong_key_fails_once_not_once_per_conversation(tmp_path: Path) -> None:
    """A 401 on the first conversation stops the run: one failure, few requests, not 40."""
    sandbox = Sandbox(seed=0)
    ids = [f"con_{n:03}" for n in range(40)]
    async with (
        sandbox.cursor(api_key="sk-wrong-key", max_retries=0) as provider,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        report = await backscroll.migrate(provider, sink, conversation_ids=ids, concurrency=4)
    assert report.stopped_by is not None
    assert report.stopped_by.error_type == "AuthenticationError"
    assert report.failures == (report.stopped_by,)
    assert "Check the credential" in report.stopped_by.reason
    assert "sk-wrong-key" not in report.stopped_by.reason
    assert len(sandbox.requests) <= 4  # the readers already under way, no more
    assert not report.complete
    assert not report.ok
    assert report.as_dict()["stopped_by"]["error_type"] == "AuthenticationError"


async def test_a_permission_refusal_ends_the_run_too(tmp_path: Path) -> None:
    """A 403 from the source stops the run the same way, named PermissionDeniedError."""
    sandbox = Sandbox(seed=0, faults={"talkifai": Faults(rate=1.0, statuses={403: 1})})
    async with (
        sandbox.talkifai(max_retries=0) as provider,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        report = await backscroll.migrate(
            provider, sink, conversation_ids=list(sandbox.data.talkifai), concurrency=2
        )
    assert report.stopped_by is not None
    assert report.stopped_by.error_type == "PermissionDeniedError"
    assert len(report.failures) == 1
    assert report.conversations_done == 0


async def test_other_failures_do_not_end_the_run(tmp_path: Path) -> None:
    """Only a refused credential stops everything: other errors fail one conversation each."""
    error = backscroll.NotFoundError("gone", status_code=404, provider="memory")
    source = FailingProvider(MemoryProvider.build([3, 3, 3]), after=0, error=error)
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink)
    assert report.stopped_by is None
    assert report.conversations_failed == 3


@pytest.mark.parametrize("error_type", [AuthenticationError, PermissionDeniedError])
async def test_the_checkpoint_resumes_once_the_credential_is_fixed(
    tmp_path: Path, error_type: type[backscroll.APIStatusError]
) -> None:
    """What was committed before the refusal stays; the rerun copies the rest, each once."""
    memory = MemoryProvider.build([300, 300, 300, 300])
    refusal = error_type("refused", status_code=401, provider="memory")
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        refused = FailingProvider(memory, after=450, error=refusal)
        first = await backscroll.migrate(
            refused,
            sink,
            checkpoint=checkpoint,
            concurrency=1,
        )
        assert first.stopped_by is not None
        assert first.conversations_done == 1
        second = await backscroll.migrate(memory, sink, checkpoint=checkpoint)
    assert second.stopped_by is None
    assert second.complete
    assert sorted(jsonl_keys(tmp_path / "out.jsonl")) == sorted(expected(memory))
