"""
The ``backscroll`` command line: export, migrate, serve the sandbox, run the demo.

.. code-block:: sh

    backscroll demo
    backscroll export cursor --id con_9s2kd81 --out history.jsonl
    backscroll migrate convai --character-id 7f3e... --to sqlite:history.db

It needs the ``cli`` extra (typer and rich): ``pip install 'backscroll[cli]'``. Without
it, `main` says so in one line and exits with status 2.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import sys
from typing import Final, NoReturn

__all__ = ["main"]

#: What the ``cli`` extra brings (typer vendors click in recent releases, not in older ones).
_EXTRA_MODULES: Final = frozenset({"typer", "rich", "click", "shellingham"})
_MISSING_EXTRA: Final = (
    "backscroll: the command line needs the cli extra: pip install 'backscroll[cli]'\n"
)


def main() -> NoReturn:
    """
    Run the command line with ``sys.argv`` and exit with its status.

    This is the ``backscroll`` script and ``python -m backscroll``. Statuses: 0 done,
    1 some conversations failed, 2 a usage error, 3 the vendor failed the run, 4 a file
    could not be read or written, 130 interrupted.
    """
    try:
        from backscroll.cli._app import run  # noqa: PLC0415 - typer only when the CLI runs
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _EXTRA_MODULES:
            raise
        sys.stderr.write(_MISSING_EXTRA)
        raise SystemExit(2) from None
    raise SystemExit(run())
