"""`SqliteSink`: messages in a real SQLite file, upserted by provider, conversation and id."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Final

from backscroll._converter import to_dict
from backscroll._speed import dumps_row
from backscroll.errors import SinkError
from backscroll.sinks._file import FileSink

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from backscroll._models import Conversation, Message

__all__ = ["SCHEMA", "SqliteSink"]

SCHEMA_VERSION: Final = 1

#: The tables `SqliteSink` creates. ``data`` holds the full `backscroll.to_dict` form as
#: JSON, so nothing is lost; the other columns are there to query by.
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS conversations (
    provider    TEXT NOT NULL,
    id          TEXT NOT NULL,
    created_at  TEXT,
    data        TEXT,
    PRIMARY KEY (provider, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    provider        TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      TEXT,
    sender_id       TEXT,
    token_count     INTEGER,
    data            TEXT NOT NULL,
    PRIMARY KEY (provider, conversation_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_time
    ON messages (provider, conversation_id, created_at);
"""

_UPSERT_MESSAGE: Final = """
INSERT INTO messages
    (provider, conversation_id, id, role, content, created_at, sender_id, token_count, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (provider, conversation_id, id) DO UPDATE SET
    role = excluded.role,
    content = excluded.content,
    created_at = excluded.created_at,
    sender_id = excluded.sender_id,
    token_count = excluded.token_count,
    data = excluded.data
"""
_ADD_CONVERSATION: Final = """
INSERT INTO conversations (provider, id) VALUES (?, ?) ON CONFLICT (provider, id) DO NOTHING
"""
_UPSERT_CONVERSATION: Final = """
INSERT INTO conversations (provider, id, created_at, data) VALUES (?, ?, ?, ?)
ON CONFLICT (provider, id) DO UPDATE SET created_at = excluded.created_at, data = excluded.data
"""
_COUNT: Final = "SELECT COUNT(*) FROM messages WHERE provider = ? AND conversation_id = ?"
# The lengths of a UTC isoformat without and with microseconds.
_ISO_SECONDS: Final = len("2024-09-25T19:54:59+00:00")
_ISO_MICROSECONDS: Final = len("2024-09-25T19:54:59.124733+00:00")


class SqliteSink(FileSink):
    """
    Store messages in an SQLite database file: tables ``conversations`` and ``messages``.

    A message's primary key is ``(provider, conversation_id, id)`` and writing it again
    replaces it (an upsert), so reruns and resumes never duplicate it. The ``data`` column
    holds the full `backscroll.to_dict` form as JSON, ``raw`` and ``metadata`` included:
    ``from_dict(Message, json.loads(data))`` gives back the message. ``created_at`` is
    also stored as fixed-width UTC text (``2024-09-25T19:54:59.124733Z``) that sorts in
    time order. See `SCHEMA`.

    The database runs in WAL mode with ``synchronous=FULL``: a `commit` is durable when it
    returns. Every SQLite call runs in one worker thread, off the event loop.

    Args:
        path: The database file; created with its tables if missing. Several migrations
            (say one per vendor) may write into one file, one after the other.

    The file is opened on first use. ``async with`` commits on a clean exit and closes.
    Closing rolls back what was written since the
    last `commit`.

    .. versionadded:: 0.1.0
    """

    file_kind: ClassVar[str] = "SQLite database"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._connection: sqlite3.Connection | None = None

    async def write(self, messages: Sequence[Message]) -> None:
        """Upsert *messages* (durable after `commit`)."""
        if messages:
            await self._worker.run(lambda: self._write(messages))

    async def write_conversations(self, conversations: Sequence[Conversation]) -> None:
        """Upsert conversation records: created time and vendor metadata, in ``data``."""
        if conversations:
            await self._worker.run(lambda: self._write_conversations(conversations))

    async def count_messages(self, provider: str, conversation_id: str) -> int:
        """How many messages of the conversation the database holds."""
        return await self._worker.run(lambda: self._count(provider, conversation_id))

    # -- blocking, in the worker thread ---------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        self._refuse_if_closed()
        try:
            # Calls are serial (one worker) but may come from different pool threads.
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            self._fail("open", exc)
        try:
            self._check_version(connection)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            connection.close()
            self._fail("open", exc)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _check_version(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in {0, SCHEMA_VERSION}:
            msg = (
                f"the SQLite file {self.path} has schema version {version}, not "
                f"{SCHEMA_VERSION}: it was written by another program or a newer backscroll"
            )
            raise SinkError(msg)

    def _begun(self) -> sqlite3.Connection:
        connection = self._open()
        if not connection.in_transaction:
            connection.execute("BEGIN")
        return connection

    def _write(self, messages: Sequence[Message]) -> None:
        try:
            connection = self._begun()
            connection.executemany(
                _ADD_CONVERSATION, {(m.provider, m.conversation_id) for m in messages}
            )
            try:
                connection.executemany(_UPSERT_MESSAGE, [_row(m) for m in messages])
            except UnicodeEncodeError:
                # A lone surrogate somewhere (rare): write the batch again, escaped.
                connection.executemany(_UPSERT_MESSAGE, [_row(m, safe=True) for m in messages])
        except sqlite3.Error as exc:
            self._fail("write to", exc)

    def _write_conversations(self, conversations: Sequence[Conversation]) -> None:
        rows = [
            (c.provider, c.id, _utc_text(c.created_at), _json(to_dict(c))) for c in conversations
        ]
        try:
            self._begun().executemany(_UPSERT_CONVERSATION, rows)
        except sqlite3.Error as exc:
            self._fail("write to", exc)

    def _commit(self) -> None:
        connection = self._open()
        try:
            if connection.in_transaction:
                connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail("commit", exc)

    def _count(self, provider: str, conversation_id: str) -> int:
        try:
            row = self._open().execute(_COUNT, (provider, conversation_id)).fetchone()
        except sqlite3.Error as exc:
            self._fail("read", exc)
        return int(row[0])

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                connection.close()
            except sqlite3.Error as exc:
                self._fail("close", exc)


def _row(message: Message, *, safe: bool = False) -> tuple[object, ...]:
    text = _text if safe else _same
    data = to_dict(message)
    return (
        text(message.provider),
        text(message.conversation_id),
        text(message.id),
        message.role.value,
        text(message.content),
        _utc_text_of(data["created_at"], message.created_at),
        None if message.sender_id is None else text(message.sender_id),
        message.token_count,
        dumps_row(data).decode("utf-8"),
    )


def _utc_text_of(iso: str | None, moment: datetime | None) -> str | None:
    """
    `_utc_text` of *moment*, cut from *iso* (its isoformat) when that is quicker.

    A message's time is UTC, so its isoformat is ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00``:
    slicing that is the same text for a fraction of the cost of formatting it again.
    Anything else (a year before 1000, which isoformat pads) is formatted.
    """
    if iso is not None and iso.endswith("+00:00") and iso[0] != "0":
        if len(iso) == _ISO_SECONDS:
            return iso[:19] + ".000000Z"
        if len(iso) == _ISO_MICROSECONDS:
            return iso[:26] + "Z"
    return _utc_text(moment)


def _utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    if moment.year >= 1000:  # noqa: PLR2004 - isoformat pads years to four digits, %Y may not
        # The same text as the strftime below, in about half the time.
        return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(data: object) -> str:
    return dumps_row(data).decode("utf-8")


def _same(value: str) -> str:
    return value


def _text(value: str) -> str:
    # UTF-8 cannot hold a lone surrogate: the column gets U+FFFD, ``data`` the exact text.
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
