"""backscroll -v / -vv: the ``backscroll`` logger on standard error, for one run."""

from __future__ import annotations

import logging

import pytest

from backscroll.sandbox import CURSOR_API_KEY

from .running import Served, invoke, vendor_args


def export(served: Served, *flags: str) -> tuple[str, str]:
    result = invoke(
        *flags,
        "export",
        *vendor_args(served, "cursor"),
        "--id",
        "con_9s2kd81",
        "--out",
        "c.jsonl",
        env=served.env,
    )
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.mark.parametrize("flag", ["-vv", "--verbose --verbose"])
def test_two_verbose_flags_log_each_request_on_stderr(served: Served, flag: str) -> None:
    """-vv prints a DEBUG line per request on stderr, none on stdout, and no credential."""
    stdout, stderr = export(served, *flag.split())
    requests = [line for line in stderr.splitlines() if " DEBUG backscroll: cursor GET " in line]
    assert requests
    assert "DEBUG" not in stdout
    assert CURSOR_API_KEY not in stderr


def test_one_verbose_flag_leaves_out_the_debug_lines(served: Served) -> None:
    """-v logs at INFO: the per-request DEBUG lines stay off."""
    _, stderr = export(served, "-v")
    assert " DEBUG " not in stderr


def test_without_the_flag_nothing_is_logged(served: Served) -> None:
    """With no -v the run prints no log line."""
    _, stderr = export(served)
    assert "backscroll:" not in stderr


def test_the_logger_is_put_back_after_the_run(served: Served) -> None:
    """After a -vv run the backscroll logger has its level, handlers and propagation back."""
    logger = logging.getLogger("backscroll")
    before = (logger.level, logger.propagate, list(logger.handlers))
    export(served, "-vv")
    assert (logger.level, logger.propagate, logger.handlers) == before
