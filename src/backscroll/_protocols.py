"""The provider protocols: what every provider does, and what only some vendors offer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from datetime import datetime

    from backscroll._models import Conversation, Message

__all__ = [
    "ChatHistoryProvider",
    "DeletesConversations",
    "Identifiable",
    "ListsConversations",
    "Order",
    "ReportsRequests",
]

Order = Literal["asc", "desc"]


@runtime_checkable
class ChatHistoryProvider(Protocol):
    """
    Anything that yields the messages of a conversation: every built-in provider, and yours.

    .. versionadded:: 0.1.0
    """

    def messages(
        self,
        conversation_id: str,
        *,
        order: Order = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """
        Yield every message of a conversation exactly once, lazily, page by page.

        Args:
            conversation_id: The vendor's conversation (session) id.
            order: ``"asc"`` for oldest first (the default for every provider), ``"desc"``
                for newest first.
            since: Inclusive lower bound on `Message.created_at`.
            until: Exclusive upper bound on `Message.created_at`.
            page_size: Messages per request; clamped to the vendor's maximum.
        """
        ...


@runtime_checkable
class ListsConversations(Protocol):
    """
    A provider that can list its conversations (Convai).

    .. versionadded:: 0.1.0
    """

    def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """Yield the conversations, at most *limit* of them (all when ``None``)."""
        ...


@runtime_checkable
class DeletesConversations(Protocol):
    """
    A provider that can delete conversations at the vendor (Convai).

    .. versionadded:: 0.1.0
    """

    async def delete_conversations(self, ids: Sequence[str]) -> None:
        """Delete the conversations with these ids at the vendor. Irreversible."""
        ...


@runtime_checkable
class Identifiable(Protocol):
    """
    A source or sink that says what tells it apart from another of its kind.

    A migration's checkpoint records the identity of its source and its sink, and refuses
    to be used with any other: another Convai character's checkpoint would skip the wrong
    sessions, another export's would cut the wrong file. Every built-in provider and sink
    is `Identifiable`; a source that is not is named by its class alone.

    .. versionadded:: 0.1.0
    """

    def identity(self) -> Mapping[str, str]:
        """
        What tells this one apart: ``{"name": "convai", "character_id": "7f3e..."}``.

        Short text values (a name, a base URL without user, password or query, a
        resolved file path); never a credential: the checkpoint file holds them as is.
        """
        ...


@runtime_checkable
class ReportsRequests(Protocol):
    """
    A provider that counts the requests it had to retry.

    A migration's report (`MigrationReport.retries`) and the CLI's progress display read
    it from the source; every HTTP provider reports it, and a plugin's provider may too.

    .. versionadded:: 0.2.0
    """

    @property
    def retries(self) -> int:
        """How many requests were retried so far."""
        ...
