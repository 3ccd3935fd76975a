"""A migration logs each conversation's start and end on "backscroll.migration", no secret."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll.sandbox import CURSOR_API_KEY, Sandbox
from backscroll.sinks import SqliteSink

from .fakes import MemoryProvider

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_each_conversation_logs_started_and_finished(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """INFO lines name each conversation when it starts and when it is committed, with counts."""
    caplog.set_level(logging.INFO, logger="backscroll")
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(MemoryProvider.build([3, 2]), sink)
    lines = [
        (r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("backscr")
    ]
    info = logging.INFO
    for conversation_id, count in (("c0", 3), ("c1", 2)):
        assert ("backscroll.migration", info, f"conversation {conversation_id}: started") in lines
        finished = f"conversation {conversation_id}: finished, {count} messages written"
        assert ("backscroll.migration", info, finished) in lines


async def test_failures_log_a_warning_without_the_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused key is logged as a warning and an error, never with the key in it."""
    caplog.set_level(logging.DEBUG, logger="backscroll")
    sandbox = Sandbox(seed=0)
    async with (
        sandbox.cursor(api_key="sk-secret-in-logs", max_retries=0) as provider,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        await backscroll.migrate(provider, sink, conversation_ids=["con_9s2kd81"])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("con_9s2kd81: failed" in r.getMessage() for r in warnings)
    assert any("migration stopped" in r.getMessage() for r in warnings)
    for record in caplog.records:
        assert "sk-secret-in-logs" not in record.getMessage()
        assert CURSOR_API_KEY not in record.getMessage()
