"""
Deterministic ids for vendors whose messages have none (Convai, Talkifai).

An id is a hash of the conversation id, the message's own timestamp, speaker and text, and
its occurrence among identical messages at the same timestamp. So it is stable across
fetches of unchanged history, stays the same when the conversation grows, and is unique in
the conversation even when someone says "ok" twice in one second.
"""

from __future__ import annotations

import hashlib

__all__ = ["Occurrences", "derived_id"]


def derived_id(conversation_id: str, timestamp: str, speaker: str, content: str, k: int) -> str:
    """The id of the *k*-th (0-based) identical message at *timestamp* in a conversation."""
    # Each part followed by a 0x1F separator, hashed in one call: the same digest as
    # feeding the parts one by one (ids must never change), at half the cost per message.
    data = f"{conversation_id}\x1f{timestamp}\x1f{speaker}\x1f{content}\x1f{k}\x1f"
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class Occurrences:
    """
    Counts identical messages within one timestamp, fed in ascending order.

    Only the current timestamp's counts are kept, so memory is bounded by the largest
    burst, not by the conversation.
    """

    __slots__ = ("_counts", "_timestamp")

    def __init__(self) -> None:
        self._timestamp: str | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def next(self, timestamp: str, speaker: str, content: str) -> int:
        """How many identical messages at *timestamp* came before this one."""
        if timestamp != self._timestamp:
            self._timestamp = timestamp
            self._counts = {}
        key = (speaker, content)
        k = self._counts.get(key, 0)
        self._counts[key] = k + 1
        return k
