"""
The fake cursor-paged API's ground truth: seeded conversations, users' own, and growth.

Records are the API's messages as served with ``include_meta=true`` (``id``,
``sender_type``, ``sender_id``, ``text``, ``metadata``, ``created_at``), oldest first; the
fake leaves ``metadata`` out otherwise. The fake pages by ``created_at``, so every record
loaded must carry a parseable one that does not go back in time, and ids are unique in a
conversation.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from backscroll._models import Message, Role
from backscroll.errors import ConfigurationError
from backscroll.sandbox._generate import (
    ASSISTANT_LINES,
    BASE36,
    USER_LINES,
    hex_string,
    next_role,
)
from backscroll.sandbox._store import (
    Record,
    RecordStore,
    created_at,
    iso_time,
    record_time,
    speaker,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Sequence

    from backscroll.sandbox._generate import Generation

__all__ = ["DEFAULT_SIZES", "DOCS_CONVERSATION", "CursorStore"]

#: Messages per generated conversation: around the 20/100 limits.
DEFAULT_SIZES: Final = (0, 1, 7, 20, 100, 101, 200, 333)
DOCS_CONVERSATION: Final = "con_9s2kd81"

_WORDS: Final = {Role.USER: "user", Role.ASSISTANT: "ai", Role.SYSTEM: "system"}
_ATTACHMENT_SHARE: Final = 0.1
_KEYS: Final = ("id", "sender_type", "sender_id", "text", "metadata", "created_at")


class CursorStore(RecordStore):
    """
    Cursor-API conversations: id to message records (with ``metadata``), oldest first.

    Args:
        generation: The seed and burstiness to draw with.
        sizes: Messages per generated conversation, beside the documented one.
    """

    time_field = "created_at"
    text_field = "text"

    def __init__(self, generation: Generation, sizes: Sequence[int] = DEFAULT_SIZES) -> None:
        super().__init__("cursor")
        self._generation = generation
        self._build_documented()
        for index, size in enumerate(sizes):
            rng = generation.rng("cursor", "conversation", index, size)
            conversation_id = "con_" + "".join(rng.choice(BASE36) for _ in range(7))
            start = datetime(2026, 3, 16, 8, 0, tzinfo=UTC) + timedelta(
                days=index, seconds=rng.randint(0, 30_000)
            )
            self.conversations[conversation_id] = []
            self._extend_at(conversation_id, size, start)

    def _build_documented(self) -> None:
        conversation = DOCS_CONVERSATION
        self.conversations[conversation] = []
        generated = self._extend_at(conversation, 45, datetime(2026, 3, 15, 13, 30, tzinfo=UTC))
        # The two documented messages close it (13:59:11 and 14:00:01), as in the example:
        # a timeline that ran past them is moved back whole, bursts and gaps kept.
        latest = datetime.fromisoformat(generated[-1]["created_at"])
        overrun = latest - datetime(2026, 3, 15, 13, 59, 10, tzinfo=UTC)
        if overrun > timedelta(0):
            for record in generated:
                moved = datetime.fromisoformat(record["created_at"]) - overrun
                record["created_at"] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.conversations[conversation] += [
            {
                "id": "msg_92kd82",
                "sender_type": "user",
                "sender_id": "usr_82hd92",
                "text": "Hey, can you summarize today's calls?",
                "metadata": {"channel": "web", "attachments": []},
                "created_at": "2026-03-15T13:59:11Z",
            },
            {
                "id": "msg_18dk03",
                "sender_type": "ai",
                "sender_id": "ai_default_bot",
                "text": "Sure, you had 12 inbound and 5 outbound calls today.",
                "metadata": {"model": "gpt-4o-mini", "latency_ms": 743},
                "created_at": "2026-03-15T14:00:01Z",
            },
        ]

    def record_of(self, message: Message) -> Record:
        """A message as the API serves it, its own id kept."""
        return {
            "id": message.id,
            "sender_type": speaker(message, _WORDS, "sender_type"),
            "sender_id": message.sender_id,
            "text": message.content,
            "metadata": copy.deepcopy(dict(message.metadata)),
            "created_at": created_at(message).isoformat().replace("+00:00", "Z"),
        }

    def check(self, conversation_id: str, records: list[Record], **options: Any) -> None:  # noqa: ARG002 - the protocol's keywords
        """
        Refuse records the fake cannot page: bad or backward ``created_at``, a taken id.

        Raises:
            ConfigurationError: which record, and why.
        """
        existing = self.conversations.get(conversation_id, [])
        taken = {r.get("id") for r in existing}
        previous = record_time(existing[-1], "created_at", iso_time) if existing else None
        for index, record in enumerate(records):
            moment = record_time(record, "created_at", iso_time)
            if moment is None:
                msg = (
                    f"cursor records[{index}] of {conversation_id!r} has created_at "
                    f"{record.get('created_at')!r}: the fake pages by it, so it must be an ISO "
                    "8601 time (2026-03-15T13:59:11Z)"
                )
                raise ConfigurationError(msg)
            if previous is not None and moment < previous:
                msg = (
                    f"cursor records[{index}] of {conversation_id!r} is older than the record "
                    f"before it ({moment} < {previous}): the fake pages by created_at, oldest "
                    "first; sort them, or load older ones first"
                )
                raise ConfigurationError(msg)
            if "id" in record:
                if record["id"] in taken:
                    msg = f"cursor message id {record['id']!r} is already in {conversation_id!r}"
                    raise ConfigurationError(msg)
                taken.add(record["id"])
            previous = moment

    def grow(self, conversation_id: str, count: int) -> list[Record]:
        """
        Append *count* messages to a conversation, creating it if needed.

        Returns:
            The new message records (with their ``metadata``).
        """
        messages = self.conversations.setdefault(conversation_id, [])
        if messages:
            start = datetime.fromisoformat(messages[-1]["created_at"])
        else:
            start = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
        return self._extend_at(conversation_id, count, start, after=bool(messages))

    def _extend_at(
        self, conversation_id: str, count: int, start: datetime, *, after: bool = False
    ) -> list[Record]:
        messages = self.conversations[conversation_id]
        generation = self._generation
        rng = generation.rng("cursor", "messages", conversation_id, len(messages))
        taken = {m["id"] for m in messages}
        user_id = "usr_" + hex_string(generation.rng("cursor", "user", conversation_id), 6)
        sender = messages[-1]["sender_type"] if messages else None
        added: list[Record] = []
        for moment in generation.timeline(rng, start, count, after=after):
            position = len(messages) + 1
            # Some conversations open with a system notice; a rare one comes later.
            chance = 0.3 if sender is None else 0.02
            if rng.random() < chance:
                sender = "system"
            else:
                sender = next_role(rng, sender or "ai", ("user", "ai"))
            record: Record = {"id": _message_id(rng, taken), "sender_type": sender}
            if sender == "user":
                attachments = (
                    [{"type": "image", "name": f"photo_{position}.png"}]
                    if rng.random() < _ATTACHMENT_SHARE
                    else []
                )
                text = rng.choice(USER_LINES)
                record |= {
                    "sender_id": user_id,
                    "metadata": {
                        "channel": rng.choice(("web", "ios", "android", "api")),
                        "attachments": attachments,
                    },
                }
            elif sender == "ai":
                text = rng.choice(ASSISTANT_LINES)
                record |= {
                    "sender_id": "ai_default_bot",
                    "metadata": {
                        "model": rng.choice(("gpt-4o-mini", "gpt-4o")),
                        "latency_ms": rng.randint(120, 2400),
                    },
                }
            else:
                text = "Conversation started." if position == 1 else "Agent joined the chat."
                record |= {"sender_id": "system", "metadata": {"event": "notice"}}
            record["text"] = f"{text} (#{position})"
            record["created_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            # Key order as documented: id, sender_type, sender_id, text, metadata, created_at.
            ordered = {k: record[k] for k in _KEYS}
            messages.append(ordered)
            added.append(ordered)
        return added


def _message_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        candidate = "msg_" + "".join(rng.choice(BASE36) for _ in range(6))
        if candidate not in taken:
            taken.add(candidate)
            return candidate
