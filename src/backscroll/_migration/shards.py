"""Split an account's conversations between machines: a stable partition by id."""

from __future__ import annotations

import hashlib

from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import ConfigurationError

__all__ = ["check_shard", "shard_of"]


def shard_of(conversation_id: str, n: int) -> int:
    """
    The shard, from ``0`` to ``n - 1``, that a conversation belongs to.

    The same on every machine, Python version and run (a BLAKE2b hash of the id's UTF-8
    bytes, not Python's salted `hash`), so *n* workers that each copy the conversations
    of their own shard cover every conversation exactly once between them:

    .. code-block:: python

        mine = [c.id async for c in provider.conversations() if shard_of(c.id, 4) == 2]
        await backscroll.migrate(provider, sink, conversation_ids=mine, checkpoint="shard-2.json")

    which is what ``migrate(..., shard=(2, 4))`` does for you. Give each shard its own
    checkpoint (and, for JSONL, its own export file).

    Raises:
        ConfigurationError: *conversation_id* is not a non-empty string or *n* is not a
            positive integer.

    .. versionadded:: 0.1.0
    """
    conversation_id = nonempty_str(conversation_id, "conversation_id")
    n = positive_int(n, "the number of shards")
    digest = hashlib.blake2b(conversation_id.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % n


def check_shard(shard: object) -> tuple[int, int]:
    """
    ``shard=(index, count)`` as `migrate` takes it: shard *index* of *count*, from 0.

    Raises:
        ConfigurationError: it is not two integers with ``0 <= index < count``.
    """
    if (
        not isinstance(shard, tuple)
        or len(shard) != 2  # noqa: PLR2004 - a pair
        or not all(isinstance(part, int) and not isinstance(part, bool) for part in shard)
    ):
        msg = f"shard takes (index, count), as in (0, 4); got {shard!r}"
        raise ConfigurationError(msg)
    index, count = shard
    if count < 1:
        msg = f"shard={shard!r}: the count of shards must be at least 1"
        raise ConfigurationError(msg)
    if not 0 <= index < count:
        msg = f"shard={shard!r}: the index must be from 0 to {count - 1} (shards count from 0)"
        raise ConfigurationError(msg)
    return index, count
