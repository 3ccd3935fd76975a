"""Fixtures for the follow tests: a sandbox, a fake clock, each vendor in turn."""

from __future__ import annotations

import pytest

from backscroll.sandbox import Sandbox

from .scripting import CONVERSATIONS, FakeClock


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh sandbox, seed 0."""
    return Sandbox(seed=0)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock with an empty script."""
    return FakeClock()


@pytest.fixture(params=sorted(CONVERSATIONS))
def vendor(request: pytest.FixtureRequest) -> str:
    """Each sandbox vendor in turn."""
    name: str = request.param
    return name
