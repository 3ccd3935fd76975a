"""delete_after: Convai sessions go only once their messages are committed and counted."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

import backscroll
from backscroll import Message
from backscroll.sandbox import Faults, Sandbox
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import Crash, crash_on, jsonl_keys

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

pytestmark = pytest.mark.anyio


def held(database: Path, session_ids: Sequence[str]) -> dict[str, int]:
    """Messages per session that another connection sees in the database: committed ones."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return {
            session_id: connection.execute(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (session_id,)
            ).fetchone()[0]
            for session_id in session_ids
        }


def served(sandbox: Sandbox) -> dict[str, int]:
    """Messages per session at the vendor: one per speaker entry."""
    return {
        session_id: sum(len(i["interaction"]) for i in interactions)
        for session_id, interactions in sandbox.data.convai_interactions.items()
    }


async def test_sessions_are_never_deleted_by_default(tmp_path: Path) -> None:
    """Without delete_after, a migration sends no delete request at all."""
    sandbox = Sandbox(seed=1)
    before = served(sandbox)
    async with sandbox.convai() as provider, SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(provider, sink)
    assert served(sandbox) == before
    assert not [r for r in sandbox.requests if r.route == "delete"]


async def test_deletes_each_session_only_after_its_messages_are_committed(tmp_path: Path) -> None:
    """At each delete request, the database already holds every message of those sessions."""
    sandbox = Sandbox(seed=1)
    counts = served(sandbox)
    seen_at_delete: list[dict[str, int]] = []
    database = tmp_path / "out.db"
    async with sandbox.convai() as provider, SqliteSink(database) as sink:
        real_delete = provider.delete_conversations

        async def watched_delete(ids: Sequence[str]) -> None:
            seen_at_delete.append(held(database, ids))
            await real_delete(ids)

        provider.delete_conversations = watched_delete  # type: ignore[method-assign]
        report = await backscroll.migrate(provider, sink, delete_after=True)
    assert sorted(report.deleted) == sorted(counts)
    assert {k: v for seen in seen_at_delete for k, v in seen.items()} == counts
    assert sandbox.data.convai_interactions == {}
    assert held(database, list(counts)) == counts


async def test_a_session_whose_counts_differ_is_kept(tmp_path: Path) -> None:
    """A session the sink holds only part of (here: since= left some out) is not deleted."""
    sandbox = Sandbox(seed=1)
    before = served(sandbox)
    times = {
        session_id: [datetime.fromisoformat(f"{i['timestamp']}+00:00") for i in interactions]
        for session_id, interactions in sandbox.data.convai_interactions.items()
    }
    since = max(max(moments) for moments in times.values() if moments)
    partial = {
        session_id for session_id, moments in times.items() if min(moments, default=since) < since
    }
    async with sandbox.convai() as provider, SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(provider, sink, since=since, delete_after=True)
    assert partial
    assert not partial & set(report.deleted)
    assert all(before[session_id] == served(sandbox)[session_id] for session_id in partial)
    assert {f.conversation_id for f in report.failures} == partial
    assert {f.error_type for f in report.failures} == {"CountMismatch"}
    assert all("not deleted" in f.reason for f in report.failures)
    assert not report.complete


async def test_a_failed_delete_is_reported_and_retried_next_run(tmp_path: Path) -> None:
    """A delete the vendor refuses is a failure; the next run deletes without copying again."""
    sandbox = Sandbox(seed=1, faults={"convai/delete": Faults(rate=1.0, statuses={500: 1})})
    checkpoint = tmp_path / "ckpt.json"
    async with sandbox.convai(max_retries=0) as provider, SqliteSink(tmp_path / "out.db") as sink:
        failed = await backscroll.migrate(provider, sink, delete_after=True, checkpoint=checkpoint)
        assert failed.deleted == ()
        assert all("deleting it failed" in f.reason for f in failed.failures)
        assert sandbox.data.convai_interactions
        sandbox.set_faults("convai/delete", None)
        report = await backscroll.migrate(provider, sink, delete_after=True, checkpoint=checkpoint)
    assert report.ok
    assert report.messages_written == 0
    assert len(report.deleted) == failed.conversations_done
    assert sandbox.data.convai_interactions == {}


async def test_a_crash_before_deleting_leaves_the_sessions_for_the_rerun(tmp_path: Path) -> None:
    """A commit that lands but whose run dies deletes nothing; the rerun deletes them all."""
    sandbox = Sandbox(seed=1)
    counts = served(sandbox)
    checkpoint = tmp_path / "ckpt.json"
    async with sandbox.convai() as provider:
        sink = crash_on(SqliteSink(tmp_path / "out.db"), commit=0)
        with pytest.raises(Crash):
            await backscroll.migrate(provider, sink, delete_after=True, checkpoint=checkpoint)
        await sink.aclose()
        assert served(sandbox) == counts
        async with SqliteSink(tmp_path / "out.db") as sink:
            report = await backscroll.migrate(
                provider, sink, delete_after=True, checkpoint=checkpoint
            )
    assert sorted(report.deleted) == sorted(counts)
    assert held(tmp_path / "out.db", list(counts)) == counts


async def test_delete_after_into_jsonl_counts_from_the_checkpoint(tmp_path: Path) -> None:
    """A sink that cannot count (JSONL) is checked against the checkpoint's counts."""
    sandbox = Sandbox(seed=2)
    counts = served(sandbox)
    async with sandbox.convai() as provider, JsonlSink(tmp_path / "out.jsonl") as sink:
        report = await backscroll.migrate(
            provider, sink, delete_after=True, checkpoint=tmp_path / "ckpt.json"
        )
    assert sorted(report.deleted) == sorted(counts)
    assert len(jsonl_keys(tmp_path / "out.jsonl")) == sum(counts.values())


def grow(sandbox: Sandbox, session_id: str) -> None:
    """Add one exchange (two messages) to a session at the vendor, newer than the rest."""
    sandbox.data.convai_interactions[session_id].append(
        {
            "timestamp": "2030-01-01 00:00:00.000001",
            "interaction": [
                {"speaker": "User", "message": "one more thing"},
                {"speaker": "Character", "message": "of course"},
            ],
            "is_trigger_input": False,
        }
    )


async def test_a_session_that_grew_after_it_was_read_is_not_deleted(tmp_path: Path) -> None:
    """New interactions between the copy and the delete: the session is kept and reported."""
    sandbox = Sandbox(seed=1)
    grown = min(sandbox.data.convai_interactions)
    database = tmp_path / "out.db"
    checkpoint = tmp_path / "ckpt.json"

    def on_progress(event: backscroll.ProgressEvent) -> None:
        # "finished": committed, and the delete comes next.
        if event.kind == "finished" and event.conversation_id == grown:
            grow(sandbox, grown)

    async with sandbox.convai() as provider, SqliteSink(database) as sink:
        report = await backscroll.migrate(
            provider, sink, delete_after=True, checkpoint=checkpoint, on_progress=on_progress
        )
        assert grown not in report.deleted
        assert grown in sandbox.data.convai_interactions
        [failure] = report.failures
        assert failure.conversation_id == grown
        assert failure.error_type == "ChangedSinceRead"
        assert "gained 2 messages" in failure.reason
        assert not report.complete
        # The rerun copies the two new messages, then deletes the session.
        final = served(sandbox)[grown]
        again = await backscroll.migrate(provider, sink, delete_after=True, checkpoint=checkpoint)
    assert again.deleted == (grown,)
    assert again.messages_written == 2
    assert sandbox.data.convai_interactions == {}
    assert held(database, [grown]) == {grown: final}


async def test_the_session_is_read_again_just_before_its_delete(tmp_path: Path) -> None:
    """After a session is committed, a fresh read of it comes before its own delete request."""
    sandbox = Sandbox(seed=1)
    log: list[tuple[str, str]] = []
    async with sandbox.convai() as provider, SqliteSink(tmp_path / "out.db") as sink:
        real_messages, real_delete = provider.messages, provider.delete_conversations

        def logged_messages(conversation_id: str, **options: Any) -> AsyncIterator[Message]:
            log.append(("read", conversation_id))
            return real_messages(conversation_id, **options)

        async def logged_delete(ids: Sequence[str]) -> None:
            log.extend(("delete", conversation_id) for conversation_id in ids)
            await real_delete(ids)

        provider.messages = logged_messages  # type: ignore[method-assign]
        provider.delete_conversations = logged_delete  # type: ignore[method-assign]

        def on_progress(event: backscroll.ProgressEvent) -> None:
            if event.kind == "finished":
                log.append(("committed", event.conversation_id))

        report = await backscroll.migrate(
            provider, sink, delete_after=True, on_progress=on_progress
        )
    assert report.ok
    assert len(report.deleted) == len(served(Sandbox(seed=1)))
    for session_id in report.deleted:
        own = [kind for kind, conversation_id in log if conversation_id == session_id]
        assert own == ["read", "committed", "read", "delete"]
