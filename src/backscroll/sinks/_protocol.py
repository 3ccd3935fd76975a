"""The `Sink` protocol: where a migration writes, and the optional extras it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll._models import Conversation, Message

__all__ = ["CountsMessages", "RecordsConversations", "RewindableSink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """
    Anything a migration can write messages into: the built-in sinks, and yours.

    A migration calls `write` with batches of messages, oldest first within each
    conversation (batches of several conversations interleave), and `commit` when what it
    wrote must be durable; only then does it record the progress in its checkpoint. It
    never calls `aclose`: the sink belongs to the caller, who closes it.

    For exactly-once copies across crashes, writing a message the sink already holds
    (same ``provider``, ``conversation_id`` and ``id``) must replace it rather than add a
    second copy (an *upsert*), or the sink must be a `RewindableSink`.

    .. versionadded:: 0.1.0
    """

    async def write(self, messages: Sequence[Message]) -> None:
        """Store *messages*; they need not be durable before `commit`."""
        ...

    async def commit(self) -> None:
        """Make everything written so far durable. Called before the checkpoint moves on."""
        ...

    async def aclose(self) -> None:
        """Release the sink's resources; what was written but not committed may be lost."""
        ...


@runtime_checkable
class RewindableSink(Sink, Protocol):
    """
    An append-only sink that can drop what was written after a commit (`JsonlSink`).

    The migration saves `position` in its checkpoint after every commit, and on resume
    calls `rewind` with it: what an interrupted run wrote after its last commit is cut off
    and copied again, so nothing is there twice.

    .. versionadded:: 0.1.0
    """

    async def position(self) -> int:
        """The committed position (for a file, its committed size in bytes)."""
        ...

    async def rewind(self, position: int) -> None:
        """Drop everything after *position*, a value `position` returned earlier."""
        ...


@runtime_checkable
class CountsMessages(Protocol):
    """
    A sink that can count the messages it holds (`SqliteSink`).

    With ``delete_after=True``, `backscroll.migrate` deletes a conversation at the vendor
    only when the sink holds as many of its messages as the vendor has. A sink that counts
    is asked; for one that does not, the checkpoint's count stands in.

    .. versionadded:: 0.1.0
    """

    async def count_messages(self, provider: str, conversation_id: str) -> int:
        """
        How many messages of the conversation the sink holds, committed.

        Args:
            provider: The messages' `backscroll.Message.provider` (``"convai"``).
            conversation_id: The conversation.
        """
        ...


@runtime_checkable
class RecordsConversations(Protocol):
    """
    A sink that stores conversation records too: created time, vendor metadata (`SqliteSink`).

    When the source lists its conversations (`backscroll.ListsConversations`),
    `backscroll.migrate` hands each listed `backscroll.Conversation` to such a sink, so
    that conversations without messages are kept too.

    .. versionadded:: 0.1.0
    """

    async def write_conversations(self, conversations: Sequence[Conversation]) -> None:
        """Store (upsert) these conversation records; committed with the next `commit`."""
        ...
