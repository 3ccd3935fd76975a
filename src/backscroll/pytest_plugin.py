"""
backscroll's pytest plugin: the ``backscroll_sandbox`` fixture, a fresh sandbox per test.

pytest loads it by itself wherever backscroll is installed (the ``pytest11`` entry point
``backscroll``); ``-p no:backscroll`` turns it off. The fixture needs the ``sandbox``
extra, which this module imports only when a test asks for the fixture: so that pytest
starts, and every other test runs, in an environment without it.

.. code-block:: python

    async def test_reads_the_whole_thread(backscroll_sandbox):
        async with backscroll_sandbox.cursor() as provider:
            messages = [m async for m in provider.messages("con_9s2kd81")]
        assert len(messages) == 47

Options of the `Sandbox` (seed, sizes, quirks, faults) come from a marker:

.. code-block:: python

    @pytest.mark.backscroll_sandbox(seed=3, cursor_sizes=(250,))
    def test_with_a_long_thread(backscroll_sandbox): ...

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

import pytest

from backscroll.errors import ConfigurationError, MissingExtraError
from backscroll.testing import set_testing

if TYPE_CHECKING:
    from collections.abc import Iterator

    from backscroll.sandbox import Sandbox

__all__ = ["backscroll_sandbox"]

MARKER: Final = "backscroll_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): the options of the Sandbox the backscroll_sandbox fixture "
        "makes (seed=, faults=, the fakes' sizes and quirks, ...)",
    )


@contextlib.contextmanager
def _retry_waits_off() -> Iterator[None]:
    # A 429 with Retry-After from the sandbox's faults, a retry's backoff and a rate_limit=
    # pause cost a test no time; everything else (how many retries, what is raised) is as
    # in production. The only place the plugin needs the switch.
    with set_testing(True):
        yield


@pytest.fixture
def backscroll_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """
    A fresh `backscroll.sandbox.Sandbox` for each test: fake Convai, Talkifai and cursor APIs.

    Built with ``seed=0`` and the default data unless the test (or its class or module)
    carries ``@pytest.mark.backscroll_sandbox(**options)``, whose keyword arguments go to
    `Sandbox` (the marker nearest the test wins). Load your own conversations with
    ``backscroll_sandbox.data.add_messages(...)`` or ``add_records(...)``; open providers
    with ``backscroll_sandbox.cursor()`` and friends.

    Raises:
        MissingExtraError: the ``sandbox`` extra is not installed.
        ConfigurationError: the marker's options are not those of `Sandbox`.
    """
    try:
        from backscroll.sandbox import Sandbox  # noqa: PLC0415 - the extra, only when asked
    except ImportError as exc:
        msg = (
            "the backscroll_sandbox fixture needs the sandbox extra: "
            "pip install 'backscroll[sandbox]'"
        )
        raise MissingExtraError(msg, name=exc.name) from None
    marker = request.node.get_closest_marker(MARKER)
    options = {} if marker is None else marker.kwargs
    if marker is not None and marker.args:
        msg = f"@pytest.mark.{MARKER} takes keyword arguments only (those of Sandbox)"
        raise ConfigurationError(msg)
    try:
        sandbox = Sandbox(**options)
    except TypeError as exc:  # an option Sandbox does not have
        msg = f"@pytest.mark.{MARKER}(...): {exc}"
        raise ConfigurationError(msg) from None
    with _retry_waits_off():
        yield sandbox
