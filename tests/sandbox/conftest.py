"""Fixtures for the sandbox tests: a fresh seeded sandbox and an in-process client."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import Sandbox

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx


@pytest.fixture
def sandbox() -> Sandbox:
    """A sandbox with the default data, seed 0, no quirks, no faults."""
    return Sandbox(seed=0)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the sandbox in-process."""
    async with sandbox.client() as client:
        yield client
