"""
pydantic-ai: the ``ModelRequest``/``ModelResponse`` history that ``Agent.run`` continues.

Needs the ``pydantic-ai`` extra: ``pip install 'backscroll[pydantic-ai]'`` (pydantic-ai-slim).

pydantic-ai recommends carrying a whole ``Conversation`` from run to run
(``agent.run(prompt, conversation=...)``, kept by a ``ConversationStore``); `aload_conversation`
starts one from the vendor's history, under the vendor's conversation id:

.. code-block:: python

    conversation = await aload_conversation(provider, "con_9s2kd81")
    result = await agent.run("And now?", conversation=conversation)
    await store.save(result)  # your ConversationStore, under "con_9s2kd81"

`to_model_messages` converts messages already read, for ``message_history=``.

The mapping, for every `Role` (one model message per backscroll message):

=================  ================================================================
backscroll         pydantic-ai
=================  ================================================================
``USER``           ``ModelRequest`` with one ``UserPromptPart``
``ASSISTANT``      ``ModelResponse`` with one ``TextPart``
``SYSTEM``         ``ModelRequest`` with one ``SystemPromptPart``
``UNKNOWN``        by ``unmapped``: a ``UserPromptPart`` (default), left out, or an error
``TOOL``           by ``unmapped`` too: a ``ToolReturnPart`` must answer a ``ToolCallPart``
                   of an earlier response (pydantic-ai drops one that does not), and a
                   backscroll message has none
=================  ================================================================

Each message's ``created_at`` becomes the ``timestamp`` of the model message and of its
part; a message without a time gets pydantic-ai's own default (the time of conversion) in
the fields that require one, and ``ModelRequest.timestamp`` stays ``None``. The provenance
(id, conversation id, provider, backscroll's role, ``created_at``, sender id) is kept in each
model message's ``metadata["backscroll"]``, which pydantic-ai never sends to the model. Each
model message's ``conversation_id`` is the vendor's, so a run continuing the history keeps
it (pydantic-ai takes the most recent one on ``message_history`` when none is given).
pydantic-ai merges consecutive requests itself before calling a model.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backscroll._models import Role
from backscroll._validate import nonempty_str, positive_int
from backscroll.integrations._mapping import missing_extra, provenance, select
from backscroll.integrations._reading import read_history

try:
    from pydantic_ai.conversation import Conversation
    from pydantic_ai.messages import (
        ModelMessage,
        ModelRequest,
        ModelResponse,
        SystemPromptPart,
        TextPart,
        UserPromptPart,
    )
except ImportError as exc:
    raise missing_extra(
        "backscroll.integrations.pydantic_ai", "pydantic-ai", "pydantic-ai-slim"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from backscroll._models import Message
    from backscroll._protocols import ChatHistoryProvider
    from backscroll.integrations._mapping import Unmapped

__all__ = ["aload_conversation", "to_model_messages"]


def to_model_messages(
    messages: Iterable[Message],
    *,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[ModelMessage]:
    """
    Turn messages into pydantic-ai model messages, in the order given.

    The result is what ``Agent.run(message_history=...)`` takes, and what
    ``ModelMessagesTypeAdapter`` stores and loads.

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as user prompts, ``"skip"`` leaves them out, ``"error"`` raises.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no pydantic-ai part.

    .. versionadded:: 0.1.0
    """
    converted: list[ModelMessage] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_model_messages"
    ):
        metadata = {"backscroll": provenance(message)}
        # Without a time, pydantic-ai's defaults fill the fields that require one.
        stamp: dict[str, Any] = {}
        if message.created_at is not None:
            stamp["timestamp"] = message.created_at
        if role is Role.ASSISTANT:
            converted.append(
                ModelResponse(
                    parts=[TextPart(message.content)],
                    metadata=metadata,
                    conversation_id=message.conversation_id,
                    **stamp,
                )
            )
            continue
        part = (
            SystemPromptPart(message.content, **stamp)
            if role is Role.SYSTEM
            else UserPromptPart(message.content, **stamp)
        )
        converted.append(
            ModelRequest(
                parts=[part],
                metadata=metadata,
                conversation_id=message.conversation_id,
                **stamp,
            )
        )
    return converted


async def aload_conversation(
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    max_messages: int | None = None,
    since: datetime | None = None,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> Conversation:
    """
    Read a conversation into a pydantic-ai ``Conversation``, under the vendor's id.

    The result is what ``agent.run(prompt, conversation=...)`` continues; its
    ``conversation_id`` is *conversation_id*, so the runs, their telemetry and a
    ``ConversationStore`` that saves them all use the vendor's id. Usage starts at zero (a
    vendor's history carries none).

    .. code-block:: python

        conversation = await store.load("con_9s2kd81") or await aload_conversation(
            provider, "con_9s2kd81"
        )
        result = await agent.run("And now?", conversation=conversation)
        await store.save(result)

    Args:
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor.
        max_messages: Only the newest this many (read newest first); ``None`` for all.
        since: Inclusive lower bound on `Message.created_at`.
        drop_empty: As for `to_model_messages` (applied after ``max_messages``).
        unmapped: As for `to_model_messages` (applied after ``max_messages``).

    Raises:
        ConfigurationError: an option is invalid.

    Reading raises the provider's errors (`backscroll.errors`).

    .. versionadded:: 0.1.0
    """
    nonempty_str(conversation_id, "conversation_id")
    if max_messages is not None:
        positive_int(max_messages, "max_messages")
    history = await read_history(provider, conversation_id, newest=max_messages, since=since)
    return Conversation(
        messages=to_model_messages(history, drop_empty=drop_empty, unmapped=unmapped),
        conversation_id=conversation_id,
    )
