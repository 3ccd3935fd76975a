"""
Checks of what callers pass in, raising `ConfigurationError` before any request is sent.

The parameters are typed, but Python callers (and JSON configs) pass what they pass; these
take ``object`` so that the checks stay meaningful to the type checker too.
"""

from __future__ import annotations

from typing import Final

from backscroll._fields import describe
from backscroll.errors import ConfigurationError

__all__ = ["MIN_CREDENTIAL_LENGTH", "credential", "nonempty_str", "positive_int"]

#: Shorter credentials are refused: a redacted three-letter key would still be guessable
#: from the text around it, and no vendor issues one.
MIN_CREDENTIAL_LENGTH: Final = 4


def credential(value: object, what: str) -> str:
    """
    Return *value* if it can travel in an HTTP header, else raise `ConfigurationError`.

    That is printable ASCII (spaces inside allowed), at least `MIN_CREDENTIAL_LENGTH`
    characters, with no whitespace at either end: anything else (a lone surrogate, a
    control character, a newline pasted with the key) would fail deep in the HTTP client
    with an error that may quote it. Unlike `nonempty_str`, the message never shows the
    value, only what is wrong with it.
    """
    if not isinstance(value, str) or not value:
        msg = f"{what} must be a non-empty string, got {type(value).__name__}"
        raise ConfigurationError(msg)
    problem = None
    if value != value.strip():
        problem = "starts or ends with whitespace (a pasted newline?)"
    elif not value.isascii():
        problem = "has a character that is not ASCII"
    elif not value.isprintable():
        problem = "has a control character"
    elif len(value) < MIN_CREDENTIAL_LENGTH:
        problem = f"is shorter than {MIN_CREDENTIAL_LENGTH} characters"
    if problem is not None:
        msg = f"{what} cannot be sent in an HTTP header: it {problem}. Check how it was copied."
        raise ConfigurationError(msg)
    return value


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
