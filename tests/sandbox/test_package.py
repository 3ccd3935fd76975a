"""The sandbox package's public face, and its import without the extra."""

from __future__ import annotations

import subprocess
import sys
import types

import backscroll.sandbox


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (ruff's RUF022 order)."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted (constants, classes, functions) and names exactly the public names."""
    public = {
        name
        for name, value in vars(backscroll.sandbox).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__name__ != "_Feature"  # the __future__ import
    }

    assert backscroll.sandbox.__all__ == sorted(backscroll.sandbox.__all__, key=_isort_style)
    assert set(backscroll.sandbox.__all__) == public


def test_importing_without_starlette_names_the_extra() -> None:
    """Without starlette, importing backscroll.sandbox says which extra to install."""
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "import backscroll\n"  # the core does not need it
        "try:\n"
        "    import backscroll.sandbox\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert "pip install 'backscroll[sandbox]'" in done.stdout
