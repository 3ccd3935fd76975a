"""The sinks: JsonlSink and SqliteSink on real files, and the Sink protocol for your own."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from typing import TYPE_CHECKING

import attrs
import pytest

import backscroll
from backscroll import Conversation, Message, SinkError, from_dict, to_dict
from backscroll.sinks import JsonlSink, RewindableSink, Sink, SqliteSink

from .fakes import MemoryProvider, jsonl_messages, message, sqlite_messages

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
from typing import Any

pytestmark = pytest.mark.anyio


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


# -- JsonlSink -------------------------------------------------------------------------------


async def test_jsonl_lines_are_the_canonical_to_dict_form(tmp_path: Path) -> None:
    """Each line is json.dumps(to_dict(message)), readable text, and reads back equal."""
    messages = [message("c0", n) for n in range(3)]
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await sink.write(messages)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [to_dict(m) for m in messages]
    assert [from_dict(Message, json.loads(line)) for line in lines] == messages
    assert "✓" in lines[0]  # not \u-escaped


async def test_jsonl_keeps_a_lone_surrogate_losslessly(tmp_path: Path) -> None:
    """Text UTF-8 cannot carry (a lone surrogate) is escaped on its line and reads back."""
    odd = Message(
        id="x",
        conversation_id="c",
        role=backscroll.Role.USER,
        content="a\ud800b",
        created_at=None,
        provider="p",
    )
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await sink.write([odd, message("c", 1)])
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert b"\\ud800" in lines[0]
    assert from_dict(Message, json.loads(lines[0])) == odd


async def test_jsonl_position_is_the_committed_size(tmp_path: Path) -> None:
    """position() moves at commit, not at write."""
    sink = JsonlSink(tmp_path / "out.jsonl")
    assert await sink.position() == 0
    await sink.write([message("c", 0)])
    assert await sink.position() == 0
    await sink.commit()
    assert await sink.position() == (tmp_path / "out.jsonl").stat().st_size > 0
    await sink.aclose()


async def test_jsonl_rewind_cuts_what_was_written_after(tmp_path: Path) -> None:
    """rewind(position) drops everything after that commit."""
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await sink.write([message("c", 0)])
        await sink.commit()
        mark = await sink.position()
        await sink.write([message("c", 1), message("c", 2)])
        await sink.commit()
        await sink.rewind(mark)
        await sink.write([message("c", 3)])
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert ids == ["c-m0", "c-m3"]


async def test_jsonl_rewind_past_the_end_is_a_sink_error(tmp_path: Path) -> None:
    """A file shorter than the position it should go back to was replaced: SinkError."""
    (tmp_path / "out.jsonl").write_text("")
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        with pytest.raises(SinkError, match=r"out\.jsonl.*replaced or truncated"):
            await sink.rewind(100)


async def test_jsonl_appends_after_a_file_without_final_newline(tmp_path: Path) -> None:
    """An existing file that lacks its final newline gets one before the first new line."""
    (tmp_path / "out.jsonl").write_text(json.dumps(to_dict(message("c", 0))))
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await sink.write([message("c", 1)])
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["c-m0", "c-m1"]


async def test_jsonl_on_a_directory_is_a_sink_error_naming_it(tmp_path: Path) -> None:
    """A path that cannot be opened for appending raises SinkError with the path."""
    with pytest.raises(SinkError, match=str(tmp_path)):
        async with JsonlSink(tmp_path):
            pass


async def test_a_closed_jsonl_sink_refuses_writes(tmp_path: Path) -> None:
    """Writing after aclose() is a SinkError, not a silent reopen."""
    sink = JsonlSink(tmp_path / "out.jsonl")
    await sink.aclose()
    with pytest.raises(SinkError, match="closed"):
        await sink.write([message("c", 0)])


# -- SqliteSink ------------------------------------------------------------------------------


async def test_sqlite_creates_the_documented_tables(tmp_path: Path) -> None:
    """A new file gets conversations and messages tables, keyed as documented, in WAL mode."""
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write([message("c0", 0)])
    database = tmp_path / "out.db"
    tables = {
        name for (name,) in query(database, "SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert tables == {"conversations", "messages"}
    keys = [row[1] for row in query(database, "PRAGMA table_info(messages)") if row[5]]
    assert keys == ["provider", "conversation_id", "id"]
    assert query(database, "PRAGMA journal_mode") == [("wal",)]
    assert query(database, "SELECT provider, id FROM conversations") == [("memory", "c0")]


async def test_sqlite_upserts_so_a_message_is_stored_once(tmp_path: Path) -> None:
    """Writing a message again replaces it: one row, the newest content."""
    first = message("c0", 0)
    edited = attrs.evolve(first, content="edited")
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write([first])
        await sink.commit()
        await sink.write([first, edited])
    assert [m.content for m in sqlite_messages(tmp_path / "out.db")] == ["edited"]


async def test_sqlite_data_column_is_lossless(tmp_path: Path) -> None:
    """The data column reads back as the very message, metadata and raw included."""
    messages = [message("c0", n) for n in range(4)]
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write(messages)
    assert sqlite_messages(tmp_path / "out.db") == messages
    rows = query(tmp_path / "out.db", "SELECT created_at FROM messages ORDER BY created_at")
    assert rows[0] == ("2024-09-25T19:00:00.000000Z",)


async def test_sqlite_stores_a_lone_surrogate_in_data(tmp_path: Path) -> None:
    """A lone surrogate becomes U+FFFD in the text column and stays exact in data."""
    odd = Message(
        id="x",
        conversation_id="c",
        role=backscroll.Role.USER,
        content="a\ud800b",
        created_at=None,
        provider="p",
    )
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write([odd])
    assert query(tmp_path / "out.db", "SELECT content FROM messages") == [("a\ufffdb",)]
    assert sqlite_messages(tmp_path / "out.db") == [odd]


async def test_sqlite_records_conversations_from_a_listing_source(tmp_path: Path) -> None:
    """Conversations a source lists are stored with their to_dict form."""
    source = MemoryProvider.build([1])
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink)
    ((data,),) = query(tmp_path / "out.db", "SELECT data FROM conversations")
    assert from_dict(Conversation, json.loads(str(data))) == Conversation(
        id="c0", provider="memory"
    )


async def test_sqlite_without_commit_keeps_nothing(tmp_path: Path) -> None:
    """aclose() rolls back what was not committed."""
    sink = SqliteSink(tmp_path / "out.db")
    await sink.write([message("c0", 0)])
    await sink.aclose()
    assert sqlite_messages(tmp_path / "out.db") == []


async def test_sqlite_counts_committed_messages(tmp_path: Path) -> None:
    """count_messages() counts a conversation's messages for delete_after."""
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write([message("c0", n) for n in range(3)])
        await sink.commit()
        assert await sink.count_messages("memory", "c0") == 3
        assert await sink.count_messages("memory", "other") == 0


async def test_sqlite_calls_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection is made (and so used) in a worker thread, not the loop's."""
    threads: list[threading.Thread] = []
    real_connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        threads.append(threading.current_thread())
        connection: sqlite3.Connection = real_connect(*args, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    async with SqliteSink(tmp_path / "out.db") as sink:
        await sink.write([message("c0", 0)])
    assert threads
    assert threading.current_thread() not in threads


async def test_a_file_that_is_not_sqlite_is_a_sink_error(tmp_path: Path) -> None:
    """Pointing SqliteSink at another kind of file raises SinkError naming it."""
    (tmp_path / "notes.txt").write_text("not a database, just words " * 100)
    with pytest.raises(SinkError, match=r"notes\.txt"):
        async with SqliteSink(tmp_path / "notes.txt"):
            pass


async def test_another_schema_version_is_a_sink_error(tmp_path: Path) -> None:
    """A database with another schema version is refused rather than altered."""
    with contextlib.closing(sqlite3.connect(tmp_path / "other.db")) as connection:
        connection.execute("PRAGMA user_version = 42")
    with pytest.raises(SinkError, match="schema version 42"):
        async with SqliteSink(tmp_path / "other.db"):
            pass


async def test_a_missing_directory_is_a_sink_error(tmp_path: Path) -> None:
    """A database path in a directory that does not exist raises SinkError naming it."""
    with pytest.raises(SinkError, match="nowhere"):
        async with SqliteSink(tmp_path / "nowhere" / "out.db"):
            pass


async def test_a_closed_sqlite_sink_refuses_writes(tmp_path: Path) -> None:
    """Writing after aclose() is a SinkError."""
    sink = SqliteSink(tmp_path / "out.db")
    await sink.aclose()
    with pytest.raises(SinkError, match="closed"):
        await sink.write([message("c", 0)])


# -- the protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [JsonlSink, SqliteSink])
async def test_async_with_commits_a_clean_exit_and_closes_for_good(
    tmp_path: Path, kind: type[JsonlSink | SqliteSink]
) -> None:
    """Both sinks commit on a clean exit, close either way, and stay closed."""
    sink = kind(tmp_path / "out")
    async with sink:
        await sink.write([message("c", 0)])
    assert repr(sink) == f"{kind.__name__}({str(tmp_path / 'out')!r})"
    with pytest.raises(SinkError, match=f"{kind.__name__} .* create a new {kind.__name__}"):
        async with sink:
            pass
    async with kind(tmp_path / "out") as reopened:
        assert isinstance(reopened, kind)
    if kind is SqliteSink:
        assert len(sqlite_messages(tmp_path / "out")) == 1
    else:
        assert len(jsonl_messages(tmp_path / "out")) == 1


def test_the_built_in_sinks_satisfy_the_protocols(tmp_path: Path) -> None:
    """Both are Sinks; only the append-only JsonlSink is a RewindableSink."""
    assert isinstance(JsonlSink(tmp_path / "a"), RewindableSink)
    assert isinstance(SqliteSink(tmp_path / "b"), Sink)
    assert not isinstance(SqliteSink(tmp_path / "b"), RewindableSink)


class DictSink:
    """A user's own sink in a few lines: an upserting dict, 'committed' on commit."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str, str], Message] = {}
        self.committed: dict[tuple[str, str, str], Message] = {}

    async def write(self, messages: Sequence[Message]) -> None:
        """Upsert by provider, conversation and id."""
        for m in messages:
            self.pending[m.provider, m.conversation_id, m.id] = m

    async def commit(self) -> None:
        """Make the pending messages stick."""
        self.committed |= self.pending
        self.pending = {}

    async def aclose(self) -> None:
        """Nothing to release."""


async def test_a_users_own_sink_works_with_migrate() -> None:
    """A class with write, commit and aclose is a Sink, and migrate fills it."""
    sink = DictSink()
    assert isinstance(sink, Sink)
    source = MemoryProvider.build([3, 4])
    report = await backscroll.migrate(source, sink)
    assert report.messages_written == 7
    assert len(sink.committed) == 7
    assert not sink.pending
