"""
The package's own cattrs converter: lossless, JSON-ready dicts for the models.

Datetimes become ISO 8601 strings with their UTC offset; roles become their string values;
``metadata`` and ``raw`` become plain dicts. ``from_dict(to_dict(x)) == x`` for every model,
also after a trip through ``json.dumps``/``json.loads``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs
from cattrs.fns import identity

from backscroll._follow import FollowState
from backscroll._models import Conversation, Message, Role
from backscroll.errors import ConversionError

__all__ = ["converter", "from_dict", "to_dict"]

T = TypeVar("T", Message, Conversation, FollowState)

converter = cattrs.Converter(forbid_extra_keys=True)


def _unstructure_datetime(value: datetime) -> str:
    return value.isoformat()


def _structure_datetime(value: object, _: type) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        msg = f"expected an ISO 8601 string, got {type(value).__name__}"
        raise TypeError(msg)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _structure_role(value: object, _: type) -> Role:
    if not isinstance(value, str):
        msg = f"expected a role string, got {type(value).__name__}"
        raise TypeError(msg)
    return Role(value)


def _structure_str(value: object, _: type) -> str:
    # cattrs' default calls str(): a null content would come back as "None".
    if not isinstance(value, str):
        msg = f"expected a string, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _structure_int(value: object, _: type) -> int:
    # cattrs' default calls int(): "5", 5.7 and true would pass, and 5.7 silently lose.
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"expected an integer, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _unstructure_role(value: Role) -> str:
    return value.value


def _structure_mapping(value: object, _: type) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"expected an object, got {type(value).__name__}"
        raise TypeError(msg)
    return dict(value)


def _unstructure_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    # The models hold read-only views: their copy() is one C-level dict copy, where
    # dict(view) goes key by key through the mapping protocol (ten times slower).
    if type(value) is MappingProxyType:
        copied = value.copy()
        if type(copied) is dict:
            return copied
    return dict(value)


# Hooks for the optional fields themselves, so that the generated hook of each model
# reads plain values inline (identity) or calls one function, rather than a generic
# optional wrapper around a second hook: to_dict runs once per message in every sink.


def _unstructure_optional_mapping(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else _unstructure_mapping(value)


def _unstructure_optional_datetime(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _is_json_object(type_: object) -> bool:
    # ``metadata`` and ``raw`` hold vendor JSON as it came: copied, never re-shaped.
    return type_ == Mapping[str, Any]


def _is_optional_json_object(type_: object) -> bool:
    return type_ == Mapping[str, Any] | None


converter.register_unstructure_hook(datetime, _unstructure_datetime)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_structure_hook(Role, _structure_role)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(int, _structure_int)
converter.register_unstructure_hook(Role, _unstructure_role)
converter.register_structure_hook_func(_is_json_object, _structure_mapping)
converter.register_unstructure_hook_func(_is_json_object, _unstructure_mapping)
converter.register_unstructure_hook_func(_is_optional_json_object, _unstructure_optional_mapping)
converter.register_unstructure_hook(datetime | None, _unstructure_optional_datetime)
converter.register_unstructure_hook(str | None, identity)
converter.register_unstructure_hook(int | None, identity)


def to_dict(obj: Message | Conversation | FollowState) -> dict[str, Any]:
    """
    Turn a `Message`, `Conversation` or `FollowState` into a plain, JSON-compatible dict.

    This is the canonical, lossless form: `JsonlSink` writes it, `from_dict` reads it back.

    .. versionadded:: 0.1.0
    """
    result: dict[str, Any] = converter.unstructure(obj)
    return result


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """
    Build a `Message`, `Conversation` or `FollowState` from the dict `to_dict` made.

    Raises:
        ConversionError: *data* is not a valid model; the message names the field.

    .. versionadded:: 0.1.0
    """
    if not isinstance(data, Mapping):
        msg = f"cannot read a {cls.__name__} from {type(data).__name__}: expected a dict"
        raise ConversionError(msg)
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = _explain(exc)
        msg = f"cannot read a {cls.__name__} from this data: {detail}"
        raise ConversionError(msg) from None


def _explain(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes)
    return str(exc)
