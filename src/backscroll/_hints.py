"""
How a hint names an option: in the terms of the interface the user is in.

A message that says what to do names an option: ``pass api_key=...`` to someone calling
Python, ``pass --api-key`` to someone at the command line. The message is written once,
where the failure is met, with `spell`; the command line says once, with `spelled_as`,
how it spells the options it has. The spelling is a context variable, so it follows the
run into every task anyio starts (tasks copy the context of their parent), and code that
calls backscroll from Python, in the same process, keeps its keyword hints.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["spell", "spelled_as"]

_PYTHON: Final[Mapping[str, str]] = MappingProxyType({})
_SPELLING: ContextVar[Mapping[str, str]] = ContextVar("backscroll_spelling", default=_PYTHON)


def spell(parameter: str, value: str = "...") -> str:
    """
    How to pass *parameter* in the interface in use.

    ``api_key=...`` from Python; the flag (``--api-key``) inside `spelled_as` when it
    knows one; otherwise ``api_key=...`` with a note that the interface has no such option.
    """
    spelling = _SPELLING.get()
    if spelling is _PYTHON:
        return f"{parameter}={value}"
    flag = spelling.get(parameter)
    if flag is None:
        return f"{parameter}={value} (a Python keyword: no command-line flag sets it)"
    return flag


@contextlib.contextmanager
def spelled_as(flags: Mapping[str, str]) -> Iterator[None]:
    """Within the block, `spell` names options by *flags* (keyword to flag)."""
    token = _SPELLING.set(MappingProxyType(dict(flags)))
    try:
        yield
    finally:
        _SPELLING.reset(token)


def in_python() -> bool:
    """Whether hints are being spelled as Python keywords (no `spelled_as` in force)."""
    return _SPELLING.get() is _PYTHON
