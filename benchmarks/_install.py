"""
Run a benchmark as a default install whatever this environment has (the ``speed`` extra).

The bench group brings orjson and sniffio along (dlt needs them), so the benchmarks whose
targets are about a default install switch backscroll's ``speed`` parts off and hide sniffio
from httpcore. A child process (the memory benchmark's) is told to do the same with
`CHILD_FLAG`, since it imports everything afresh.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Final

from backscroll import _speed

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CHILD_FLAG", "child_flags", "installed", "speed_available"]

_SPEED_PARTS: Final = ("_orjson", "_sniffio", "_httpx_aiohttp")
#: The flag a benchmark's child process takes to run as a default install.
CHILD_FLAG: Final = "--default-install"


def speed_available() -> bool:
    """Whether every part of the ``speed`` extra is installed and not switched off."""
    return sys.modules.get("sniffio", ...) is not None and all(_speed.speed_installed().values())


def child_flags() -> list[str]:
    """`CHILD_FLAG` while a block of `installed` runs as a default install, else nothing."""
    switched_off = sys.modules.get("sniffio", ...) is None
    return [CHILD_FLAG] if switched_off else []


@contextlib.contextmanager
def installed(*, speed: bool) -> Iterator[None]:
    """
    Run the block as a default install (``speed=False``) or as installed, then restore.

    A default install has no orjson, sniffio or aiohttp transport: backscroll's ``speed``
    parts are switched off and httpcore finds no sniffio (a ``None`` in `sys.modules`
    makes ``import sniffio`` fail, as if it were not installed).
    """
    if speed:
        yield
        return
    saved = {part: getattr(_speed, part) for part in _SPEED_PARTS}
    sniffio = sys.modules.get("sniffio", ...)
    sys.modules["sniffio"] = None  # type: ignore[assignment]
    for part in _SPEED_PARTS:
        setattr(_speed, part, None)
    try:
        yield
    finally:
        for part, value in saved.items():
            setattr(_speed, part, value)
        if sniffio is ...:
            del sys.modules["sniffio"]
        else:
            sys.modules["sniffio"] = sniffio
