from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

import backscroll

if TYPE_CHECKING:
    import pytest


def test_version_is_the_installed_distributions() -> None:
    """backscroll.__version__ equals the installed distribution's version."""
    assert backscroll.__version__ == importlib.metadata.version("backscroll")


def test_version_is_read_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """__version__ is not stored on import: metadata is read on each access."""
    calls: list[str] = []

    def fake_version(name: str) -> str:
        calls.append(name)
        return "9.9.9"

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    assert "__version__" not in vars(backscroll)
    assert calls == []
    assert backscroll.__version__ == "9.9.9"
    assert calls == ["backscroll"]
