"""
The fake Talkifai's ground truth: seeded conversations, users' own, and growth.

Records are Talkifai messages as served (``role``, ``content``, ``timestamp``,
``token_count``), oldest first. The documented example conversations exist with their
documented ids, so the vendor's samples run verbatim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from backscroll._models import Message, Role
from backscroll.sandbox._generate import ASSISTANT_LINES, USER_LINES, hex_string, next_role
from backscroll.sandbox._store import Record, RecordStore, created_at, speaker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll.sandbox._generate import Generation

__all__ = ["DEFAULT_SIZES", "DOCS_CONVERSATION", "DOCS_CURL_CONVERSATION", "TalkifaiStore"]

#: Messages per generated conversation: empty, tiny, around the 50/100 limits.
DEFAULT_SIZES: Final = (0, 1, 7, 50, 99, 100, 101, 200, 333)
DOCS_CONVERSATION: Final = "chat_abc123_user_1705312800000"
DOCS_CURL_CONVERSATION: Final = "chat_abc123"

_WORDS: Final = {Role.USER: "user", Role.ASSISTANT: "assistant", Role.SYSTEM: "system"}


class TalkifaiStore(RecordStore):
    """
    Talkifai conversations: id to message records, oldest first.

    Args:
        generation: The seed and burstiness to draw with.
        sizes: Messages per generated conversation, beside the documented ones.
    """

    time_field = "timestamp"
    text_field = "content"

    def __init__(self, generation: Generation, sizes: Sequence[int] = DEFAULT_SIZES) -> None:
        super().__init__("talkifai")
        self._generation = generation
        # The documented example, verbatim: its five messages answer the documented request.
        self.conversations[DOCS_CONVERSATION] = [
            _record("assistant", "Hello! How can I help you today?", "10:00:00", None),
            _record("user", "What services do you offer?", "10:00:05", None),
            _record("assistant", "We offer a wide range of services including...", "10:00:06", 45),
            _record("user", "What are your pricing plans?", "10:00:15", None),
            _record("assistant", "Our pricing plans are as follows...", "10:00:16", 120),
        ]
        self.conversations[DOCS_CURL_CONVERSATION] = []
        self._extend_at(DOCS_CURL_CONVERSATION, 42, datetime(2024, 1, 15, 11, 0, tzinfo=UTC))
        for index, size in enumerate(sizes):
            rng = generation.rng("talkifai", "conversation", index, size)
            start = datetime(2024, 1, 16, 9, 0, tzinfo=UTC) + timedelta(
                days=index, seconds=rng.randint(0, 30_000)
            )
            conversation_id = f"chat_{hex_string(rng, 6)}_user_{int(start.timestamp() * 1000)}"
            self.conversations[conversation_id] = []
            self._extend_at(conversation_id, size, start)

    def record_of(self, message: Message) -> Record:
        """A message as Talkifai serves it: its extras, then its own four fields."""
        return {
            **dict(message.metadata),
            "role": speaker(message, _WORDS, "role"),
            "content": message.content,
            "timestamp": created_at(message).isoformat(),
            "token_count": message.token_count,
        }

    def grow(self, conversation_id: str, count: int) -> list[Record]:
        """
        Append *count* messages to a conversation, creating it if needed.

        Returns:
            The new message records.
        """
        messages = self.conversations.setdefault(conversation_id, [])
        if messages:
            start = datetime.fromisoformat(messages[-1]["timestamp"])
        else:
            start = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
        return self._extend_at(conversation_id, count, start, after=bool(messages))

    def _extend_at(
        self, conversation_id: str, count: int, start: datetime, *, after: bool = False
    ) -> list[Record]:
        messages = self.conversations[conversation_id]
        rng = self._generation.rng("talkifai", "messages", conversation_id, len(messages))
        role = messages[-1]["role"] if messages else None
        added: list[Record] = []
        for moment in self._generation.timeline(rng, start, count, after=after):
            position = len(messages) + 1
            if role is None:
                role, line, tokens = "assistant", "Hello! How can I help you today?", None
            else:
                role = next_role(rng, role, ("user", "assistant"))
                lines = USER_LINES if role == "user" else ASSISTANT_LINES
                line = rng.choice(lines)
                tokens = rng.randint(5, 400) if role == "assistant" else None
            record = _record(role, f"{line} (#{position})", moment, tokens)
            messages.append(record)
            added.append(record)
        return added


def _record(role: str, content: str, moment: datetime | str, tokens: int | None) -> Record:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(f"2024-01-15T{moment}+00:00")
    return {
        "role": role,
        "content": content,
        "timestamp": moment.isoformat(),
        "token_count": tokens,
    }
