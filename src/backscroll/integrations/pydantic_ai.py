"""
pydantic-ai: the ``ModelRequest``/``ModelResponse`` history that ``Agent.run`` continues.

Needs the ``pydantic-ai`` extra: ``pip install 'backscroll[pydantic-ai]'`` (pydantic-ai-slim).

.. code-block:: python

    history = [m async for m in provider.messages("con_9s2kd81")]
    result = await agent.run("And now?", message_history=to_model_messages(history))

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
model message's ``metadata["backscroll"]``, which pydantic-ai never sends to the model.
pydantic-ai merges consecutive requests itself before calling a model.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backscroll._models import Role
from backscroll.integrations._mapping import missing_extra, provenance, select

try:
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

    from backscroll._models import Message
    from backscroll.integrations._mapping import Unmapped

__all__ = ["to_model_messages"]


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
                ModelResponse(parts=[TextPart(message.content)], metadata=metadata, **stamp)
            )
            continue
        part = (
            SystemPromptPart(message.content, **stamp)
            if role is Role.SYSTEM
            else UserPromptPart(message.content, **stamp)
        )
        converted.append(ModelRequest(parts=[part], metadata=metadata, **stamp))
    return converted
