"""
Messages for the OpenAI APIs: chat-completions messages and Responses input items.

Needs no extra at run time: the results are plain dicts. For type checkers they are
openai's own types (``ChatCompletionMessageParam``, ``ResponseInputItemParam``), imported
only while type checking, so that ``messages=[*history, {"role": "user", ...}]`` passes
``mypy --strict`` where the ``openai`` package is installed (``pip install
'backscroll[openai]'`` brings it).

The mapping, for every `Role`:

=================  =============================================================
backscroll         OpenAI
=================  =============================================================
``USER``           ``{"role": "user", ...}``
``ASSISTANT``      ``{"role": "assistant", ...}``
``SYSTEM``         ``{"role": "system", ...}``
``UNKNOWN``        by ``unmapped``: ``"user"`` (default), ``"skip"`` or ``"error"``
``TOOL``           by ``unmapped`` too: a ``"tool"`` message must answer an assistant
                   ``tool_calls`` entry by its id, and a backscroll message has none
=================  =============================================================

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from backscroll._models import Role
from backscroll.integrations._mapping import participant_name, select

if TYPE_CHECKING:
    from collections.abc import Iterable

    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.responses import EasyInputMessageParam, ResponseInputItemParam

    from backscroll._models import Message
    from backscroll.integrations._mapping import Names, Unmapped

__all__ = ["to_openai_messages", "to_responses_input"]

_RESPONSES_ROLES: Final[dict[Role, Literal["user", "assistant", "system"]]] = {
    Role.USER: "user",
    Role.ASSISTANT: "assistant",
    Role.SYSTEM: "system",
}


def to_openai_messages(
    messages: Iterable[Message],
    *,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[ChatCompletionMessageParam]:
    """
    Turn messages into OpenAI chat-completions messages, in the order given.

    .. code-block:: python

        history = [m async for m in provider.messages("con_9s2kd81")]
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[*to_openai_messages(history), {"role": "user", "content": "And now?"}],
        )

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        names: ``True`` adds ``"name"`` from each message's ``sender_id`` where it has one;
            a function ``names(message) -> str | None`` chooses its own. Names are reduced to
            ``[A-Za-z0-9_-]``, at most 64 characters, as OpenAI requires.
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as the user, ``"skip"`` leaves them out, ``"error"`` raises.

    Returns:
        One dict per message kept, each with ``"role"`` and ``"content"`` (and ``"name"``
        when asked for and known); typed as openai's ``ChatCompletionMessageParam``.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no OpenAI role.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       Typed as ``list[ChatCompletionMessageParam]`` rather than ``list[dict]``.
    """
    converted: list[ChatCompletionMessageParam] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_openai_messages"
    ):
        name = participant_name(message, names)
        entry: ChatCompletionMessageParam
        if role is Role.ASSISTANT:
            entry = {"role": "assistant", "content": message.content}
        elif role is Role.SYSTEM:
            entry = {"role": "system", "content": message.content}
        else:
            entry = {"role": "user", "content": message.content}
        if name is not None:
            entry["name"] = name
        converted.append(entry)
    return converted


def to_responses_input(
    messages: Iterable[Message],
    *,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[ResponseInputItemParam]:
    """
    Turn messages into input items of the OpenAI Responses API, in the order given.

    Each item is an easy input message, ``{"type": "message", "role": ..., "content":
    ...}``, which ``client.responses.create(input=...)`` and the OpenAI Agents SDK take:

    .. code-block:: python

        history = [m async for m in provider.messages("con_9s2kd81")]
        response = await client.responses.create(
            model="gpt-4o-mini",
            input=[*to_responses_input(history), {"role": "user", "content": "And now?"}],
        )

    The Responses API has no participant names, so there is no ``names`` option.

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as the user, ``"skip"`` leaves them out, ``"error"`` raises.

    Returns:
        One item per message kept; typed as openai's ``ResponseInputItemParam``.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no OpenAI role.

    .. versionadded:: 0.1.0
    """
    items: list[ResponseInputItemParam] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_responses_input"
    ):
        item: EasyInputMessageParam = {
            "type": "message",
            "role": _RESPONSES_ROLES[role],
            "content": message.content,
        }
        items.append(item)
    return items
