"""
Reading fields out of vendor JSON, with errors that say where and what.

Every vendor module reads its records through these functions, so that a record of the
wrong shape becomes a `ResponseFormatError` naming the field, never a bare ``KeyError`` or
``TypeError``. Vendor-independent coercions (string-typed numbers, naive timestamps) live
here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from backscroll.errors import ResponseFormatError

__all__ = [
    "describe",
    "fail",
    "get_bool",
    "get_int_or_none",
    "get_list",
    "get_mapping",
    "get_str",
    "get_str_or_none",
    "parse_timestamp",
    "read_timestamp",
    "require_mapping",
]

_MAX_SHOWN = 60
#: The zones a naive time is read in without converting: UTC, as `datetime` or IANA spells
#: it (the providers' default is ``ZoneInfo("UTC")``; ZoneInfo caches one per key).
_UTC_ZONES = (UTC, ZoneInfo("UTC"))


def describe(value: object) -> str:
    """Say briefly what a value is, for an error message (never the whole value)."""
    kind = type(value).__name__
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(k) for k in value)[:6])
        return f"an object with keys [{keys}]"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"{kind} of {value.bit_length() if isinstance(value, int) else '?'} bits"
    if len(text) > _MAX_SHOWN:
        # Never a cut-off excerpt: a credential cut in two would escape redaction.
        size = len(value) if isinstance(value, str | bytes) else len(text)
        return f"{kind} of {size} characters"
    return f"{kind} {text}"


def fail(provider: str, where: str, expected: str, found: object) -> NoReturn:
    """Raise the `ResponseFormatError` that says which field was wrong and what was found."""
    msg = (
        f"{provider} answered in an undocumented shape: {where} should be {expected}, "
        f"but is {describe(found)}. If the vendor changed its API, please report it."
    )
    raise ResponseFormatError(msg)


def require_mapping(provider: str, value: object, where: str) -> Mapping[str, Any]:
    """Return *value* if it is a JSON object, else raise `ResponseFormatError`."""
    if not isinstance(value, Mapping):
        fail(provider, where, "an object", value)
    return value


def _get(provider: str, record: Mapping[str, Any], key: str, where: str) -> object:
    try:
        return record[key]
    except KeyError:
        msg = (
            f"{provider} answered in an undocumented shape: {where}.{key} is missing "
            f"(found {describe(record)}). If the vendor changed its API, please report it."
        )
        raise ResponseFormatError(msg) from None


def get_mapping(
    provider: str, record: Mapping[str, Any], key: str, where: str
) -> Mapping[str, Any]:
    """Read a required object field."""
    return require_mapping(provider, _get(provider, record, key, where), f"{where}.{key}")


def get_list(provider: str, record: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    """Read a required array field."""
    value = _get(provider, record, key, where)
    if not isinstance(value, list):
        fail(provider, f"{where}.{key}", "a list", value)
    return value


def get_str(provider: str, record: Mapping[str, Any], key: str, where: str) -> str:
    """Read a required string field."""
    value = _get(provider, record, key, where)
    if not isinstance(value, str):
        fail(provider, f"{where}.{key}", "a string", value)
    return value


def get_str_or_none(provider: str, record: Mapping[str, Any], key: str, where: str) -> str | None:
    """Read an optional string field (absent or null gives ``None``)."""
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    fail(provider, f"{where}.{key}", "a string or null", value)


def get_bool(provider: str, record: Mapping[str, Any], key: str, where: str) -> bool | None:
    """Read an optional boolean, accepting the strings ``"true"``/``"false"`` some vendors send."""
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    fail(provider, f"{where}.{key}", "a boolean or null", value)


def get_int_or_none(provider: str, record: Mapping[str, Any], key: str, where: str) -> int | None:
    """Read an optional integer; string-typed numbers (``"45"``) are accepted."""
    value = record.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"[+-]?\d{1,18}", text):
            return int(text)
    fail(provider, f"{where}.{key}", "an integer or null", value)


def parse_timestamp(provider: str, value: object, where: str, *, assume: tzinfo = UTC) -> datetime:
    """
    Parse an ISO 8601 timestamp into an aware UTC datetime.

    A naive timestamp (no offset) is read in *assume*, UTC unless the provider was told
    another zone. ``Z`` and ``+00:00`` suffixes and a space instead of ``T`` are accepted.
    """
    parsed = read_timestamp(value, assume=assume)
    if parsed is None:
        fail(provider, where, "an ISO 8601 timestamp string", value)
    return parsed


def read_timestamp(value: object, *, assume: tzinfo = UTC) -> datetime | None:
    """
    `parse_timestamp` without the error: ``None`` for anything it would refuse.

    For a provider's fast path, which falls back to the checked readers (and their
    message naming the field) when a record is not in its usual shape.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:  # "Z" and "+00:00", what vendors send: nothing to convert
            return parsed
        if parsed.tzinfo is None:
            if assume in _UTC_ZONES:
                return _in_utc(value, parsed)
            parsed = parsed.replace(tzinfo=assume)
        # Near year 1 or 9999 the shift to UTC can leave the range datetime can hold.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _in_utc(value: str, parsed: datetime) -> datetime:
    """
    The naive *parsed* (read from *value*) in UTC.

    Read again with the offset: on CPython 3.11 `datetime.replace` costs about six times a
    parse. What does not take the offset that way (a date alone, some compact forms) is
    replaced.
    """
    try:
        again = datetime.fromisoformat(value + "+00:00")
    except ValueError:
        return parsed.replace(tzinfo=UTC)
    # Taken as an offset, the suffix left the rest as the first read had it.
    return again if again.tzinfo is UTC else parsed.replace(tzinfo=UTC)
