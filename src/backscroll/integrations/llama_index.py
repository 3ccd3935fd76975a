"""
LlamaIndex: ``ChatMessage`` lists for chat engines, agents and memory.

Needs the ``llama-index`` extra: ``pip install 'backscroll[llama-index]'`` (llama-index-core).

.. code-block:: python

    history = [m async for m in provider.messages("con_9s2kd81")]
    memory = ChatMemoryBuffer.from_defaults(chat_history=to_chat_messages(history))

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
from backscroll.integrations._mapping import missing_extra, select
from backscroll.integrations._mapping import provenance as origin  # the option's name is taken

try:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
except ImportError as exc:
    raise missing_extra(
        "backscroll.integrations.llama_index", "llama-index", "llama-index-core"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterable

    from backscroll._models import Message
    from backscroll.integrations._mapping import Unmapped

__all__ = ["to_chat_messages"]

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
