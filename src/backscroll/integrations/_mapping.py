"""
What every framework adapter shares: which messages to keep, as whom, from where.

The adapters differ only in the types they build; the choices (the ``unmapped`` policy,
``drop_empty``, participant names, provenance) are made here once, so that the four of them
agree on every message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

from backscroll._models import Message, Role
from backscroll.errors import ConfigurationError, ConversionError, MissingExtraError

__all__ = [
    "Names",
    "Unmapped",
    "missing_extra",
    "participant_name",
    "provenance",
    "select",
]

#: What to do with a message the target cannot express faithfully (`Role.UNKNOWN`, `Role.TOOL`).
Unmapped = Literal["user", "skip", "error"]
#: ``True`` for the vendor's sender id, or a function choosing a name per message.
Names = bool | Callable[[Message], str | None]

_UNMAPPED: Final = ("user", "skip", "error")
_NATIVE: Final = frozenset({Role.USER, Role.ASSISTANT, Role.SYSTEM})
# OpenAI's documented alphabet for participant names; LangChain passes `name` on to it.
_NAME_FORBIDDEN: Final = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX: Final = 64


def missing_extra(module: str, extra: str, package: str) -> MissingExtraError:
    """The error for importing *module* without *package*, naming the extra that brings it."""
    msg = f"{module} needs {package}, which is not installed: pip install 'backscroll[{extra}]'"
    return MissingExtraError(msg, name=package)


def select(
    messages: Iterable[Message],
    *,
    unmapped: Unmapped,
    drop_empty: bool,
    target: str,
) -> list[tuple[Message, Role]]:
    """
    The messages to convert, in the order given, each with the speaker it becomes.

    The speaker is `Role.USER`, `Role.ASSISTANT` or `Role.SYSTEM`. `Role.UNKNOWN` and
    `Role.TOOL` follow *unmapped*: ``"user"`` sends them as the user, ``"skip"`` leaves them
    out, ``"error"`` raises.

    Raises:
        ConfigurationError: *unmapped* is not one of the choices, or *messages* is not an
            iterable of `Message` (for example the async iterator itself, not yet read).
        ConversionError: *unmapped* is ``"error"`` and a message has no faithful speaker.
    """
    if unmapped not in _UNMAPPED:
        msg = f"unmapped must be one of {', '.join(map(repr, _UNMAPPED))}, got {unmapped!r}"
        raise ConfigurationError(msg)
    if hasattr(messages, "__aiter__"):
        msg = (
            f"{target} takes messages already read, not an async iterator: "
            "pass [m async for m in provider.messages(conversation_id)]"
        )
        raise ConfigurationError(msg)
    selected: list[tuple[Message, Role]] = []
    for item in messages:
        message: object = item  # typed callers pass messages; others may not
        if not isinstance(message, Message):
            msg = f"{target} takes backscroll Message objects, got {type(message).__name__}"
            raise ConfigurationError(msg)
        if drop_empty and not message.content.strip():
            continue
        if message.role in _NATIVE:
            selected.append((message, message.role))
        elif unmapped == "user":
            selected.append((message, Role.USER))
        elif unmapped == "error":
            msg = (
                f"message {message.id!r} of conversation {message.conversation_id!r} has role "
                f"{message.role.value!r}, which {target} cannot express faithfully; pass "
                "unmapped='user' to send it as the user, or unmapped='skip' to leave it out"
            )
            raise ConversionError(msg)
    return selected


def provenance(message: Message) -> dict[str, Any]:
    """
    Where *message* came from, as JSON-ready values: kept beside the converted message.

    ``role`` is backscroll's own, so a message sent as the user because its speaker was
    unknown stays recognisable.
    """
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "provider": message.provider,
        "role": message.role.value,
        "created_at": None if message.created_at is None else message.created_at.isoformat(),
        "sender_id": message.sender_id,
    }


def participant_name(message: Message, names: Names) -> str | None:
    """
    The participant name to send with *message*, or ``None`` for none.

    ``names=True`` takes the vendor's sender id; a function chooses its own. Either way the
    name is reduced to letters, digits, ``_`` and ``-`` (at most 64), which is what OpenAI
    accepts.

    Raises:
        ConfigurationError: *names* is neither a bool nor a callable, or the callable
            returned something other than a string or ``None``.
    """
    choice: object = names  # typed callers pass a bool or a callable; others may not
    if choice is False:
        return None
    if choice is True:
        raw: object = message.sender_id
    elif callable(choice):
        raw = choice(message)
    else:
        msg = f"names must be a bool or a callable taking a Message, got {names!r}"
        raise ConfigurationError(msg)
    if raw is None:
        return None
    if not isinstance(raw, str):
        msg = f"the names callable must return a string or None, got {type(raw).__name__}"
        raise ConfigurationError(msg)
    cleaned = _NAME_FORBIDDEN.sub("_", raw).strip("_")[:_NAME_MAX]
    return cleaned or None
