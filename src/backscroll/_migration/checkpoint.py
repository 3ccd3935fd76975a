"""
The migration checkpoint: a small JSON file, replaced atomically after every commit.

It records, per conversation, a *watermark*: the newest ``created_at`` committed in the
sink and the ids committed at exactly that time (so that messages sharing the boundary
timestamp are neither lost nor copied twice), the ids of committed messages that have no
timestamp, and how many messages are committed. It also records the sink's committed
position when the sink is append-only (`backscroll.sinks.RewindableSink`), and which pass
over the conversations is under way, so that a resumed run skips what the interrupted run
finished while a rerun after a complete run checks everything for new messages.

It names the migration it belongs to: the source (its name, and its base URL, character
and file where it has them; never a credential) and the sink (its type and resolved file),
so that it is never used with another source or sink, whose files it would skip or cut.

Writes go to a temporary file in the same directory, are flushed and fsynced, and then
``os.replace`` it over the old file (and the directory is fsynced): a crash leaves either
the old checkpoint or the new one, never a mix. A save costs what changed since the last
one, not the whole account: each conversation's JSON is kept encoded and only the
conversations touched since are encoded again (the file itself is still written whole).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import attrs

from backscroll.errors import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from backscroll._models import Message

__all__ = ["Checkpoint", "Watermark"]

FORMAT: Final = "backscroll-checkpoint"
#: 2: the source and the sink are named by their identity, not only by name and type.
VERSION: Final = 2

#: What names a source or a sink: ``{"name": "convai", "character_id": "7f3e..."}``.
Identity = dict[str, str]


@attrs.define(kw_only=True)
class Watermark:
    """
    How far one conversation is committed in the sink.

    Messages arrive oldest first and are committed in that order, so the committed ones
    are a prefix of the conversation: everything older than `at`, the `ids` at `at`, and
    the `untimed` ids (messages without a timestamp, which cannot be placed by time).
    """

    at: datetime | None = None
    ids: set[str] = attrs.Factory(set)
    untimed: set[str] = attrs.Factory(set)
    count: int = 0
    finished_pass: int | None = None
    deleted: bool = False

    def holds(self, message: Message) -> bool:
        """Whether *message* is already committed, by this watermark."""
        at = message.created_at
        if at is None:
            return message.id in self.untimed
        if self.at is None or at > self.at:
            return False
        return at < self.at or message.id in self.ids

    def advance(self, message: Message) -> None:
        """Move the watermark past *message*, which is now written."""
        self.count += 1
        at = message.created_at
        if at is None:
            self.untimed.add(message.id)
        elif self.at is None or at > self.at:
            self.at = at
            self.ids = {message.id}
        elif at == self.at:
            self.ids.add(message.id)

    def copy(self) -> Watermark:
        """An independent copy (readers keep one while the writer advances the original)."""
        return attrs.evolve(self, ids=set(self.ids), untimed=set(self.untimed))

    def to_json(self) -> dict[str, Any]:
        """The watermark as JSON data (empty fields left out)."""
        data: dict[str, Any] = {"count": self.count}
        if self.at is not None:
            data["at"] = self.at.isoformat()
            data["ids"] = sorted(self.ids)
        if self.untimed:
            data["untimed"] = sorted(self.untimed)
        if self.finished_pass is not None:
            data["finished_pass"] = self.finished_pass
        if self.deleted:
            data["deleted"] = True
        return data


@attrs.define(kw_only=True)
class Checkpoint:
    """
    The state of a migration, kept in memory and (with a path) saved after every commit.

    Without a path nothing is saved: the migration still deduplicates within the run.
    Change a conversation's watermark through `watermark` only: the next `save` encodes
    again just the conversations it handed out.
    """

    path: Path | None
    source: Identity
    sink: Identity
    sink_position: int | None = None
    run_open: bool = False
    pass_number: int = 1
    pass_complete: bool = False
    conversations: dict[str, Watermark] = attrs.Factory(dict)
    _encoded: dict[str, str] = attrs.field(init=False, factory=dict, repr=False, eq=False)
    _touched: set[str] = attrs.field(init=False, factory=set, repr=False, eq=False)
    _saved: bytes | None = attrs.field(init=False, default=None, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        self._touched.update(self.conversations)

    @classmethod
    def open(cls, path: Path | None, *, source: Identity, sink: Identity) -> Checkpoint:
        """
        Read the checkpoint at *path*, or start a new one if there is no file yet.

        A pass that completed is followed by a new one (an incremental sync); an
        incomplete pass continues (a resume).

        Raises:
            CheckpointError: the file cannot be read, is damaged, or was written for a
                migration from another source or into another sink.
        """
        if path is None:
            return cls(path=None, source=source, sink=sink)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path=path, source=source, sink=sink)
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"cannot read the checkpoint {path}: {_reason(exc)}"
            raise CheckpointError(msg) from None
        checkpoint = _parse(path, text)
        differences = [
            *_differences("source", checkpoint.source, source),
            *_differences("sink", checkpoint.sink, sink),
        ]
        if differences:
            msg = (
                f"the checkpoint {path} belongs to another migration ({'; '.join(differences)}). "
                "Give this migration its own checkpoint file, or use this one with the source "
                "and the sink it was written for"
            )
            raise CheckpointError(msg)
        if checkpoint.pass_complete:
            checkpoint.pass_number += 1
            checkpoint.pass_complete = False
        return checkpoint

    def watermark(self, conversation_id: str) -> Watermark:
        """The conversation's watermark to change, created empty on first use."""
        watermark = self.conversations.get(conversation_id)
        if watermark is None:
            watermark = self.conversations[conversation_id] = Watermark()
        self._touched.add(conversation_id)
        return watermark

    def finished_in_this_pass(self, conversation_id: str) -> bool:
        """Whether the conversation was finished earlier in the pass under way."""
        watermark = self.conversations.get(conversation_id)
        return watermark is not None and watermark.finished_pass == self.pass_number

    def encode(self) -> bytes:
        """The checkpoint as compact JSON, encoding only the conversations touched since."""
        encoded = self._encoded
        for conversation_id in self._touched:
            watermark = self.conversations[conversation_id]
            encoded[conversation_id] = f"{_json(conversation_id)}:{_json(watermark.to_json())}"
        self._touched.clear()
        head = _json(
            {
                "format": FORMAT,
                "version": VERSION,
                "source": self.source,
                "sink": self.sink,
                "sink_position": self.sink_position,
                "run_open": self.run_open,
                "pass": self.pass_number,
                "pass_complete": self.pass_complete,
            }
        )
        text = f'{head[:-1]},"conversations":{{{",".join(encoded.values())}}}}}'
        return text.encode("ascii")  # _json escapes everything else

    def save(self) -> None:
        """
        Replace the checkpoint file atomically (blocking: run it in a worker thread).

        Nothing is written when nothing changed since the last save.

        Raises:
            CheckpointError: the file cannot be written.
        """
        if self.path is None:
            return
        data = self.encode()
        if data == self._saved:
            return
        try:
            write_atomically(self.path, data)
        except OSError as exc:
            msg = f"cannot write the checkpoint {self.path}: {_reason(exc)}"
            raise CheckpointError(msg) from None
        self._saved = data


def _json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _differences(part: str, recorded: Identity, given: Identity) -> list[str]:
    """What differs between two identities: ``sink path: '/a' in the checkpoint, '/b' here``."""
    return [
        f"{part} {key}: {_shown(old)} in the checkpoint, {_shown(new)} here"
        for key in sorted(recorded.keys() | given.keys())
        if (old := recorded.get(key)) != (new := given.get(key))
    ]


def _shown(value: str | None) -> str:
    return "none" if value is None else repr(value)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data* so that a crash leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in *directory* durable, where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


# -- reading ---------------------------------------------------------------------------------


class _DamagedError(Exception):
    """A field of the checkpoint is not what it should be."""


def _parse(path: Path, text: str) -> Checkpoint:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        _damaged(path, f"it is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    try:
        top = _header(data)
        position = top.get("sink_position")
        if position is not None:
            position = _count(position, "sink_position")
        conversations = _mapping(top.get("conversations"), "conversations")
        return Checkpoint(
            path=path,
            source=_identity(top.get("source"), "source"),
            sink=_identity(top.get("sink"), "sink"),
            sink_position=position,
            run_open=_bool(top.get("run_open", False), "run_open"),
            pass_number=_count(top.get("pass"), "pass"),
            pass_complete=_bool(top.get("pass_complete"), "pass_complete"),
            conversations={
                _str(cid, "a conversation id"): _watermark(value, f"conversations[{cid!r}]")
                for cid, value in conversations.items()
            },
        )
    except _DamagedError as exc:
        _damaged(path, str(exc))


def _header(data: object) -> Mapping[str, Any]:
    top = _mapping(data, "the file")
    if top.get("format") != FORMAT:
        msg = f"it is not a backscroll checkpoint (no 'format': {FORMAT!r})"
        raise _DamagedError(msg)
    if top.get("version") != VERSION:
        msg = f"its version {top.get('version')!r} is not {VERSION}"
        raise _DamagedError(msg)
    return top


def _damaged(path: Path, what: str) -> NoReturn:
    msg = (
        f"the checkpoint {path} is damaged: {what}. Restore it, or delete it to start over "
        "(delete a JSONL export written with it too, or its messages would be written twice)"
    )
    raise CheckpointError(msg)


def _watermark(value: object, where: str) -> Watermark:
    data = _mapping(value, where)
    at = data.get("at")
    finished = data.get("finished_pass")
    return Watermark(
        at=None if at is None else _datetime(at, f"{where}.at"),
        ids=_strings(data.get("ids", []), f"{where}.ids"),
        untimed=_strings(data.get("untimed", []), f"{where}.untimed"),
        count=_count(data.get("count"), f"{where}.count"),
        finished_pass=None if finished is None else _count(finished, f"{where}.finished_pass"),
        deleted=_bool(data.get("deleted", False), f"{where}.deleted"),
    )


def _identity(value: object, where: str) -> Identity:
    data = _mapping(value, where)
    return {
        _str(key, f"a key of {where}"): _str(item, f"{where}.{key}") for key, item in data.items()
    }


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        msg = f"{where} should be an object"
        raise _DamagedError(msg)
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        msg = f"{where} should be a string, found {value!r}"
        raise _DamagedError(msg)
    return value


def _count(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{where} should be a whole number, found {value!r}"
        raise _DamagedError(msg)
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        msg = f"{where} should be true or false, found {value!r}"
        raise _DamagedError(msg)
    return value


def _strings(value: object, where: str) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        msg = f"{where} should be a list of strings"
        raise _DamagedError(msg)
    return set(value)


def _datetime(value: object, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(_str(value, where))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        msg = f"{where} should be an ISO 8601 time with its UTC offset, found {value!r}"
        raise _DamagedError(msg)
    return parsed
