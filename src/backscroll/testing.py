"""
Switches for tests: yours and ours.

With testing on, backscroll never waits: a retry's backoff, a ``Retry-After`` and a
``rate_limit=`` pause return at once, while everything else (how many retries, which errors,
what is logged and counted) stays exactly as in production. Tests then exercise the retry
paths without sleeping, and never reach into private attributes to do it::

    import backscroll.testing

    backscroll.testing.set_testing(True)   # for the rest of the process
    ...
    with backscroll.testing.set_testing(True):
        ...                                # only inside the block

As `stamina.set_testing` does, it is a process-wide switch: set it in a fixture (or a
``conftest.py``), not from several threads with different wishes.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["is_testing", "set_testing"]

_state = {"testing": False}


class _Restore:
    """What `set_testing` returns: usable as a context manager that restores the old value."""

    __slots__ = ("_previous",)

    def __init__(self, previous: bool) -> None:  # noqa: FBT001 - private, positional by design
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _state["testing"] = self._previous


def set_testing(testing: bool = True) -> _Restore:  # noqa: FBT001, FBT002 - as stamina's
    """
    Turn testing mode on (no waits) or off.

    Args:
        testing: ``True`` to skip every retry and rate-limit wait, ``False`` to wait again.

    Returns:
        An object that, used as a context manager, restores the previous mode on exit; the
        mode is set at once either way.

    .. versionadded:: 0.1.0
    """
    previous = _state["testing"]
    _state["testing"] = bool(testing)
    return _Restore(previous)


def is_testing() -> bool:
    """
    Whether testing mode is on.

    .. versionadded:: 0.1.0
    """
    return _state["testing"]
