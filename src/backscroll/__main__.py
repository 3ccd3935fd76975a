"""``python -m backscroll``: the command line, as the ``backscroll`` script runs it."""

from __future__ import annotations

from backscroll.cli import main

if __name__ == "__main__":
    main()
