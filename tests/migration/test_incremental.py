"""A rerun after a complete run copies only what is new: the incremental sync."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

import backscroll
from backscroll import Message
from backscroll.sandbox import Sandbox
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import EPOCH, MemoryProvider, expected, jsonl_keys, message, sqlite_messages

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_a_rerun_copies_only_new_messages(tmp_path: Path) -> None:
    """Messages appended to the source, and new conversations, are all a rerun writes."""
    source = MemoryProvider.build([4, 6], burst=2)
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    source.append("c0", 3)
    source.data["c9"] = [message("c9", n) for n in range(2)]
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.messages_written == 5
    keys = jsonl_keys(tmp_path / "out.jsonl")
    assert len(keys) == len(set(keys)) == 15
    assert set(keys) == set(expected(source))


async def test_the_source_is_asked_from_the_watermark(tmp_path: Path) -> None:
    """A finished conversation is read with since= its newest committed time."""
    source = MemoryProvider.build([5])
    checkpoint = tmp_path / "ckpt.json"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        source.reads.clear()
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert source.reads == [("c0", EPOCH + timedelta(seconds=4))]


async def test_new_messages_in_the_boundary_second_are_copied_once(tmp_path: Path) -> None:
    """Messages that share the watermark's timestamp are told apart by id, not by time."""
    source = MemoryProvider.build([8], burst=4)  # seconds 0,0,0,0,1,1,1,1
    checkpoint = tmp_path / "ckpt.json"
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
        source.data["c0"] += [message("c0", n, second=1) for n in (8, 9)]
        report = await backscroll.migrate(source, sink, checkpoint=checkpoint)
    assert report.messages_written == 2
    assert report.messages_skipped == 4
    assert len(sqlite_messages(tmp_path / "out.db")) == 10


async def test_since_copies_only_later_messages(tmp_path: Path) -> None:
    """With since=, older messages are not copied, and a rerun finds nothing more."""
    source = MemoryProvider.build([10])
    since = EPOCH + timedelta(seconds=6)
    checkpoint = tmp_path / "ckpt.json"
    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(source, sink, since=since, checkpoint=checkpoint)
        again = await backscroll.migrate(source, sink, since=since, checkpoint=checkpoint)
    assert report.messages_written == 4
    assert again.messages_written == 0
    assert [m.id for m in sqlite_messages(tmp_path / "out.db")] == [
        f"c0-m{n}" for n in range(6, 10)
    ]


async def read_all(provider: Any, ids: list[str]) -> dict[tuple[str, str, str], Message]:
    """The ground truth: every message of these conversations, read without faults."""
    truth = {}
    for conversation_id in ids:
        async with contextlib.aclosing(provider.messages(conversation_id)) as messages:
            async for item in messages:
                truth[item.provider, item.conversation_id, item.id] = item
    return truth


def vendor_ids(sandbox: Sandbox, vendor: str) -> list[str]:
    """The sandbox's conversation ids of one vendor."""
    data = sandbox.data
    return list(
        {"convai": data.convai_interactions, "talkifai": data.talkifai, "cursor": data.cursor}[
            vendor
        ]
    )


def extend(sandbox: Sandbox, vendor: str, conversation_id: str, count: int) -> None:
    """Append messages at the vendor."""
    getattr(sandbox.data, f"extend_{vendor}")(conversation_id, count)


@pytest.mark.parametrize("vendor", ["convai", "talkifai", "cursor"])
async def test_incremental_sync_against_each_sandbox_vendor(tmp_path: Path, vendor: str) -> None:
    """Against each fake vendor, a rerun after new messages copies exactly the new ones."""
    sandbox = Sandbox(seed=7)
    ids = vendor_ids(sandbox, vendor)
    checkpoint = tmp_path / "ckpt.json"
    async with getattr(sandbox, vendor)() as provider, SqliteSink(tmp_path / "out.db") as sink:
        first = await backscroll.migrate(
            provider, sink, conversation_ids=ids, checkpoint=checkpoint
        )
        extend(sandbox, vendor, ids[-1], 3)  # a generated conversation, not a documented one
        second = await backscroll.migrate(
            provider, sink, conversation_ids=ids, checkpoint=checkpoint
        )
        truth = await read_all(provider, ids)
    stored = sqlite_messages(tmp_path / "out.db")
    assert {(m.provider, m.conversation_id, m.id): m for m in stored} == truth
    assert len(stored) == len(truth)
    assert first.messages_written + second.messages_written == len(truth)
    assert 3 <= second.messages_written <= 9  # Convai interactions hold 1 to 3 messages


async def test_the_cursor_api_is_asked_only_for_the_new_page(tmp_path: Path) -> None:
    """The cursor API's second run pages from the watermark, not from the beginning."""
    sandbox = Sandbox(seed=3)
    conversation_id = vendor_ids(sandbox, "cursor")[-1]
    checkpoint = tmp_path / "ckpt.json"
    async with sandbox.cursor() as provider, SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(
            provider, sink, conversation_ids=[conversation_id], checkpoint=checkpoint
        )
        extend(sandbox, "cursor", conversation_id, 2)
        sandbox.requests.clear()
        report = await backscroll.migrate(
            provider, sink, conversation_ids=[conversation_id], checkpoint=checkpoint
        )
    assert report.messages_written == 2
    queries = [r.query for r in sandbox.requests if r.vendor == "cursor"]
    assert queries
    assert all("after=1970" not in query for query in queries)
