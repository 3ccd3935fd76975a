"""
The migration checkpoint: a small journal file, appended to after every commit.

It records, per conversation, a *watermark*: the newest ``created_at`` committed in the
sink and the ids committed at exactly that time (so that messages sharing the boundary
timestamp are neither lost nor copied twice), the ids of committed messages that have no
timestamp, and how many messages are committed. It also records the sink's committed
position when the sink is append-only (`backscroll.sinks.RewindableSink`), and which pass
over the conversations is under way, so that a resumed run skips what the interrupted run
finished while a rerun after a complete run checks everything for new messages.

It records the ``since`` the runs asked for: a watermark counts every message older than
its time as copied, which after a run with ``since=`` is true only from that time on. A
run that asks for earlier messages *backfills* (`Checkpoint.start_from`): a pass reads
every conversation from the earlier time, its watermarks holding only what is at or after
the recorded ``since``, and the checkpoint takes the earlier ``since`` once the pass is
complete. A backfill interrupted part-way through a conversation copies its older
messages again, so it needs a sink that stores a message once however often it is
written (an upsert); into an append-only sink it is refused, with what the checkpoint
holds and how to copy the rest, rather than skipping them without a word. A checkpoint
without ``since`` (written before it was recorded) holds messages from the start.

It names the migration it belongs to: the source (its `backscroll.Identifiable`
identity: its name, and its base URL, character and file where it has them; never a
credential) and the sink (its type and resolved file), so that it is never used with
another source or sink, whose files it would skip or cut. A file is recorded relative to
the checkpoint's folder, so that a database moved together with its checkpoint (another
folder, another machine) keeps its place while either moved alone is refused.

**Why a journal.** Rewriting the whole file at every commit costs what the account
holds (about 95 bytes per conversation: 19 MB at 200,000 conversations, at every
commit). So the file is JSON Lines: a header line naming the migration, then one line
per commit holding the run's state and only the watermarks that commit touched; reading
it replays the lines, the later ones winning. A commit costs what it changed, whatever
the size of the account. When the lines appended since the file was last written whole
outweigh that whole (and at least `COMPACT_AFTER` bytes), it is written whole again:
that costs the account's size, but only after as many bytes were appended, so a commit
costs O(1) amortised (`benchmarks/checkpoint.py` measures it flat from 1,000 to
1,000,000 conversations).

**Why it is crash-safe.** A commit's line is written in one ``write`` and fsynced
before the migration goes on. A crash during it leaves a last line without its newline:
that line is dropped when the file is read, which leaves the checkpoint one commit older
than the sink, the direction a resume repairs (an upserting sink absorbs the copy, an
append-only one is cut back to the recorded position). A damaged line anywhere else is
a `CheckpointError`. Whole rewrites go to a temporary file in the same directory, are
flushed and fsynced, and then ``os.replace`` it over the old file (and the directory is
fsynced): a crash leaves the old file or the new one, never a mix. The single-object
format of version 2 is still read, and written anew as a journal at the first save.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import attrs

from backscroll._hints import in_python, spell
from backscroll.errors import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from backscroll._models import Message

__all__ = ["Checkpoint", "Watermark"]

FORMAT: Final = "backscroll-checkpoint"
#: 3: a journal (JSON Lines). 2: one JSON object, the source and sink named by identity.
VERSION: Final = 3
#: The single-object version still read (and written anew as a journal).
_OLD_VERSION: Final = 2
#: Bytes appended before the journal may be written whole again (see the module doc).
COMPACT_AFTER: Final = 1 << 20
#: Watermarks per line when the journal is written whole.
_PER_LINE: Final = 10_000

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
    #: Messages older than this are not held, whatever `at` says (a backfill's reading
    #: copy: the run that made the watermark started there). Never saved.
    floor: datetime | None = attrs.field(default=None, eq=False)

    def holds(self, message: Message) -> bool:
        """Whether *message* is already committed, by this watermark."""
        at = message.created_at
        if at is None:
            return message.id in self.untimed
        if self.at is None or at > self.at:
            return False
        if self.floor is not None and at < self.floor:
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
    Change a conversation's watermark through `watermark` only: the next `save` writes
    again just the conversations it handed out.
    """

    path: Path | None
    source: Identity
    sink: Identity
    sink_position: int | None = None
    run_open: bool = False
    pass_number: int = 1
    pass_complete: bool = False
    #: The earliest message time the copies hold (the runs' ``since``); ``None``: the start.
    since: datetime | None = None
    #: The pass that backfills from `backfill_since` (``None``: no backfill under way).
    backfill_pass: int | None = None
    backfill_since: datetime | None = None
    conversations: dict[str, Watermark] = attrs.Factory(dict)
    _touched: set[str] = attrs.field(init=False, factory=set, repr=False, eq=False)
    #: The state the file ends with, once it can be appended to; ``None``: write it whole.
    _written: dict[str, Any] | None = attrs.field(init=False, default=None, repr=False, eq=False)
    #: Bytes in the file as last written whole, and bytes appended since.
    _whole: int = attrs.field(init=False, default=0, repr=False, eq=False)
    _appended: int = attrs.field(init=False, default=0, repr=False, eq=False)

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
        source, sink = _portable(source, path), _portable(sink, path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path, source=source, sink=sink)
        except OSError as exc:
            msg = f"cannot read the checkpoint {path}: {_reason(exc)}"
            raise CheckpointError(msg) from None
        checkpoint = _parse(path, data)
        differences = [
            *_differences("source", _portable(checkpoint.source, path), source),
            *_differences("sink", _portable(checkpoint.sink, path), sink),
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

    def start_from(self, since: datetime | None, *, unable: str | None = None) -> None:
        """
        Take on the run's *since* (aware, or ``None`` for the start): record it, or backfill.

        A *since* no earlier than the checkpoint's is recorded: the conversations first
        copied by this run hold messages from there on only. An earlier one, while any
        conversation is recorded, starts (or goes on with) a backfill: see `backfilling`.
        A backfill interrupted part-way through a conversation writes some of its
        messages again, which the sink must absorb (an upsert); *unable* says why the
        sink cannot (``None``: it can).

        Raises:
            CheckpointError: *since* asks for messages older than the checkpoint holds,
                and the sink cannot take a backfill (*unable*).
        """
        held = self.since
        if not (self.conversations and held is not None and _earlier(since, held)):
            self.since = since
            self.backfill_pass = self.backfill_since = None
            return
        if unable is not None:
            asked = "from the start" if since is None else f"from {_moment(since)}"
            msg = (
                f"the checkpoint {self.path} holds messages from {_moment(held)} on (an earlier "
                f"run passed {_passing('since', _moment(held))}) and counts older ones as "
                f"copied: this run asks for messages {asked}, which it cannot backfill "
                f"({unable}). {_backfill_hint(held)}"
            )
            raise CheckpointError(msg)
        under_way = self.backfill_pass == self.pass_number
        if not (under_way and not _earlier(since, self.backfill_since)):
            # The conversations finished in this pass hold less than *since* asks: read
            # every conversation again, in a pass of its own.
            if any(mark.finished_pass == self.pass_number for mark in self.conversations.values()):
                self.pass_number += 1
            self.backfill_pass = self.pass_number
        self.backfill_since = since

    @property
    def backfilling(self) -> bool:
        """
        Whether this pass backfills: reads every conversation from `backfill_since`.

        A watermark then holds only what is at or after `since` (its `Watermark.floor`).
        """
        return self.backfill_pass is not None and self.backfill_pass == self.pass_number

    def complete_pass(self) -> None:
        """Every conversation was copied: a backfill is done, the copies hold from its start."""
        self.pass_complete = True
        if self.backfilling:
            self.since = self.backfill_since
        self.backfill_pass = self.backfill_since = None

    def finished_in_this_pass(self, conversation_id: str) -> bool:
        """Whether the conversation was finished earlier in the pass under way."""
        watermark = self.conversations.get(conversation_id)
        return watermark is not None and watermark.finished_pass == self.pass_number

    def state(self) -> dict[str, Any]:
        """The run's state, which every line of the journal carries (``since`` when set)."""
        state: dict[str, Any] = {
            "sink_position": self.sink_position,
            "run_open": self.run_open,
            "pass": self.pass_number,
            "pass_complete": self.pass_complete,
        }
        if self.since is not None:
            state["since"] = self.since.isoformat()
        if self.backfill_pass is not None:
            state["backfill_pass"] = self.backfill_pass
            if self.backfill_since is not None:
                state["backfill_since"] = self.backfill_since.isoformat()
        return state

    def encode(self) -> bytes:
        """The whole checkpoint as a journal: its header line, then every watermark."""
        ids = list(self.conversations)
        lines = [_json(self._header())]
        lines.extend(
            self._line(ids[start : start + _PER_LINE])
            for start in range(0, max(len(ids), 1), _PER_LINE)
        )
        return "".join(f"{line}\n" for line in lines).encode("ascii")  # _json escapes

    def save(self) -> None:
        """
        Record what changed since the last save (blocking: run it in a worker thread).

        A line with the state and the watermarks handed out since is appended and
        fsynced. The file is written whole (atomically) instead when it does not exist
        yet, was read in the old format or with a torn last line, or when the lines
        appended outweigh it. Nothing is written when nothing changed.

        Raises:
            CheckpointError: the file cannot be written.
        """
        if self.path is None:
            return
        state = self.state()
        try:
            if self._written is None or self._appended > max(self._whole, COMPACT_AFTER):
                data = self.encode()
                write_atomically(self.path, data)
                self._whole, self._appended = len(data), 0
            else:
                touched = [cid for cid in self._touched if cid in self.conversations]
                if not touched and state == self._written:
                    return
                line = f"{self._line(touched)}\n".encode("ascii")
                _append(self.path, line)
                self._appended += len(line)
        except OSError as exc:
            msg = f"cannot write the checkpoint {self.path}: {_reason(exc)}"
            raise CheckpointError(msg) from None
        self._touched.clear()
        self._written = state

    def _header(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "source": self.source, "sink": self.sink}

    def _line(self, conversation_ids: Iterable[str]) -> str:
        """One journal line: the state, and these conversations' watermarks."""
        watermarks = ",".join(
            f"{_json(cid)}:{_json(self.conversations[cid].to_json())}" for cid in conversation_ids
        )
        state = _json(self.state())
        return f'{state[:-1]},"conversations":{{{watermarks}}}}}'

    def _continue(self, size: int) -> None:
        """The file read was written by this version, *size* bytes, ending whole: append."""
        self._written = self.state()
        self._whole = size


def _moment(at: datetime) -> str:
    """``2024-03-01`` for midnight UTC, the full ISO 8601 time otherwise."""
    if at.utcoffset() == timedelta(0) and at.time() == time(0):
        return at.date().isoformat()
    return at.isoformat()


def _earlier(since: datetime | None, than: datetime | None) -> bool:
    """Whether *since* asks for earlier messages than *than* (``None``: the start)."""
    return than is not None and (since is None or since < than)


def _passing(parameter: str, value: str) -> str:
    """``since=2024-03-01`` in Python, ``--since 2024-03-01`` at the command line."""
    return spell(parameter, value) if in_python() else f"{spell(parameter)} {value}"


def _backfill_hint(held: datetime) -> str:
    """How to copy the older messages, or to go on as before, in the interface's terms."""
    later = f"{_passing('since', _moment(held))} or later"
    if in_python():
        return (
            "To copy them, migrate into an SqliteSink (which backfills: it stores each message "
            f"once), or with a new {spell('checkpoint', 'path')} into a new sink; to go on "
            f"syncing with this checkpoint, pass {later}"
        )
    return (
        "To copy them, migrate --to sqlite:FILE (which backfills: it stores each message "
        f"once), or run again with {_passing('checkpoint', 'NEW-FILE')} and a new --to file; "
        f"to go on syncing with this checkpoint, pass {later}"
    )


def _append(path: Path, line: bytes) -> None:
    """Append *line* in one write, fsynced: a crash leaves it whole, or torn at the end."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        written = os.write(fd, line)
        if written != len(line):  # pragma: no cover - a full disk; the tail reads as torn
            msg = f"wrote {written} of {len(line)} bytes"
            raise OSError(msg)
        os.fsync(fd)
    finally:
        os.close(fd)


def _json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _portable(identity: Identity, checkpoint: Path) -> Identity:
    """
    *identity* with its ``path`` relative to the checkpoint's folder, where it can be.

    Moving a database and its checkpoint together keeps them a pair; moving one alone does
    not. An absolute path recorded by an earlier version compares the same way.
    """
    recorded = identity.get("path")
    if recorded is None or not Path(recorded).is_absolute():
        return identity
    try:
        relative = os.path.relpath(recorded, checkpoint.absolute().parent.resolve())
    except ValueError:  # another drive, on Windows: only the absolute path names it
        return identity
    return {**identity, "path": Path(relative).as_posix()}


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


def _parse(path: Path, data: bytes) -> Checkpoint:
    """Replay the journal (or read a version 2 checkpoint) into a `Checkpoint`."""
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: empty, unless a crash cut a line short
    if not lines:
        lines, torn = [torn], b""  # one line without a newline: version 2 (or damaged)
    try:
        top = _header(_load(lines[0], 1))
        if top["version"] == _OLD_VERSION:
            return _checkpoint(path, top, [top] if len(lines) == 1 else [])
        checkpoint = _checkpoint(
            path, top, [_load(line, number) for number, line in enumerate(lines[1:], 2)]
        )
    except _DamagedError as exc:
        _damaged(path, str(exc))
    if not torn:
        checkpoint._continue(len(data))  # noqa: SLF001 - its own class's reader
    return checkpoint


def _load(line: bytes, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        msg = f"line {number} is not valid JSON (column {exc.colno}: {exc.msg})"
    except UnicodeDecodeError:
        msg = f"line {number} is not UTF-8 text"
    except RecursionError:
        msg = f"line {number} nests deeper than any checkpoint does"
    raise _DamagedError(msg)


def _checkpoint(path: Path, top: Mapping[str, Any], records: list[Any]) -> Checkpoint:
    """The checkpoint that the *records* (state and watermarks, in order) leave."""
    if not records:
        msg = "it holds no state after its header line"
        raise _DamagedError(msg)
    conversations: dict[str, Watermark] = {}
    for number, record in enumerate(records, 2):
        where = "the file" if record is top else f"line {number}"
        data = _mapping(record, where)
        for cid, value in _mapping(data.get("conversations"), "conversations").items():
            conversations[_str(cid, "a conversation id")] = _watermark(
                value, f"conversations[{cid!r}]"
            )
    last = _mapping(records[-1], "the last line")
    position = last.get("sink_position")
    since = last.get("since")
    backfill_pass = last.get("backfill_pass")
    backfill_since = last.get("backfill_since")
    return Checkpoint(
        path=path,
        source=_identity(top.get("source"), "source"),
        sink=_identity(top.get("sink"), "sink"),
        sink_position=None if position is None else _count(position, "sink_position"),
        run_open=_bool(last.get("run_open", False), "run_open"),
        pass_number=_count(last.get("pass"), "pass"),
        pass_complete=_bool(last.get("pass_complete"), "pass_complete"),
        since=None if since is None else _datetime(since, "since"),
        backfill_pass=None if backfill_pass is None else _count(backfill_pass, "backfill_pass"),
        backfill_since=(
            None if backfill_since is None else _datetime(backfill_since, "backfill_since")
        ),
        conversations=conversations,
    )


def _header(data: object) -> Mapping[str, Any]:
    top = _mapping(data, "the file")
    if top.get("format") != FORMAT:
        msg = f"it is not a backscroll checkpoint (no 'format': {FORMAT!r})"
        raise _DamagedError(msg)
    if top.get("version") not in {VERSION, _OLD_VERSION}:
        msg = (
            f"its version {top.get('version')!r} is neither {VERSION} nor {_OLD_VERSION} "
            "(a newer backscroll may read it)"
        )
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
