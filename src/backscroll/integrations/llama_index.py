"""
LlamaIndex: ``ChatMessage`` lists for chat engines, agents and memory.

Needs the ``llama-index`` extra: ``pip install 'backscroll[llama-index]'`` (llama-index-core).

`aload_memory` fills a LlamaIndex ``Memory`` (the memory LlamaIndex's agents and chat
engines use now; ``ChatMemoryBuffer`` is deprecated in its favour) with a vendor
conversation:

.. code-block:: python

    memory = await aload_memory(provider, "con_9s2kd81")
    response = await agent.run("And now?", memory=memory)

The mapping, for every `Role`:

=================  ================================================================
backscroll         LlamaIndex ``MessageRole``
=================  ================================================================
``USER``           ``USER``
``ASSISTANT``      ``ASSISTANT``
``SYSTEM``         ``SYSTEM``
``UNKNOWN``        by ``unmapped``: ``USER`` (default), left out, or an error
``TOOL``           by ``unmapped`` too: a ``TOOL`` message must carry the
                   ``tool_call_id`` of an assistant tool call, and a backscroll message
                   has none
=================  ================================================================

``ChatMessage`` has no id or time of its own. With ``provenance=True`` each message carries
``additional_kwargs["backscroll"]``: id, conversation id, provider, backscroll's role,
``created_at`` (ISO 8601, UTC, or ``None``) and sender id. It is off by default because
LlamaIndex renders ``additional_kwargs`` into the prompt of completion-style LLMs
(``messages_to_prompt``), and some LLM integrations pass them on to the model API; turn it
on where the messages are stored or inspected rather than sent.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from backscroll._models import Role
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import ConfigurationError
from backscroll.integrations._mapping import missing_extra, select
from backscroll.integrations._mapping import provenance as origin  # the option's name is taken
from backscroll.integrations._reading import read_history

try:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.core.memory import Memory
except ImportError as exc:
    raise missing_extra(
        "backscroll.integrations.llama_index", "llama-index", "llama-index-core"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from backscroll._models import Message
    from backscroll._protocols import ChatHistoryProvider
    from backscroll.integrations._mapping import Unmapped

__all__ = ["aload_memory", "to_chat_messages"]

_ROLES: Final = {
    Role.USER: MessageRole.USER,
    Role.ASSISTANT: MessageRole.ASSISTANT,
    Role.SYSTEM: MessageRole.SYSTEM,
}


def to_chat_messages(
    messages: Iterable[Message],
    *,
    provenance: bool = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[ChatMessage]:
    """
    Turn messages into LlamaIndex chat messages, in the order given.

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        provenance: Add ``additional_kwargs["backscroll"]`` (id, time, ...) to each message;
            off by default, as LlamaIndex may show it to the model (see the module).
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as the user, ``"skip"`` leaves them out, ``"error"`` raises.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no LlamaIndex role.

    .. versionadded:: 0.1.0
    """
    converted: list[ChatMessage] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_chat_messages"
    ):
        extra: dict[str, Any] = {"backscroll": origin(message)} if provenance else {}
        converted.append(
            ChatMessage(role=_ROLES[role], content=message.content, additional_kwargs=extra)
        )
    return converted


async def aload_memory(
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    memory: Memory | None = None,
    max_messages: int | None = None,
    since: datetime | None = None,
    provenance: bool = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> Memory:
    """
    Read a conversation into a LlamaIndex ``Memory``, oldest first.

    .. code-block:: python

        memory = await aload_memory(provider, "con_9s2kd81", max_messages=50)
        messages = await memory.aget()  # what an agent or chat engine is given

    Args:
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor; the session id of a new memory.
        memory: The memory to add the messages to (your token limit, memory blocks, chat
            store); ``None`` makes ``Memory.from_defaults(session_id=conversation_id)``.
        max_messages: Only the newest this many (read newest first); ``None`` for all.
        since: Inclusive lower bound on `Message.created_at`.
        provenance: As for `to_chat_messages`.
        drop_empty: As for `to_chat_messages` (applied after ``max_messages``).
        unmapped: As for `to_chat_messages` (applied after ``max_messages``).

    Returns:
        The memory, with the conversation added after whatever it held.

    Raises:
        ConfigurationError: an option is invalid.

    Reading raises the provider's errors (`backscroll.errors`).

    .. versionadded:: 0.1.0
    """
    nonempty_str(conversation_id, "conversation_id")
    if max_messages is not None:
        positive_int(max_messages, "max_messages")
    given: object = memory
    if given is not None and not isinstance(given, Memory):
        msg = f"memory must be a llama_index.core.memory.Memory, got {type(given).__name__}"
        raise ConfigurationError(msg)
    history = await read_history(provider, conversation_id, newest=max_messages, since=since)
    converted = to_chat_messages(
        history, provenance=provenance, drop_empty=drop_empty, unmapped=unmapped
    )
    filled = Memory.from_defaults(session_id=conversation_id) if memory is None else memory
    await filled.aput_messages(converted)
    return filled
