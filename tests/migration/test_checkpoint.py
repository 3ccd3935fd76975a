"""The checkpoint file: atomic, validated, and tied to its source and sink."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Final

import pytest

import backscroll
from backscroll import CheckpointError
from backscroll._migration import checkpoint as checkpoint_module
from backscroll._migration.checkpoint import Checkpoint
from backscroll.providers import JsonlProvider
from backscroll.sandbox import CONVAI_API_KEY, CONVAI_CHARACTER_ID, Sandbox
from backscroll.sinks import JsonlSink, SqliteSink

from .fakes import Crash, MemoryProvider, crash_on, read_checkpoint

pytestmark = pytest.mark.anyio


async def migrate_into_sqlite(tmp_path: Path, source: MemoryProvider | None = None) -> None:
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(
            source or MemoryProvider.build([3]), sink, checkpoint=tmp_path / "ckpt.json"
        )


async def test_the_checkpoint_records_watermarks_and_the_pass(tmp_path: Path) -> None:
    """After a run the file holds each conversation's watermark, count and finished pass."""
    await migrate_into_sqlite(tmp_path, MemoryProvider.build([3, 0], burst=2))
    data = read_checkpoint(tmp_path / "ckpt.json")
    assert data["format"] == "backscroll-checkpoint"
    assert data["version"] == 3
    assert data["source"] == {"name": "memory"}
    # The file relative to the checkpoint's folder: the pair can move together.
    assert data["sink"] == {"type": "SqliteSink", "path": "out.db"}
    assert data["pass_complete"] is True
    assert data["run_open"] is False
    assert data["conversations"]["c0"] == {
        "count": 3,
        "at": "2024-09-25T19:00:01+00:00",
        "ids": ["c0-m2"],
        "finished_pass": 1,
    }
    assert data["conversations"]["c1"] == {"count": 0, "finished_pass": 1}


async def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    """Atomic replacement leaves only the checkpoint itself in its directory."""
    await migrate_into_sqlite(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if "ckpt" in p.name) == ["ckpt.json"]  # noqa: ASYNC240 - a test looks


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the replace fails, the old checkpoint is intact and the temporary file is gone."""
    target = tmp_path / "ckpt.json"
    target.write_bytes(b"old")

    def refuse(self: Path, other: Path) -> Path:  # noqa: ARG001 - Path.replace's signature
        msg = "disk full"
        raise OSError(28, msg)

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        checkpoint_module.write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"line 1 is not valid JSON \(column 2"),
        ("[]", "the file should be an object"),
        ('{"format": "something else"}', "not a backscroll checkpoint"),
        ('{"format": "backscroll-checkpoint", "version": 99}', "version 99 is neither 3 nor 2"),
        ('{"format": "backscroll-checkpoint", "version": 3}\n', "no state after its header"),
        (
            (
                '{"format": "backscroll-checkpoint", "version": 3, "source": {}, "sink": {}}\n'
                '{"pass": 1, "conversations": {"c0": {"count": 1}}\n'  # damaged, not the last
                '{"pass": 1, "pass_complete": false, "conversations": {}}\n'
            ),
            r"line 2 is not valid JSON",
        ),
        ("[" * 100_000 + "]" * 100_000, "line 1 nests deeper than any checkpoint does"),
        (
            '{"format": "backscroll-checkpoint", "version": 3, "source": {}, "sink": {}}\n'
            + "[" * 100_000
            + "]" * 100_000
            + "\n",
            "line 2 nests deeper than any checkpoint does",
        ),
    ],
    ids=["not-json", "list", "format", "version", "headless", "middle", "deep", "deep-line"],
)
async def test_a_damaged_checkpoint_is_a_checkpoint_error(
    tmp_path: Path, text: str, match: str
) -> None:
    """A checkpoint that is not one, or not this version, raises CheckpointError naming it."""
    (tmp_path / "ckpt.json").write_text(text)
    with pytest.raises(CheckpointError, match=rf"ckpt\.json is damaged: .*{match}"):
        await migrate_into_sqlite(tmp_path)


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (["pass"], -1, "pass should be a whole number"),
        (["sink_position"], "12", "sink_position should be a whole number"),
        (["run_open"], "yes", "run_open should be true or false"),
        (["conversations", "c0", "at"], "yesterday", r"conversations\['c0'\]\.at"),
        (["conversations", "c0", "at"], "2024-09-25T19:00:01", "with its UTC offset"),
        (["conversations", "c0", "ids"], [1], r"conversations\['c0'\]\.ids"),
        (["conversations", "c0", "count"], None, r"conversations\['c0'\]\.count"),
    ],
)
async def test_a_bad_field_names_the_field(
    tmp_path: Path, path: list[str], value: object, match: str
) -> None:
    """Each malformed field is reported by name."""
    await migrate_into_sqlite(tmp_path)
    data = read_checkpoint(tmp_path / "ckpt.json")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    header = {key: data.pop(key) for key in ("format", "version", "source", "sink")}
    lines = [json.dumps(header), json.dumps(data)]
    (tmp_path / "ckpt.json").write_text("".join(f"{line}\n" for line in lines))
    with pytest.raises(CheckpointError, match=match):
        await migrate_into_sqlite(tmp_path)


async def test_another_sources_checkpoint_is_refused(tmp_path: Path) -> None:
    """A checkpoint written for another source would skip the wrong things: refused."""
    await migrate_into_sqlite(tmp_path)
    other = MemoryProvider.build([1])
    other.name = "elsewhere"
    with pytest.raises(CheckpointError, match="source name: 'memory' in the checkpoint, 'else"):
        await migrate_into_sqlite(tmp_path, other)


async def test_another_sinks_checkpoint_is_refused(tmp_path: Path) -> None:
    """A checkpoint written for a SqliteSink is refused for a JsonlSink."""
    await migrate_into_sqlite(tmp_path)
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        with pytest.raises(
            CheckpointError, match="sink type: 'SqliteSink' in the checkpoint, 'JsonlSink' here"
        ):
            await backscroll.migrate(
                MemoryProvider.build([1]), sink, checkpoint=tmp_path / "ckpt.json"
            )


async def test_an_unwritable_checkpoint_fails_before_anything_is_copied(tmp_path: Path) -> None:
    """A checkpoint in a missing directory raises CheckpointError; the sink stays empty."""
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        with pytest.raises(CheckpointError, match="cannot write the checkpoint"):
            await backscroll.migrate(
                MemoryProvider.build([3]), sink, checkpoint=tmp_path / "no" / "ckpt.json"
            )
    assert (tmp_path / "out.jsonl").read_bytes() == b""


async def test_an_unreadable_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    """A checkpoint path that is a directory raises CheckpointError naming it."""
    (tmp_path / "ckpt.json").mkdir()
    with pytest.raises(CheckpointError, match=r"cannot read the checkpoint .*ckpt\.json"):
        await migrate_into_sqlite(tmp_path)


async def test_a_shortened_export_is_refused(tmp_path: Path) -> None:
    """An export truncated after a complete run would be silently incomplete: refused."""
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(MemoryProvider.build([3]), sink, checkpoint=checkpoint)
    (tmp_path / "out.jsonl").write_bytes(b"")
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        with pytest.raises(CheckpointError, match="replaced or truncated"):
            await backscroll.migrate(MemoryProvider.build([3]), sink, checkpoint=checkpoint)


async def test_another_writer_after_a_clean_run_is_left_alone(tmp_path: Path) -> None:
    """Lines appended to the export after a clean run are kept, not cut off as leftovers."""
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(MemoryProvider.build([3]), sink, checkpoint=checkpoint)
    with (tmp_path / "out.jsonl").open("a") as file:
        file.write('{"someone": "else"}\n')
    async with JsonlSink(tmp_path / "out.jsonl") as sink:
        await backscroll.migrate(MemoryProvider.build([5]), sink, checkpoint=checkpoint)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert lines[3] == '{"someone": "else"}'
    assert len(lines) == 6


async def test_an_interrupted_runs_checkpoint_cuts_no_other_export(tmp_path: Path) -> None:
    """Resuming into another JSONL file is refused before its tail is cut off as leftovers."""
    checkpoint = tmp_path / "ckpt.json"
    async with JsonlSink(tmp_path / "a.jsonl") as sink:
        crash_on(sink, write=1)
        with contextlib.suppress(Crash):
            await backscroll.migrate(
                MemoryProvider.build([300]), sink, checkpoint=checkpoint, concurrency=1
            )
    assert read_checkpoint(checkpoint)["run_open"] is True
    other = tmp_path / "b.jsonl"
    other.write_text('{"kept": 1}\n{"kept": 2}\n')
    async with JsonlSink(other) as sink:
        with pytest.raises(CheckpointError, match=r"sink path: '.*a\.jsonl' in the checkpoint"):
            await backscroll.migrate(MemoryProvider.build([300]), sink, checkpoint=checkpoint)
    assert other.read_text() == '{"kept": 1}\n{"kept": 2}\n'


async def test_another_convai_characters_checkpoint_is_refused(tmp_path: Path) -> None:
    """Two Convai characters are both "convai": the character tells them apart, no key shown."""
    sandbox = Sandbox(seed=0)
    checkpoint = tmp_path / "ckpt.json"
    async with sandbox.convai() as source, SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, checkpoint=checkpoint)
    async with (
        sandbox.convai(character_id="another-character") as source,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        with pytest.raises(CheckpointError) as raised:
            await backscroll.migrate(source, sink, checkpoint=checkpoint)
    message = str(raised.value)
    assert f"source character_id: {CONVAI_CHARACTER_ID!r} in the checkpoint" in message
    assert "'another-character' here" in message
    assert "own checkpoint file" in message
    for text in (message, checkpoint.read_text()):
        assert CONVAI_API_KEY not in text


async def test_the_source_is_named_without_credentials(tmp_path: Path) -> None:
    """The checkpoint names a vendor source by name and base URL; its key appears nowhere."""
    sandbox = Sandbox(seed=0)
    async with (
        sandbox.cursor(api_key="hunter2-key") as source,
        SqliteSink(tmp_path / "out.db") as sink,
    ):
        await backscroll.migrate(
            source, sink, conversation_ids=["con_9s2kd81"], checkpoint=tmp_path / "ckpt.json"
        )
    data = read_checkpoint(tmp_path / "ckpt.json")
    assert data["source"] == {"name": "cursor", "base_url": source.base_url}
    assert "hunter2" not in (tmp_path / "ckpt.json").read_text()


def test_every_built_in_source_and_sink_is_identifiable(tmp_path: Path) -> None:
    """The identity a checkpoint records comes from the Identifiable protocol, not attributes."""
    provider = JsonlProvider(tmp_path / "export.jsonl")
    assert isinstance(provider, backscroll.Identifiable)
    assert provider.identity() == {
        "name": "jsonl",
        "path": str((tmp_path / "export.jsonl").resolve()),
    }
    for sink in (JsonlSink(tmp_path / "a.jsonl"), SqliteSink(tmp_path / "a.db")):
        assert isinstance(sink, backscroll.Identifiable)
        assert sink.identity() == {"type": type(sink).__name__, "path": str(sink.path.resolve())}


async def test_a_source_without_an_identity_is_named_by_its_class(tmp_path: Path) -> None:
    """A source that is not Identifiable is recorded by its class name, attributes ignored."""

    class Plain:
        name = "ignored"
        base_url = "https://ignored.example"

        def __init__(self) -> None:
            self.inner = MemoryProvider.build([2])

        def messages(self, conversation_id: str, **options: Any) -> Any:
            return self.inner.messages(conversation_id, **options)

    async with SqliteSink(tmp_path / "out.db") as sink:
        report = await backscroll.migrate(
            Plain(), sink, conversation_ids=["c0"], checkpoint=tmp_path / "ckpt.json"
        )
    assert report.messages_written == 2
    assert read_checkpoint(tmp_path / "ckpt.json")["source"] == {"name": "Plain"}


async def test_an_identity_that_is_not_text_is_a_configuration_error(tmp_path: Path) -> None:
    """identity() must give text for text: anything else is refused before anything is copied."""
    source = MemoryProvider.build([1])
    source.identity = lambda: {"name": 7}  # type: ignore[method-assign, dict-item]
    async with SqliteSink(tmp_path / "out.db") as sink:
        with pytest.raises(backscroll.ConfigurationError, match=r"identity\(\) must return"):
            await backscroll.migrate(source, sink, checkpoint=tmp_path / "ckpt.json")


async def test_another_exports_checkpoint_is_refused(tmp_path: Path) -> None:
    """Two JSONL exports are both "jsonl": their resolved files tell them apart."""
    for name in ("one.jsonl", "two.jsonl"):
        async with JsonlSink(tmp_path / name) as sink:
            await backscroll.migrate(MemoryProvider.build([2]), sink)
    async with JsonlProvider(tmp_path / "one.jsonl") as source:
        await migrate_into_sqlite(tmp_path, source)  # type: ignore[arg-type]
    async with JsonlProvider(tmp_path / "two.jsonl") as source:
        with pytest.raises(CheckpointError, match=r"source path: .*one\.jsonl' in the checkp"):
            await migrate_into_sqlite(tmp_path, source)  # type: ignore[arg-type]


IDENTITY: Final = {"source": {"name": "memory"}, "sink": {"type": "SqliteSink"}}


def test_a_save_appends_only_the_conversations_touched(tmp_path: Path) -> None:
    """After a save, the next one appends one line with just the watermarks handed out since."""
    path = tmp_path / "ckpt.json"
    checkpoint = Checkpoint.open(path, **IDENTITY)
    for n in range(100):
        checkpoint.watermark(f"c{n}").count = n
    checkpoint.save()
    before = path.read_bytes()
    checkpoint.watermark("c7").count += 100
    checkpoint.save()
    after = path.read_bytes()
    assert after.startswith(before)
    line = json.loads(after[len(before) :])
    assert line["conversations"] == {"c7": {"count": 107}}
    reopened = Checkpoint.open(path, **IDENTITY)
    assert len(reopened.conversations) == 100
    assert reopened.conversations["c7"].count == 107
    assert reopened.conversations["c8"].count == 8


def test_an_unchanged_checkpoint_is_not_written_again(tmp_path: Path) -> None:
    """A save with nothing changed since the last one writes nothing (no fsync)."""
    path = tmp_path / "ckpt.json"
    checkpoint = Checkpoint.open(path, **IDENTITY)
    checkpoint.watermark("c0").count = 1
    sizes = []
    for change in (None, None, "hand out", "position"):
        if change == "hand out":
            checkpoint.watermark("c0")  # handed out, left as it was: still one line
        elif change == "position":
            checkpoint.sink_position = 10
        checkpoint.save()
        sizes.append(len(path.read_bytes().splitlines()))
    assert sizes == [2, 2, 3, 4]
    assert Checkpoint.open(path, **IDENTITY).sink_position == 10


def test_a_long_journal_is_written_whole_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the appended lines outweigh the file, the next save rewrites it compactly."""
    monkeypatch.setattr(checkpoint_module, "COMPACT_AFTER", 0)
    path = tmp_path / "ckpt.json"
    checkpoint = Checkpoint.open(path, **IDENTITY)
    for n in range(10):
        checkpoint.watermark(f"c{n}").count = n
    checkpoint.save()
    lengths = []
    for n in range(40):
        checkpoint.watermark(f"c{n % 10}").count += 1
        checkpoint.save()
        lengths.append(len(path.read_bytes().splitlines()))
    assert max(lengths) < 10
    assert 2 in lengths[1:]  # written whole again, more than once
    reopened = Checkpoint.open(path, **IDENTITY)
    assert {cid: w.count for cid, w in reopened.conversations.items()} == {
        f"c{n}": n + 4 for n in range(10)
    }


def test_a_torn_last_line_is_dropped_and_the_file_rewritten(tmp_path: Path) -> None:
    """A crash mid-append leaves a line without its newline: the commit before it is read."""
    path = tmp_path / "ckpt.json"
    checkpoint = Checkpoint.open(path, **IDENTITY)
    checkpoint.watermark("c0").count = 1
    checkpoint.save()
    checkpoint.watermark("c0").count = 2
    checkpoint.save()
    whole = path.read_bytes()
    for cut in range(1, len(whole.splitlines()[-1]) + 1):
        path.write_bytes(whole[:-cut])
        reopened = Checkpoint.open(path, **IDENTITY)
        assert reopened.conversations["c0"].count == 1
    reopened.watermark("c0").count = 5
    reopened.save()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2  # written whole: the torn tail is gone
    assert Checkpoint.open(path, **IDENTITY).conversations["c0"].count == 5


def test_a_version_2_checkpoint_is_read_and_written_anew(tmp_path: Path) -> None:
    """The single-object format of version 2 still resumes, and becomes a journal."""
    path = tmp_path / "ckpt.json"
    old = {
        "format": "backscroll-checkpoint",
        "version": 2,
        **IDENTITY,
        "sink_position": 12,
        "run_open": True,
        "pass": 1,
        "pass_complete": False,
        "conversations": {"c0": {"count": 3, "at": "2024-09-25T19:00:02+00:00", "ids": ["x"]}},
    }
    path.write_text(json.dumps(old, separators=(",", ":")))
    checkpoint = Checkpoint.open(path, **IDENTITY)
    assert checkpoint.sink_position == 12
    assert checkpoint.run_open
    assert checkpoint.conversations["c0"].count == 3
    assert checkpoint.conversations["c0"].ids == {"x"}
    checkpoint.save()
    assert read_checkpoint(path)["version"] == 3
    assert read_checkpoint(path)["conversations"]["c0"]["count"] == 3
