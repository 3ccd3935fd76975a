"""
LangChain: messages for agents and LangGraph state, a chat message history, a chat loader.

Needs the ``langchain`` extra: ``pip install 'backscroll[langchain]'``.

The mapping, for every `Role`:

=================  ================================================================
backscroll         LangChain
=================  ================================================================
``USER``           ``HumanMessage``
``ASSISTANT``      ``AIMessage``
``SYSTEM``         ``SystemMessage``
``UNKNOWN``        by ``unmapped``: ``HumanMessage`` (default), left out, or an error
``TOOL``           by ``unmapped`` too: a ``ToolMessage`` needs the ``tool_call_id`` of
                   an ``AIMessage`` tool call, and a backscroll message has none
=================  ================================================================

Every converted message keeps backscroll's stable id as its LangChain ``id`` (so LangGraph's
``add_messages`` reducer replaces, rather than repeats, a history fed in twice) and its
provenance in ``additional_kwargs["backscroll"]``: ``id``, ``conversation_id``,
``provider``, backscroll's own ``role``, ``created_at`` (ISO 8601, UTC, or ``None``) and
``sender_id``. LangChain's chat models do not send ``additional_kwargs`` keys they do not
know to the model.

LangChain and LangGraph: langchain-core 1.6.4 deprecates ``BaseChatMessageHistory`` (and
1.3.3 ``RunnableWithMessageHistory``) in favour of LangGraph's short-term memory, where the
conversation lives in the graph's ``messages`` state and a checkpointer keeps it per
``thread_id``. `aload_messages` gives that state its starting point (and
`backscroll.integrations.langgraph` loads it into a thread without a model call);
`BackscrollChatMessageHistory` serves code that still uses ``RunnableWithMessageHistory`` or
a history directly; `BackscrollChatLoader` yields ``ChatSession`` objects, as LangChain's
chat loaders do (for fine-tuning or bulk seeding).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import uuid
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from backscroll import blocking
from backscroll._models import Message, Role
from backscroll._protocols import ChatHistoryProvider, DeletesConversations, ListsConversations
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import ConfigurationError, ReadOnlyError
from backscroll.integrations import _facade
from backscroll.integrations._mapping import (
    missing_extra,
    participant_name,
    provenance,
    select,
)
from backscroll.integrations._reading import read_history

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.chat_loaders import BaseChatLoader
    from langchain_core.chat_sessions import ChatSession
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        HumanMessage,
        SystemMessage,
        message_to_dict,
    )
except ImportError as exc:
    raise missing_extra("backscroll.integrations.langchain", "langchain", "langchain-core") from exc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

    from backscroll.integrations._mapping import Names, Unmapped
    from backscroll.sinks import Sink

__all__ = [
    "BackscrollChatLoader",
    "BackscrollChatMessageHistory",
    "LostMessagesWarning",
    "aload_messages",
    "to_langchain_messages",
]


class LostMessagesWarning(UserWarning):
    """
    LangChain tried to add messages to a read-only `BackscrollChatMessageHistory`.

    Warned as well as raised (`ReadOnlyError`), because LangChain runs a history's writes
    in a callback whose errors it only logs: ``RunnableWithMessageHistory.invoke`` succeeds
    and the turn is lost. The warning shows where an exception would be swallowed; the
    history's next read raises.

    .. versionadded:: 0.1.0
    """


_CLASSES: Final[dict[Role, type[BaseMessage]]] = {
    Role.USER: HumanMessage,
    Role.ASSISTANT: AIMessage,
    Role.SYSTEM: SystemMessage,
}
# LangChain message types back to backscroll roles, for writes into a sink.
_ROLES: Final = {
    "human": Role.USER,
    "ai": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}
_CHAT_ROLES: Final = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}


def to_langchain_messages(
    messages: Iterable[Message],
    *,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[BaseMessage]:
    """
    Turn messages into LangChain messages, in the order given.

    .. code-block:: python

        history = to_langchain_messages([m async for m in provider.messages("con_9s2kd81")])
        agent.invoke({"messages": [*history, HumanMessage("And now?")]})

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        names: ``True`` sets each message's ``name`` from its ``sender_id``; a function
            ``names(message) -> str | None`` chooses its own (reduced to ``[A-Za-z0-9_-]``).
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as ``HumanMessage``, ``"skip"`` leaves them out, ``"error"`` raises.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no LangChain class.

    .. versionadded:: 0.1.0
    """
    selected = select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_langchain_messages"
    )
    return [
        _CLASSES[role](
            content=message.content,
            id=message.id,
            name=participant_name(message, names),
            additional_kwargs={"backscroll": provenance(message)},
        )
        for message, role in selected
    ]


async def aload_messages(
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    max_messages: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[BaseMessage]:
    """
    Read a conversation and return it as LangChain messages, oldest first.

    The starting point of a LangGraph thread:

    .. code-block:: python

        history = await aload_messages(provider, "con_9s2kd81", max_messages=50)
        config = {"configurable": {"thread_id": "con_9s2kd81"}}
        await graph.ainvoke({"messages": [*history, HumanMessage("And now?")]}, config)

    From synchronous code: ``backscroll.blocking.run(aload_messages, provider, "con_...")``.

    Args:
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor.
        max_messages: Only the newest this many (read newest first, so the rest is never
            fetched where the vendor pages backwards); ``None`` for all.
        since: Inclusive lower bound on `Message.created_at`.
        until: Exclusive upper bound on `Message.created_at`.
        names: As for `to_langchain_messages`.
        drop_empty: As for `to_langchain_messages` (applied after ``max_messages``).
        unmapped: As for `to_langchain_messages` (applied after ``max_messages``).

    Raises:
        ConfigurationError: an option is invalid.

    Reading raises the provider's errors (`backscroll.errors`).

    .. versionadded:: 0.1.0
    """
    _check_max_messages(max_messages)
    history = await read_history(
        provider, conversation_id, newest=max_messages, since=since, until=until
    )
    return to_langchain_messages(history, names=names, drop_empty=drop_empty, unmapped=unmapped)


def _check_max_messages(max_messages: int | None) -> None:
    if max_messages is not None:
        positive_int(max_messages, "max_messages")


def _text(message: BaseMessage) -> str:
    """The text of a LangChain message: its string content, or its text blocks joined."""
    content: object = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
    return "".join(parts)


def _role(message: BaseMessage) -> Role:
    if message.type == "chat":
        return _CHAT_ROLES.get(str(getattr(message, "role", "")).lower(), Role.UNKNOWN)
    return _ROLES.get(message.type, Role.UNKNOWN)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class BackscrollChatMessageHistory(BaseChatMessageHistory):
    """
    A LangChain chat message history that reads a conversation through a provider.

    .. code-block:: python

        history = BackscrollChatMessageHistory(provider, "con_9s2kd81")
        messages = await history.aget_messages()  # HumanMessage, AIMessage, SystemMessage

    LangChain now recommends LangGraph persistence over chat message histories (see the
    module); this class serves code that still uses ``RunnableWithMessageHistory`` or a
    history directly.

    Reads work from any thread and any event loop, sync (``messages``) and async
    (`aget_messages`) on one history alike: every provider call runs on one loop, the
    blocking facade's (`backscroll.blocking`), so the provider's connections never meet a
    second loop. Give the history a provider of its own: do not also use that provider from
    your own event loop.

    Writing (``add_messages``, as ``RunnableWithMessageHistory`` does after each turn) needs
    a *sink*: each added message is written to it as a `Message` of this conversation
    (``provider`` the source's name, ``metadata={"origin": "langchain"}``, the LangChain
    message in ``raw``) and committed, and later reads return it after the provider's
    history (once, even when the provider reads the sink back). Without a sink, a write
    raises `ReadOnlyError` and warns `LostMessagesWarning` (LangChain's callbacks swallow
    the error), and every later read raises `ReadOnlyError`, so a lost turn cannot go
    unnoticed.

    ``clear()`` deletes the conversation *at the vendor* only when ``allow_delete=True`` and
    the provider can delete (`DeletesConversations`); otherwise it raises `ReadOnlyError`.
    Nothing written to the sink is deleted.

    Args:
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor.
        sink: Where added messages go (anything with the `backscroll.sinks.Sink` methods
            ``write`` and ``commit``); ``None`` makes the history read-only.
        allow_delete: Let ``clear()`` delete the conversation at the vendor. Irreversible.
        max_messages: Read only the newest this many; ``None`` for all.
        names: As for `to_langchain_messages`.
        drop_empty: As for `to_langchain_messages`.
        unmapped: As for `to_langchain_messages`.

    Raises:
        ConfigurationError: an argument is unusable.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        conversation_id: str,
        *,
        sink: Sink | None = None,
        allow_delete: bool = False,
        max_messages: int | None = None,
        names: Names = False,
        drop_empty: bool = False,
        unmapped: Unmapped = "user",
    ) -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = f"the history reads through a provider, got {type(candidate).__name__}"
            raise ConfigurationError(msg)
        nonempty_str(conversation_id, "conversation_id")
        if sink is not None and not all(
            callable(getattr(sink, method, None)) for method in ("write", "commit")
        ):
            msg = f"sink must have async write() and commit() methods, got {type(sink).__name__}"
            raise ConfigurationError(msg)
        _check_max_messages(max_messages)
        super().__init__()
        self.provider = provider
        self.conversation_id = conversation_id
        self._sink = sink
        self._allow_delete = allow_delete
        self._max_messages = max_messages
        self._options: dict[str, Any] = {
            "names": names,
            "drop_empty": drop_empty,
            "unmapped": unmapped,
        }
        self._added: list[BaseMessage] = []
        self._lost = 0

    def __repr__(self) -> str:
        return (
            f"BackscrollChatMessageHistory({self.provider!r}, {self.conversation_id!r}, "
            f"sink={self._sink!r})"
        )

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override] # read-only: a property, as LangChain's own histories do
        """The conversation, oldest first, read now (blocking; see `aget_messages`)."""
        self._check_nothing_lost()
        return self._combined(_facade.call(self._read))

    async def aget_messages(self) -> list[BaseMessage]:
        """
        Read the conversation, oldest first, then the messages added since.

        Works on any event loop: the provider is read on the blocking facade's loop.

        Raises:
            ReadOnlyError: an earlier write was lost for want of a sink.

        Reading raises the provider's errors (`backscroll.errors`).
        """
        self._check_nothing_lost()
        return self._combined(await _facade.call_async(self._read))

    async def _read(self) -> list[BaseMessage]:
        return await aload_messages(
            self.provider, self.conversation_id, max_messages=self._max_messages, **self._options
        )

    def _check_nothing_lost(self) -> None:
        if self._lost:
            msg = (
                f"{self._lost} message(s) LangChain added to this read-only history of "
                f"{self.conversation_id!r} were not kept, so this history no longer holds "
                "the whole conversation: pass sink= (for example backscroll.sinks.JsonlSink) "
                "to keep them, or use LangGraph persistence (docs: integrations/langchain)"
            )
            raise ReadOnlyError(msg)

    def _combined(self, history: list[BaseMessage]) -> list[BaseMessage]:
        seen = {m.id for m in history}
        combined = [*history, *(m for m in self._added if m.id not in seen)]
        if self._max_messages is not None:
            combined = combined[-self._max_messages :]
        return combined

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Write messages to the sink (blocking; see `aadd_messages`)."""
        self._refuse_without_sink(messages)
        blocking.run(self.aadd_messages, list(messages))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """
        Write messages to the sink, commit, and include them in later reads.

        Raises:
            ReadOnlyError: the history has no sink (after warning `LostMessagesWarning`).
        """
        sink = self._refuse_without_sink(messages)
        now = datetime.now(UTC)
        kept = [
            m if m.id else m.model_copy(update={"id": f"lc_{uuid.uuid4().hex}"}) for m in messages
        ]
        await sink.write([self._to_message(m, now) for m in kept])
        await sink.commit()
        self._added.extend(kept)

    def _refuse_without_sink(self, messages: Sequence[BaseMessage]) -> Sink:
        if self._sink is not None:
            return self._sink
        self._lost += len(messages)
        msg = (
            f"this history of {self.conversation_id!r} is read-only: pass sink= (for "
            f"example backscroll.sinks.JsonlSink) to keep the {len(messages)} message(s) "
            "LangChain adds"
        )
        # LangChain calls add_messages in a callback whose exceptions it logs and drops;
        # a warning still reaches the user (and pytest.warns).
        warnings.warn(msg, LostMessagesWarning, stacklevel=3)
        raise ReadOnlyError(msg)

    def _to_message(self, message: BaseMessage, now: datetime) -> Message:
        origin = message.additional_kwargs.get("backscroll")
        known = origin if isinstance(origin, dict) else {}
        source = getattr(self.provider, "name", None)
        return Message(
            id=str(message.id),
            conversation_id=self.conversation_id,
            role=_role(message),
            content=_text(message),
            created_at=_parse_time(known.get("created_at")) or now,
            provider=source if isinstance(source, str) and source else "langchain",
            sender_id=message.name,
            metadata={"origin": "langchain"},
            raw=message_to_dict(message),
        )

    def clear(self) -> None:
        """Delete the conversation at the vendor, if allowed (blocking; see `aclear`)."""
        blocking.run(self.aclear)

    async def aclear(self) -> None:
        """
        Delete the conversation at the vendor: only with ``allow_delete=True``.

        Raises:
            ReadOnlyError: deleting was not allowed, or the provider cannot delete.
        """
        if not self._allow_delete:
            msg = (
                f"clear() would delete conversation {self.conversation_id!r} at the vendor, "
                "which backscroll never does unless the history was made with allow_delete=True"
            )
            raise ReadOnlyError(msg)
        provider = self.provider
        if not isinstance(provider, DeletesConversations):
            msg = f"{provider!r} cannot delete conversations, so this history cannot be cleared"
            raise ReadOnlyError(msg)
        await _facade.call_async(
            functools.partial(provider.delete_conversations, [self.conversation_id])
        )
        self._added.clear()


class BackscrollChatLoader(BaseChatLoader):
    """
    LangChain's chat loader over a provider: one ``ChatSession`` per conversation.

    .. code-block:: python

        sessions = BackscrollChatLoader(provider, ["con_9s2kd81"]).load()
        sessions[0]["messages"]  # HumanMessage, AIMessage, SystemMessage

    Args:
        provider: Where the conversations live.
        conversation_ids: The conversations to load, in this order; ``None`` lists them
            through the provider (`ListsConversations`, e.g. Convai).
        limit: With ``conversation_ids=None``, at most this many conversations.
        names: As for `to_langchain_messages`.
        drop_empty: As for `to_langchain_messages`.
        unmapped: As for `to_langchain_messages`.

    Raises:
        ConfigurationError: an argument is unusable, or there are no ids and the provider
            cannot list conversations.

    ``lazy_load``/``load`` work from synchronous code through `backscroll.blocking`;
    ``alazy_load``/``aload`` are native async.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        conversation_ids: Iterable[str] | None = None,
        *,
        limit: int | None = None,
        names: Names = False,
        drop_empty: bool = False,
        unmapped: Unmapped = "user",
    ) -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = f"the loader reads through a provider, got {type(candidate).__name__}"
            raise ConfigurationError(msg)
        if isinstance(conversation_ids, str):
            msg = "conversation_ids takes a list of ids, not one string"
            raise ConfigurationError(msg)
        if conversation_ids is None and not isinstance(provider, ListsConversations):
            msg = f"{provider!r} cannot list its conversations: pass conversation_ids=[...]"
            raise ConfigurationError(msg)
        self.provider = provider
        self.conversation_ids = None if conversation_ids is None else list(conversation_ids)
        self._limit = limit
        self._options: dict[str, Any] = {
            "names": names,
            "drop_empty": drop_empty,
            "unmapped": unmapped,
        }

    def lazy_load(self) -> Iterator[ChatSession]:
        """Yield one chat session per conversation, reading each when it is reached."""
        return blocking.iterate(self.alazy_load())

    async def alazy_load(self) -> AsyncIterator[ChatSession]:
        """Yield one chat session per conversation, reading each when it is reached."""
        async for conversation_id in self._ids():
            history = [m async for m in self.provider.messages(conversation_id)]
            yield ChatSession(messages=to_langchain_messages(history, **self._options))

    async def aload(self) -> list[ChatSession]:
        """Every chat session, in a list."""
        return [session async for session in self.alazy_load()]

    async def _ids(self) -> AsyncIterator[str]:
        if self.conversation_ids is not None:
            for conversation_id in self.conversation_ids:
                yield conversation_id
            return
        provider = self.provider
        if isinstance(provider, ListsConversations):  # checked in __init__
            async for conversation in provider.conversations(limit=self._limit):
                yield conversation.id
