"""Training formats: OpenAI/TRL and ShareGPT, one JSON line per conversation."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import pytest

import backscroll
from backscroll import ConfigurationError, NotFoundError, ProgressEvent, Role, SinkError
from backscroll.formats import export_conversations, openai_record, sharegpt_record
from backscroll.providers import JsonlProvider
from backscroll.sinks import JsonlSink

from .fakes import MemoryProvider, message

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

ROLES = [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL, Role.UNKNOWN, Role.USER]


def conversation() -> list[Any]:
    return [
        attrs.evolve(message("c", n), role=role, content=f"line {n}")
        for n, role in enumerate(ROLES)
    ]


def check_openai_shape(record: object) -> None:
    """What OpenAI fine-tuning and TRL's conversational datasets accept."""
    assert isinstance(record, dict)
    assert set(record) == {"messages"}
    for entry in record["messages"]:
        assert set(entry) == {"role", "content"}
        assert entry["role"] in {"system", "user", "assistant"}
        assert isinstance(entry["content"], str)


def check_sharegpt_shape(record: object) -> None:
    """What ShareGPT readers (FastChat, LLaMA-Factory) accept."""
    assert isinstance(record, dict)
    assert set(record) == {"conversations"}
    for entry in record["conversations"]:
        assert set(entry) == {"from", "value"}
        assert entry["from"] in {"system", "human", "gpt"}
        assert isinstance(entry["value"], str)


def test_openai_record_maps_roles_and_leaves_out_the_rest() -> None:
    """System, user and assistant keep their roles, in order; tool and unknown are left out."""
    record = openai_record(conversation())
    check_openai_shape(record)
    assert record["messages"] == [
        {"role": "system", "content": "line 0"},
        {"role": "user", "content": "line 1"},
        {"role": "assistant", "content": "line 2"},
        {"role": "user", "content": "line 5"},
    ]


def test_sharegpt_record_maps_speakers() -> None:
    """Users become human, assistants gpt, system stays; tool and unknown are left out."""
    record = sharegpt_record(conversation())
    check_sharegpt_shape(record)
    assert [(e["from"], e["value"]) for e in record["conversations"]] == [
        ("system", "line 0"),
        ("human", "line 1"),
        ("gpt", "line 2"),
        ("human", "line 5"),
    ]


@pytest.mark.parametrize(
    ("style", "check"), [("openai", check_openai_shape), ("sharegpt", check_sharegpt_shape)]
)
async def test_export_writes_one_line_per_conversation(
    tmp_path: Path, style: str, check: Any
) -> None:
    """Each non-empty conversation becomes one line in the chosen shape."""
    source = MemoryProvider.build([3, 0, 5])
    report = await export_conversations(source, tmp_path / "train.jsonl", format=style)  # type: ignore[arg-type]
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        check(json.loads(line))
    assert report.conversations_done == 3
    assert report.messages_written == 8
    assert report.complete


async def test_export_from_a_jsonl_export(tmp_path: Path) -> None:
    """A lossless export converts later: JsonlProvider is a source like any other."""
    source = MemoryProvider.build([4, 2])
    async with JsonlSink(tmp_path / "all.jsonl") as sink:
        await backscroll.migrate(source, sink, concurrency=1)
    async with JsonlProvider(tmp_path / "all.jsonl") as export:
        await export_conversations(export, tmp_path / "train.jsonl", format="openai", concurrency=1)
    lines = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert [len(line["messages"]) for line in lines] == [4, 2]
    assert lines[0]["messages"][0] == {"role": "user", "content": "message 0 of c0 ✓"}


async def test_export_replaces_the_file_only_at_the_end(tmp_path: Path) -> None:
    """The target is replaced whole; no temporary file remains."""
    target = tmp_path / "train.jsonl"
    target.write_text("old\n")
    await export_conversations(MemoryProvider.build([2]), target, format="sharegpt")
    assert "old" not in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]  # noqa: ASYNC240


async def test_a_failing_conversation_is_reported_and_the_rest_exported(tmp_path: Path) -> None:
    """A conversation that fails is listed in the report; the file has the others."""

    class Broken(MemoryProvider):
        async def messages(self, conversation_id: str, **options: Any) -> Any:
            """Fail for c1."""
            if conversation_id == "c1":
                raise NotFoundError("gone", status_code=404, provider="memory")
            async for item in MemoryProvider.messages(self, conversation_id, **options):
                yield item

    source = Broken(MemoryProvider.build([2, 2, 2]).data)
    report = await export_conversations(source, tmp_path / "t.jsonl", format="openai")
    assert [f.conversation_id for f in report.failures] == ["c1"]
    assert not report.complete
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 2


async def test_export_refuses_an_unknown_format(tmp_path: Path) -> None:
    """A format other than openai or sharegpt is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="format"):
        await export_conversations(MemoryProvider(), tmp_path / "t.jsonl", format="csv")  # type: ignore[arg-type]


async def test_export_into_a_missing_directory_is_a_sink_error(tmp_path: Path) -> None:
    """A target that cannot be written raises SinkError naming it."""
    with pytest.raises(SinkError, match="nowhere"):
        await export_conversations(
            MemoryProvider.build([1]), tmp_path / "nowhere" / "t.jsonl", format="openai"
        )


async def test_export_needs_ids_from_a_source_that_cannot_list(tmp_path: Path) -> None:
    """Without conversation_ids, a source that cannot list is refused; so is one string."""

    class ReadOnly:
        def messages(self, conversation_id: str, **options: Any) -> Any:
            return MemoryProvider().messages(conversation_id, **options)

    with pytest.raises(ConfigurationError, match="conversation_ids"):
        await export_conversations(ReadOnly(), tmp_path / "t.jsonl", format="openai")
    with pytest.raises(ConfigurationError, match="not one string"):
        await export_conversations(
            MemoryProvider(), tmp_path / "t.jsonl", format="openai", conversation_ids="c0"
        )


async def test_export_reports_progress_and_takes_ids(tmp_path: Path) -> None:
    """Given ids are exported once each, with listed, started and finished events."""
    events: list[ProgressEvent] = []
    report = await export_conversations(
        MemoryProvider.build([2, 3]),
        tmp_path / "t.jsonl",
        format="openai",
        conversation_ids=["c1", "c1"],
        on_progress=events.append,
    )
    assert report.conversations_done == 1
    assert [(e.kind, e.messages) for e in events] == [
        ("listed", 0),
        ("started", 0),
        ("finished", 3),
    ]


async def test_export_fail_fast_stops_at_the_first_failure(tmp_path: Path) -> None:
    """With fail_fast, no conversation starts after one fails."""
    source = MemoryProvider.build([1, 1, 1])
    real = source.messages

    def failing(conversation_id: str, **options: Any) -> Any:
        if conversation_id == "c0":
            raise ZeroDivisionError
        return real(conversation_id, **options)

    source.messages = failing  # type: ignore[method-assign]
    report = await export_conversations(
        source, tmp_path / "t.jsonl", format="openai", concurrency=1, fail_fast=True
    )
    assert [f.error_type for f in report.failures] == ["ZeroDivisionError"]
    assert report.conversations_done == 0
    assert not report.complete


async def test_a_listing_failure_leaves_the_old_file(tmp_path: Path) -> None:
    """If listing fails, export_conversations raises and the target keeps its content."""

    class Unlistable(MemoryProvider):
        async def conversations(self, *, limit: int | None = None) -> Any:  # noqa: ARG002
            """Fail at once."""
            raise NotFoundError("no such character", status_code=404, provider="memory")
            yield  # type: ignore[unreachable]  # pragma: no cover - makes it a generator

    target = tmp_path / "t.jsonl"
    target.write_text("old\n")
    with pytest.raises(NotFoundError, match="no such character"):
        await export_conversations(Unlistable(), target, format="openai")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # noqa: ASYNC240


async def test_a_cancelled_export_leaves_the_old_file(tmp_path: Path) -> None:
    """A cancelled export removes its temporary file; the target is untouched."""
    target = tmp_path / "t.jsonl"
    target.write_text("old\n")
    with anyio.CancelScope() as scope:

        def stop(event: ProgressEvent) -> None:
            if event.kind == "finished":
                scope.cancel()

        await export_conversations(
            MemoryProvider.build([3, 3, 3]), target, format="openai", on_progress=stop
        )
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # noqa: ASYNC240


async def test_a_conversation_failing_midway_writes_no_line(tmp_path: Path) -> None:
    """What a failed conversation yielded before failing (batches of it) is not exported."""

    class Midway(MemoryProvider):
        async def messages(self, conversation_id: str, **options: Any) -> Any:
            """Fail c0 after 500 messages, two batches' worth."""
            inner = MemoryProvider.messages(self, conversation_id, **options)
            async with contextlib.aclosing(inner):
                async for item in inner:
                    if item.id == "c0-m500":
                        raise ZeroDivisionError
                    yield item

    source = Midway(MemoryProvider.build([600, 2]).data)
    report = await export_conversations(source, tmp_path / "t.jsonl", format="openai")
    assert [f.conversation_id for f in report.failures] == ["c0"]
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [len(line["messages"]) for line in lines] == [2]
    assert report.messages_written == 2
