"""
Fixtures for the command line: a clean environment, and a sandbox on loopback.

The commands run in this process through typer's `CliRunner` (each runs its own event
loop); the vendors they talk to are the sandbox under uvicorn on 127.0.0.1, started in a
background thread for the length of a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.from_thread
import pytest

from backscroll.sandbox import Sandbox

from .running import Served

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Variables a developer's shell may hold that would change what the commands do or print.
_AMBIENT = (
    "CONVAI_API_KEY",
    "CONVAI_CHARACTER_ID",
    "TALKIFAI_TOKEN",
    "EXAMPLE_AI_API_KEY",
    "FORCE_COLOR",
    "NO_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "BACKSCROLL_TRACEBACK",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials or terminal settings from the shell; the working directory is empty."""
    for name in _AMBIENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sandbox() -> Sandbox:
    """A sandbox with the default data, seed 0, no faults."""
    return Sandbox(seed=0)


@pytest.fixture
def served(sandbox: Sandbox) -> Iterator[Served]:
    """The sandbox served on 127.0.0.1 (any free port) while the test runs."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(sandbox.serving()) as url,
    ):
        yield Served(sandbox, url)
