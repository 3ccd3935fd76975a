"""
Which conversations a run copies: ids from flags or a file, a shard, a start time.

A shard is `backscroll.shard_of` applied to each conversation id, so N workers started
with ``--shard 0/N`` ... ``--shard N-1/N`` split an account exactly: each conversation
belongs to one of them, on any machine, whatever the listing order.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import attrs

from backscroll._migration.shards import shard_of
from backscroll.cli._options import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["Shard", "parse_shard", "parse_since", "read_ids"]

_SHARD: Final = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@attrs.frozen
class Shard:
    """One of *count* disjoint parts of an account, numbered from 0."""

    index: int
    count: int

    def holds(self, conversation_id: str) -> bool:
        """Whether the conversation belongs to this shard."""
        return shard_of(conversation_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """
    Read ``I/N``: shard *I* of *N*, with ``0 <= I < N``.

    Raises:
        UsageError: another form, or an index out of range.
    """
    match = _SHARD.fullmatch(text)
    if match is None:
        msg = f"--shard takes I/N (the I-th of N shards, from 0), as in 0/4; got {text!r}"
        raise UsageError(msg)
    index, count = int(match[1]), int(match[2])
    if count < 1:
        msg = f"--shard {text}: N, the number of shards, must be at least 1"
        raise UsageError(msg)
    if index >= count:
        msg = f"--shard {text}: I must be from 0 to {count - 1} (shards are numbered from 0)"
        raise UsageError(msg)
    return Shard(index, count)


def parse_since(text: str) -> datetime:
    """
    Read an ISO 8601 date or time; without a zone it is UTC.

    Raises:
        UsageError: it is not one.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = (
            "--since takes an ISO 8601 date or time, as in 2024-09-25 or "
            f"2024-09-25T14:00:00Z; got {text!r}"
        )
        raise UsageError(msg) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_ids(ids: Sequence[str], ids_file: Path | None) -> list[str] | None:
    """
    The conversation ids given with ``--id`` and in ``--ids-file``, in order, once each.

    The file has one id per line; blank lines and lines starting with ``#`` are skipped;
    ``-`` reads standard input. ``None`` means neither was given: all conversations.

    Raises:
        UsageError: the file cannot be read, or holds no id.
    """
    if not ids and ids_file is None:
        return None
    chosen = [conversation_id.strip() for conversation_id in ids]
    if any(not conversation_id for conversation_id in chosen):
        msg = "--id needs a conversation id, got an empty one"
        raise UsageError(msg)
    if ids_file is not None:
        from_file = _read_ids_file(ids_file)
        if not from_file:
            msg = f"--ids-file {ids_file} holds no conversation id (one per line)"
            raise UsageError(msg)
        chosen.extend(from_file)
    return list(dict.fromkeys(chosen))


def _read_ids_file(path: Path) -> list[str]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read --ids-file {path}: {exc.strerror or exc}"
        raise UsageError(msg) from None
    except UnicodeDecodeError:
        msg = f"cannot read --ids-file {path}: it is not UTF-8 text"
        raise UsageError(msg) from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
