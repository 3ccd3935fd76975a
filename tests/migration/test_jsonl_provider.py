"""JsonlProvider: an export read back as a provider, so it migrates onward."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import (
    ChatHistoryProvider,
    ConfigurationError,
    ConversionError,
    ListsConversations,
    Message,
    to_dict,
)
from backscroll.providers import JsonlProvider
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import EPOCH, MemoryProvider, expected, message, sqlite_messages

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


def write_lines(path: Path, messages: list[Message]) -> None:
    path.write_text("".join(json.dumps(to_dict(m)) + "\n" for m in messages), encoding="utf-8")


async def read(provider: JsonlProvider, conversation_id: str, **options: object) -> list[Message]:
    return [m async for m in provider.messages(conversation_id, **options)]  # type: ignore[arg-type]


def test_it_is_a_provider_that_lists(tmp_path: Path) -> None:
    """JsonlProvider satisfies ChatHistoryProvider and ListsConversations."""
    provider = JsonlProvider(tmp_path / "x.jsonl")
    assert isinstance(provider, ChatHistoryProvider)
    assert isinstance(provider, ListsConversations)


async def test_an_export_migrates_onward_unchanged(tmp_path: Path) -> None:
    """Source to JSONL, JSONL to SQLite: the SQLite file holds exactly the source's messages."""
    source = MemoryProvider.build([7, 0, 30, 12], burst=3)
    async with JsonlSink(tmp_path / "export.jsonl") as sink:
        await backscroll.migrate(source, sink, concurrency=4)
    async with (
        JsonlProvider(tmp_path / "export.jsonl") as export,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        report = await backscroll.migrate(export, sink)
    stored = sqlite_messages(tmp_path / "out.db")
    assert {(m.provider, m.conversation_id, m.id): m for m in stored} == expected(source)
    assert report.messages_written == len(stored) == 49


async def test_an_export_of_an_export_has_the_same_lines(tmp_path: Path) -> None:
    """Re-exporting an export gives the same lines (grouped by conversation)."""
    source = MemoryProvider.build([5, 6, 7])
    async with JsonlSink(tmp_path / "a.jsonl") as sink:
        await backscroll.migrate(source, sink, concurrency=3)
    async with (
        JsonlProvider(tmp_path / "a.jsonl") as export,
        JsonlSink(tmp_path / "b.jsonl") as sink,
    ):
        await backscroll.migrate(export, sink)
    first = (tmp_path / "a.jsonl").read_text().splitlines()
    second = (tmp_path / "b.jsonl").read_text().splitlines()
    assert sorted(first) == sorted(second)


async def test_conversations_are_the_distinct_ids_in_first_appearance_order(tmp_path: Path) -> None:
    """conversations() lists each id once, in file order, with its provider and first time."""
    lines = [message("b", 2), message("a", 1), message("b", 3, provider="memory")]
    write_lines(tmp_path / "x.jsonl", lines)
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        listed = [c async for c in provider.conversations()]
        limited = [c async for c in provider.conversations(limit=1)]
    assert [(c.id, c.provider) for c in listed] == [("b", "memory"), ("a", "memory")]
    assert listed[0].created_at == EPOCH + timedelta(seconds=2)
    assert [c.id for c in limited] == ["b"]


async def test_messages_honour_order_window_and_page_size(tmp_path: Path) -> None:
    """order, since, until and a small page size behave as for every provider."""
    write_lines(tmp_path / "x.jsonl", [message("c", n) for n in range(10)])
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        ascending = await read(provider, "c", page_size=3)
        descending = await read(provider, "c", order="desc", page_size=4)
        window = await read(
            provider, "c", since=EPOCH + timedelta(seconds=3), until=EPOCH + timedelta(seconds=6)
        )
        missing = await read(provider, "nope")
    assert [m.id for m in ascending] == [f"c-m{n}" for n in range(10)]
    assert [m.id for m in descending] == [f"c-m{n}" for n in reversed(range(10))]
    assert [m.id for m in window] == ["c-m3", "c-m4", "c-m5"]
    assert missing == []


async def test_lines_out_of_time_order_come_back_sorted(tmp_path: Path) -> None:
    """A file whose conversation is not in time order is read in time order anyway."""
    write_lines(tmp_path / "x.jsonl", [message("c", 2), message("c", 0), message("c", 1)])
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        assert [m.id for m in await read(provider, "c")] == ["c-m0", "c-m1", "c-m2"]
        assert [m.id for m in await read(provider, "c", order="desc")] == ["c-m2", "c-m1", "c-m0"]


async def test_a_repeated_line_is_yielded_once(tmp_path: Path) -> None:
    """The same message twice in a file (an export made twice) is yielded once."""
    write_lines(tmp_path / "x.jsonl", [message("c", 0), message("c", 1), message("c", 1)])
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        assert [m.id for m in await read(provider, "c", page_size=1)] == ["c-m0", "c-m1"]


async def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Empty lines (say, a trailing one) are skipped."""
    line = json.dumps(to_dict(message("c", 0)))
    (tmp_path / "x.jsonl").write_text(f"\n{line}\n\n")
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        assert len(await read(provider, "c")) == 1


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"id": "half a li', "not JSON"),
        ("[1, 2]", "JSON list, not an object"),
        ('{"id": "x", "provider": "p"}', "no conversation_id"),
        ('{"id": "x", "conversation_id": "c"}', "no provider"),
    ],
)
async def test_a_corrupt_line_names_the_file_and_line(
    tmp_path: Path, line: str, match: str
) -> None:
    """A line that is not a message raises ConversionError naming the file and line."""
    good = json.dumps(to_dict(message("c", 0)))
    (tmp_path / "x.jsonl").write_text(f"{good}\n{good}\n{line}\n")
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        with pytest.raises(ConversionError, match=rf"x\.jsonl, line 3, .*{match}"):
            await read(provider, "c")


async def test_a_line_with_a_bad_field_names_the_file_line_and_field(tmp_path: Path) -> None:
    """A line whose fields do not make a Message names the file, the line and the field."""
    data = to_dict(message("c", 0))
    data["role"] = "wizard"
    (tmp_path / "x.jsonl").write_text(json.dumps(data) + "\n")
    async with JsonlProvider(tmp_path / "x.jsonl") as provider:
        with pytest.raises(ConversionError, match=r"x\.jsonl, line 1, .*role"):
            await read(provider, "c")


async def test_a_migration_from_a_corrupt_export_raises_before_writing(tmp_path: Path) -> None:
    """Migrating a damaged export stops with the ConversionError, the sink untouched."""
    (tmp_path / "x.jsonl").write_text("not json\n")
    async with (
        JsonlProvider(tmp_path / "x.jsonl") as provider,
        SqliteSink(tmp_path / "o.db") as sink,
    ):
        with pytest.raises(ConversionError, match="line 1"):
            await backscroll.migrate(provider, sink)
    assert sqlite_messages(tmp_path / "o.db") == []


async def test_a_missing_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    """A file that cannot be read raises ConfigurationError with its path."""
    async with JsonlProvider(tmp_path / "nope.jsonl") as provider:
        with pytest.raises(ConfigurationError, match=r"nope\.jsonl"):
            [c async for c in provider.conversations()]


async def test_bad_arguments_are_configuration_errors(tmp_path: Path) -> None:
    """A bad order, id or limit is refused before the file is read."""
    provider = JsonlProvider(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigurationError, match="order"):
        provider.messages("c", order="sideways")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="conversation_id"):
        provider.messages("")
    with pytest.raises(ConfigurationError, match="limit"):
        [c async for c in provider.conversations(limit=0)]


async def test_leaving_async_with_drops_the_index_and_reads_the_file_again(
    tmp_path: Path,
) -> None:
    """`async with` gives the provider and closes it: a later read indexes the file anew."""
    path = tmp_path / "x.jsonl"
    write_lines(path, [message("c0", 0)])
    provider = JsonlProvider(path)
    async with provider as entered:
        assert entered is provider
        assert len(await read(provider, "c0")) == 1
    write_lines(path, [message("c0", 0), message("c0", 1)])
    assert len(await read(provider, "c0")) == 2
