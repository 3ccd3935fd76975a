"""
dlt: chat history into every warehouse and lake dlt loads, incrementally.

Needs the ``dlt`` extra: ``pip install 'backscroll[dlt]'`` (plus dlt's own extra for your
destination, such as ``'dlt[duckdb]'``, ``'dlt[postgres]'`` or ``'dlt[parquet]'``).

.. code-block:: python

    pipeline = dlt.pipeline("chat_history", destination="duckdb", dataset_name="chat")
    pipeline.run(backscroll_source(provider, conversation_ids=["con_9s2kd81"]))

`backscroll_source` has two resources:

- ``messages``: one row per message, the `backscroll.to_dict` form (``metadata`` and ``raw``
  as JSON columns, ``created_at`` a timestamp), with the primary key ``(provider,
  conversation_id, id)`` and the ``merge`` write disposition, so a message loaded twice is
  one row;
- ``conversations``: one row per conversation where the provider lists them
  (`ListsConversations`, e.g. Convai), primary key ``(provider, id)``, merged.

Why not ``dlt.sources.incremental("created_at")``: that is one cursor for the whole resource,
and conversations do not advance together. After one run its cursor sits at the newest
message of any conversation, and the next run drops every message older than that in every
other conversation. This source keeps a watermark per conversation in dlt's resource state
(the newest ``created_at`` loaded and the ids that share it, since vendors stamp bursts with
one second) and reads each conversation from its own watermark, so a rerun loads only what
is new, conversation by conversation. A conversation with a message that has no time is
read whole each time (the merge keeps it to one row per message). dlt saves the state with
the load, so a run that fails leaves the watermarks where they were.

The provider is read through the blocking facade (`backscroll.blocking`): dlt extracts a
sync resource in its own thread, and the provider's connections stay on one loop across
runs. Create the provider outside your own event loop.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from backscroll import blocking
from backscroll._converter import to_dict
from backscroll._protocols import ChatHistoryProvider, ListsConversations
from backscroll.errors import ConfigurationError
from backscroll.integrations._mapping import missing_extra

try:
    import dlt
except ImportError as exc:
    raise missing_extra("backscroll.integrations.dlt", "dlt", "dlt") from exc

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from dlt.common.schema.typing import TColumnSchema
    from dlt.extract import DltResource, DltSource

    from backscroll._models import Message

__all__ = ["backscroll_source"]

#: The key of the per-conversation watermarks in the ``messages`` resource's state.
WATERMARKS: Final = "watermarks"
# Every field typed up front: a column no row has filled yet (token_count of a vendor that
# has none) still exists, and vendor JSON stays one JSON column instead of a table per key.
_CONVERSATION_COLUMNS: Final[dict[str, TColumnSchema]] = {
    "id": {"data_type": "text", "nullable": False},
    "provider": {"data_type": "text", "nullable": False},
    "created_at": {"data_type": "timestamp", "timezone": True},
    "metadata": {"data_type": "json"},
    "raw": {"data_type": "json"},
}
_MESSAGE_COLUMNS: Final[dict[str, TColumnSchema]] = {
    "id": {"data_type": "text", "nullable": False},
    "conversation_id": {"data_type": "text", "nullable": False},
    "role": {"data_type": "text", "nullable": False},
    "content": {"data_type": "text", "nullable": False},
    "created_at": {"data_type": "timestamp", "timezone": True},
    "provider": {"data_type": "text", "nullable": False},
    "sender_id": {"data_type": "text"},
    "token_count": {"data_type": "bigint"},
    "metadata": {"data_type": "json"},
    "raw": {"data_type": "json"},
}


def backscroll_source(
    provider: ChatHistoryProvider,
    *,
    conversation_ids: Iterable[str] | None = None,
    since: datetime | None = None,
) -> DltSource:
    """
    A dlt source of a provider's conversations and messages, loaded incrementally.

    Args:
        provider: Any provider, not used from another event loop.
        conversation_ids: The conversations to load; ``None`` lists them through the
            provider (`ListsConversations`).
        since: Only messages created at or after this time (naive means UTC); the
            per-conversation watermarks move it later, never earlier.

    Returns:
        A dlt source with the resources ``messages`` and, where the provider lists its
        conversations, ``conversations``.

    Raises:
        ConfigurationError: an argument is unusable, or there are no ids and the provider
            cannot list its conversations.

    .. versionadded:: 0.1.0
    """
    candidate: object = provider  # typed callers pass a provider; others may not
    if not isinstance(candidate, ChatHistoryProvider):
        msg = f"backscroll_source reads through a provider, got {type(candidate).__name__}"
        raise ConfigurationError(msg)
    if isinstance(conversation_ids, str):
        msg = "conversation_ids takes a list of ids, not one string"
        raise ConfigurationError(msg)
    ids = None if conversation_ids is None else list(conversation_ids)
    if ids is None and not isinstance(provider, ListsConversations):
        msg = f"{provider!r} cannot list its conversations: pass conversation_ids=[...]"
        raise ConfigurationError(msg)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    @dlt.source(name="backscroll")
    def source() -> list[DltResource]:
        resources = [_messages(provider, ids, since)]
        if isinstance(provider, ListsConversations):
            resources.insert(0, _conversations(provider))
        return resources

    built: DltSource = source()
    return built


def _listed_ids(provider: ChatHistoryProvider) -> Iterator[str]:
    if not isinstance(provider, ListsConversations):  # checked by backscroll_source
        return
    for conversation in blocking.iterate(provider.conversations()):
        yield conversation.id


def _conversations(provider: ListsConversations) -> DltResource:
    def conversations() -> Iterator[dict[str, Any]]:
        for conversation in blocking.iterate(provider.conversations()):
            yield to_dict(conversation)

    return dlt.resource(
        conversations(),
        name="conversations",
        primary_key=("provider", "id"),
        write_disposition="merge",
        columns=_CONVERSATION_COLUMNS,
    )


def _messages(
    provider: ChatHistoryProvider, ids: list[str] | None, since: datetime | None
) -> DltResource:
    def messages() -> Iterator[dict[str, Any]]:
        state = dlt.current.resource_state("messages")
        watermarks: dict[str, Any] = state.setdefault(WATERMARKS, {})
        for conversation_id in _listed_ids(provider) if ids is None else ids:
            yield from _new_messages(provider, conversation_id, since, watermarks)

    return dlt.resource(
        messages(),
        name="messages",
        primary_key=("provider", "conversation_id", "id"),
        write_disposition="merge",
        columns=_MESSAGE_COLUMNS,
    )


def _new_messages(
    provider: ChatHistoryProvider,
    conversation_id: str,
    since: datetime | None,
    watermarks: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """The conversation's messages past its watermark, moving the watermark as they go."""
    mark = watermarks.get(conversation_id)
    start = since
    seen: set[str] = set()
    if mark is not None:
        stamp = datetime.fromisoformat(mark["created_at"])
        start = stamp if start is None else max(start, stamp)
        if start == stamp:
            seen = set(mark["ids"])
    newest: datetime | None = None
    newest_ids: list[str] = []
    timeless = False
    for message in blocking.iterate(provider.messages(conversation_id, since=start)):
        if message.id in seen:
            continue
        timeless = timeless or message.created_at is None
        newest, newest_ids = _advance(newest, newest_ids, message)
        yield to_dict(message)
    if timeless:
        watermarks.pop(conversation_id, None)  # read it whole next time: merge dedupes
    elif newest is not None:
        if mark is not None and datetime.fromisoformat(mark["created_at"]) == newest:
            newest_ids = [*mark["ids"], *newest_ids]
        watermarks[conversation_id] = {"created_at": newest.isoformat(), "ids": newest_ids}


def _advance(
    newest: datetime | None, ids: list[str], message: Message
) -> tuple[datetime | None, list[str]]:
    """The newest time seen and the ids that carry it, after *message*."""
    stamp = message.created_at
    if stamp is None or (newest is not None and stamp < newest):
        return newest, ids
    if newest is not None and stamp == newest:
        return newest, [*ids, message.id]
    return stamp, [message.id]
