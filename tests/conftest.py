"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import backscroll.testing

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Run each ``pytest.mark.anyio`` test once per event loop."""
    backend: tuple[str, dict[str, object]] = request.param
    return backend


@pytest.fixture(autouse=True)
def _no_testing_mode_leaks() -> Iterator[None]:
    """Each test starts with backscroll.testing off, and leaves it off for the next."""
    with backscroll.testing.set_testing(False):
        yield
