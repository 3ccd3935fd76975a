"""The normalised models every provider yields: `Message`, `Role` and `Conversation`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

__all__ = ["EMPTY", "Conversation", "Message", "Role", "read_only", "trusted_message"]

#: The one empty read-only mapping: `Message.metadata` when the vendor has no extras.
EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a copy of *value* (a view is kept as is; empty gives `EMPTY`)."""
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value)) if value else EMPTY


def _read_only_or_none(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else read_only(value)


def _thaw(value: object) -> object:
    # A read-only view does not pickle (``cannot pickle 'mappingproxy'``); the dict behind
    # it does, and `read_only` puts the view back on loading.
    return value.copy() if type(value) is MappingProxyType else value


# attrs' own slotted pickling would keep the `MappingProxyType` views in the state, which
# pickle refuses. These hold plain dicts instead, and loading wraps them read-only again,
# so a loaded model equals the original and is just as read-only. Set in each class body,
# so that attrs sees them and does not write its own.
_READ_ONLY_FIELDS: Final = frozenset({"metadata", "raw"})


def _getstate(self: attrs.AttrsInstance) -> dict[str, object]:
    return {a.name: _thaw(getattr(self, a.name)) for a in attrs.fields(type(self))}


def _setstate(self: object, state: Mapping[str, Any]) -> None:
    for name, value in state.items():
        if name in _READ_ONLY_FIELDS and value is not None:
            object.__setattr__(self, name, read_only(value))
        else:
            object.__setattr__(self, name, value)


def _utc_or_none(value: datetime | None) -> datetime | None:
    # One representation per instant: equal times compare, hash and serialise the same
    # whatever zone they were given in. Naive means UTC, as everywhere in backscroll.
    if value is None:
        return None
    if value.tzinfo is UTC:  # what every provider hands over: nothing to convert
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Role(enum.StrEnum):
    """
    Who spoke, normalised across vendors.

    An unrecognised vendor speaker becomes `UNKNOWN`; its raw value stays in
    `Message.raw`.

    .. versionadded:: 0.1.0
    """

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"
    UNKNOWN = "unknown"


@attrs.frozen(kw_only=True)
class Message:
    """
    One message of a conversation, in the same shape for every vendor.

    Attributes:
        id: The vendor's message id, or a deterministic id derived from the message
            (stable across fetches of unchanged history, unique in the conversation).
        conversation_id: The vendor's conversation (session) id.
        role: The normalised speaker.
        content: The text.
        created_at: Timezone-aware UTC, or ``None`` when the vendor gives no time. An
            aware time in another zone is converted to UTC; a naive one is read as UTC.
        provider: ``"convai"``, ``"talkifai"``, ``"cursor"`` or a custom provider's name.
        sender_id: The vendor's sender id, where it has one.
        token_count: The vendor's token count, where it has one.
        metadata: Vendor extras without a field of their own. Read-only.
        raw: The vendor record the message came from. Read-only.

    Messages survive `pickle` and `copy.deepcopy` unchanged, read-only mappings included,
    so they can go to worker processes and task queues.

    .. versionadded:: 0.1.0
    """

    id: str
    conversation_id: str
    role: Role
    content: str
    created_at: datetime | None = attrs.field(converter=_utc_or_none)
    provider: str
    sender_id: str | None = None
    token_count: int | None = None
    metadata: Mapping[str, Any] = attrs.field(
        default=EMPTY, converter=read_only, hash=False, repr=False
    )
    raw: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_read_only_or_none, hash=False, repr=False
    )

    __getstate__ = _getstate
    __setstate__ = _setstate


@attrs.frozen(kw_only=True)
class Conversation:
    """
    One conversation (a Convai session, a Talkifai conversation, ...).

    Attributes:
        id: The vendor's conversation id: pass it to ``messages()``.
        provider: The provider's name.
        created_at: Timezone-aware UTC, or ``None`` when the vendor gives no time (converted
            as in `Message`).
        metadata: Vendor extras (for Convai, ``is_added_to_memory``). Read-only.
        raw: The vendor record. Read-only.

    Like `Message`, it survives `pickle` and `copy.deepcopy` unchanged.

    .. versionadded:: 0.1.0
    """

    id: str
    provider: str
    created_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    metadata: Mapping[str, Any] = attrs.field(
        default=EMPTY, converter=read_only, hash=False, repr=False
    )
    raw: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_read_only_or_none, hash=False, repr=False
    )

    __getstate__ = _getstate
    __setstate__ = _setstate


# -- the trusted constructor ----------------------------------------------------------------
#
# `Message(...)` runs its converters on every field it is given, which is right for a
# caller's values and wasted on a provider's page reader, whose values are normalised
# already (the reader checks every record, or falls back to the checked readers of
# `_fields` for a record that is not the usual shape). attrs has no way to skip converters
# (``attrs.validators.disabled()`` only switches validators off, and ``__attrs_init__``
# runs the same converters), so this writes the slots directly through their member
# descriptors: the same object `Message(...)` builds from the same normalised values, in
# a third of the time, and nothing else (no hash cache, no ``__attrs_post_init__``) to set.
_new = object.__new__
(
    _set_id,
    _set_conversation_id,
    _set_role,
    _set_content,
    _set_created_at,
    _set_provider,
    _set_sender_id,
    _set_token_count,
    _set_metadata,
    _set_raw,
) = (
    vars(Message)[name].__set__
    for name in (
        "id",
        "conversation_id",
        "role",
        "content",
        "created_at",
        "provider",
        "sender_id",
        "token_count",
        "metadata",
        "raw",
    )
)


def trusted_message(
    *,
    id: str,  # noqa: A002 - the field's own name
    conversation_id: str,
    role: Role,
    content: str,
    created_at: datetime | None,
    provider: str,
    sender_id: str | None,
    token_count: int | None,
    metadata: Mapping[str, Any],
    raw: Mapping[str, Any] | None,
) -> Message:
    """
    A `Message` from values already in the form its converters give, without converting.

    The provider's page readers build every message through this one function. The caller
    promises what the converters would otherwise make sure of: *created_at* is ``None`` or
    has ``tzinfo`` `datetime.UTC`; *metadata* is a `MappingProxyType` (or `EMPTY`) over a
    dict nobody writes to any more (messages may share one: Convai's entries share their
    interaction's); *raw* is ``None`` or a `MappingProxyType`. Anything else builds a
    message that is not equal to the one `Message(...)` would build.
    """
    message = _new(Message)
    _set_id(message, id)
    _set_conversation_id(message, conversation_id)
    _set_role(message, role)
    _set_content(message, content)
    _set_created_at(message, created_at)
    _set_provider(message, provider)
    _set_sender_id(message, sender_id)
    _set_token_count(message, token_count)
    _set_metadata(message, metadata)
    _set_raw(message, raw)
    return message
