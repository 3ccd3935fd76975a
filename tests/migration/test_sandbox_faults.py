"""Migrating from the sandbox while it misbehaves: retries, failures, and a clean rerun."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

import backscroll
from backscroll import Message
from backscroll.sandbox import Faults, Sandbox
from backscroll.sinks import JsonlSink

from .fakes import jsonl_messages

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

VENDORS = ["convai", "talkifai", "cursor"]


def ids_of(sandbox: Sandbox, vendor: str) -> list[str] | None:
    """The ids to pass: Convai lists its own sessions."""
    if vendor == "convai":
        return None
    return list(getattr(sandbox.data, vendor))


async def truth(sandbox: Sandbox, vendor: str) -> dict[tuple[str, str, str], Message]:
    """Every message, read from a sandbox twin without faults."""
    twin = Sandbox(seed=sandbox.data.seed)
    found = {}
    async with getattr(twin, vendor)() as provider:
        ids = ids_of(twin, vendor) or list(twin.data.convai_interactions)
        for conversation_id in ids:
            async with contextlib.aclosing(provider.messages(conversation_id)) as messages:
                async for m in messages:
                    found[m.provider, m.conversation_id, m.id] = m
    return found


def assert_exactly(path: Path, expected: dict[tuple[str, str, str], Message]) -> None:
    stored = jsonl_messages(path)
    keys = [(m.provider, m.conversation_id, m.id) for m in stored]
    assert len(keys) == len(set(keys))
    assert dict(zip(keys, stored, strict=True)) == expected


@pytest.mark.parametrize("vendor", VENDORS)
async def test_retried_faults_still_copy_everything_once(tmp_path: Path, vendor: str) -> None:
    """With 429s and 503s on a third of requests, retries get every message through once."""
    faults = Faults(rate=0.35, statuses={429: 1, 503: 1}, retry_after=0, seed=11)
    sandbox = Sandbox(seed=4, faults={vendor: faults})
    options: dict[str, Any] = {"max_retries": 12}
    async with (
        getattr(sandbox, vendor)(**options) as provider,
        JsonlSink(tmp_path / "out.jsonl") as sink,
    ):
        report = await backscroll.migrate(
            provider, sink, conversation_ids=ids_of(sandbox, vendor), concurrency=4
        )
    assert report.ok, report.failures
    assert report.retries > 0
    assert_exactly(tmp_path / "out.jsonl", await truth(sandbox, vendor))


@pytest.mark.parametrize("vendor", VENDORS)
async def test_failed_conversations_are_finished_by_a_rerun(tmp_path: Path, vendor: str) -> None:
    """Unretried errors and truncated bodies fail some conversations; a rerun completes."""
    faults = Faults(rate=0.15, statuses={500: 1, 404: 1}, truncate=0.1, seed=5)
    sandbox = Sandbox(seed=9, faults={f"{vendor}/{route}": faults for route in routes(vendor)})
    checkpoint = tmp_path / "ckpt.json"
    async with getattr(sandbox, vendor)(max_retries=0) as provider:
        ids = ids_of(sandbox, vendor)
        async with JsonlSink(tmp_path / "out.jsonl") as sink:
            first = await backscroll.migrate(
                provider, sink, conversation_ids=ids, checkpoint=checkpoint
            )
        assert first.failures
        assert all(f.reason for f in first.failures)
        for route in routes(vendor):
            sandbox.set_faults(f"{vendor}/{route}", None)
        async with JsonlSink(tmp_path / "out.jsonl") as sink:
            second = await backscroll.migrate(
                provider, sink, conversation_ids=ids, checkpoint=checkpoint
            )
    assert second.ok
    assert second.complete
    assert second.conversations_skipped == first.conversations_done
    assert_exactly(tmp_path / "out.jsonl", await truth(sandbox, vendor))


def routes(vendor: str) -> list[str]:
    """The read routes: listing must work for the run to start at all."""
    return {"convai": ["details"], "talkifai": ["messages"], "cursor": ["history"]}[vendor]
