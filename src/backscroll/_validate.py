"""
Checks of what callers pass in, raising `ConfigurationError` before any request is sent.

The parameters are typed, but Python callers (and JSON configs) pass what they pass; these
take ``object`` so that the checks stay meaningful to the type checker too.
"""

from __future__ import annotations

from backscroll._fields import describe
from backscroll.errors import ConfigurationError

__all__ = ["credential", "nonempty_str", "positive_int"]


def credential(value: object, what: str) -> str:
    """
    Return *value* if it is a non-empty string, else raise `ConfigurationError`.

    Unlike `nonempty_str`, the message names only the type: the value is a credential,
    whatever its type.
    """
    if isinstance(value, str) and value:
        return value
    msg = f"{what} must be a non-empty string, got {type(value).__name__}"
    raise ConfigurationError(msg)


def nonempty_str(value: object, what: str) -> str:
    """Return *value* if it is a non-empty string, else raise `ConfigurationError`."""
    if isinstance(value, str) and value:
        return value
    msg = f"{what} must be a non-empty string, got {describe(value)}"
    raise ConfigurationError(msg)


def positive_int(value: object, what: str) -> int:
    """Return *value* if it is an integer of at least 1, else raise `ConfigurationError`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    msg = f"{what} must be a positive integer, got {describe(value)}"
    raise ConfigurationError(msg)
