"""
The ``backscroll`` logger, and the one switch that sends it to standard error.

A library leaves logging to the application: backscroll only emits records on the
``backscroll`` logger (DEBUG: one line per HTTP attempt; INFO: retries, rate-limit waits,
a migration's conversations) and installs no handler. Two switches are for when there is
no application logging to lean on, a shell or a quick script, as ``OPENAI_LOG`` is for
openai-python:

- ``BACKSCROLL_LOG=debug`` (or ``info``, ``warning``) in the environment, read once when
  ``backscroll`` is imported;
- ``backscroll -v`` (INFO) or ``-vv`` (DEBUG) on the command line, for that run only.

Either one attaches a handler that writes to standard error and stops the records from
propagating, so that a line is never printed twice when the application has configured
the root logger too. Only the ``backscroll`` logger is touched: httpx's and httpcore's
loggers log whole URLs and stay the application's business, as openai-python decides too.
The handler looks up ``sys.stderr`` when it writes, not when it is made, so rich's
progress display (which swaps ``sys.stderr`` while it draws) keeps the lines above the bar.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["LEVELS", "LOG_ENV_VAR", "logger", "logging_to_stderr", "setup_from_environment"]

#: The environment variable that turns the logger on at import.
LOG_ENV_VAR: Final = "BACKSCROLL_LOG"
#: Its accepted values, case-insensitive.
LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

logger = logging.getLogger("backscroll")

_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A handler that writes to the ``sys.stderr`` of the moment (as `logging.lastResort`)."""

    def __init__(self, level: int) -> None:
        logging.Handler.__init__(self, level)  # StreamHandler's would pin the stream now
        self.setFormatter(logging.Formatter(_FORMAT))

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr


def _install(level: int) -> None:
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_StderrHandler(level))
    logger.setLevel(level)
    logger.propagate = False


def setup_from_environment(environ: Mapping[str, str] = os.environ) -> None:
    """
    Send the ``backscroll`` logger to standard error if ``BACKSCROLL_LOG`` asks for it.

    Unset or empty does nothing. A value that is not a level leaves logging as it was and
    warns (a typo must not stop a service from starting, nor pass in silence).
    """
    value = environ.get(LOG_ENV_VAR, "").strip()
    if not value:
        return
    level = LEVELS.get(value.lower())
    if level is None:
        known = ", ".join(LEVELS)
        msg = f"{LOG_ENV_VAR}={value!r} is not one of {known}: backscroll's logging is left off"
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return
    _install(level)


@contextlib.contextmanager
def logging_to_stderr(level: int) -> Iterator[None]:
    """
    Send the ``backscroll`` logger to standard error at *level* while the block runs.

    The command line's ``-v`` uses it for one run; afterwards the logger is as it was
    (level, handlers, propagation), so that runs in one process do not pile up handlers.
    """
    saved = (logger.level, logger.propagate, list(logger.handlers))
    _install(level)
    try:
        yield
    finally:
        level_before, propagate_before, handlers_before = saved
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers_before:
            logger.addHandler(handler)
        logger.setLevel(level_before)
        logger.propagate = propagate_before
