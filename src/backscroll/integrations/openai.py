"""
Messages in the OpenAI chat-completions format: ``{"role": ..., "content": ...}``.

Needs no extra: the result is plain dicts, ready for ``client.chat.completions.create(
messages=...)`` and for the many APIs that copy that format.

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

from typing import TYPE_CHECKING, Any

from backscroll.integrations._mapping import participant_name, select

if TYPE_CHECKING:
    from collections.abc import Iterable

    from backscroll._models import Message
    from backscroll.integrations._mapping import Names, Unmapped

__all__ = ["to_openai_messages"]


def to_openai_messages(
    messages: Iterable[Message],
    *,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[dict[str, Any]]:
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
        when asked for and known).

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no OpenAI role.

    .. versionadded:: 0.1.0
    """
    converted: list[dict[str, Any]] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_openai_messages"
    ):
        entry: dict[str, Any] = {"role": role.value, "content": message.content}
        name = participant_name(message, names)
        if name is not None:
            entry["name"] = name
        converted.append(entry)
    return converted
