"""BACKSCROLL_LOG turns the ``backscroll`` logger on, and no logger ever shows a credential."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import backscroll
from backscroll import _logging
from backscroll.sandbox import (
    CONVAI_API_KEY,
    CURSOR_API_KEY,
    TALKIFAI_TOKEN,
    Faults,
    Sandbox,
    session_token,
)
from backscroll.sinks import JsonlSink

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from backscroll import ChatHistoryProvider

# Wrong credentials, shaped like real ones and easy to spot: the 401 paths log them nowhere.
WRONG_KEYS = ("sk-live-CANARY7d3f9a2b6c1e", "tkf_CANARY0e4b8d2f6a9c", "cvk_CANARY5a1c7e3b9d2f")
SANDBOX_KEYS = (CONVAI_API_KEY, CURSOR_API_KEY, TALKIFAI_TOKEN)


@pytest.fixture
def backscroll_logger() -> Iterator[logging.Logger]:
    """The ``backscroll`` logger, put back as it was (level, handlers, propagation) after."""
    logger = logging.getLogger("backscroll")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    yield logger
    logger.handlers[:] = saved[2]
    logger.setLevel(saved[0])
    logger.propagate = saved[1]


def stderr_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if isinstance(h, _logging._StderrHandler)]


@pytest.mark.parametrize(
    ("value", "level"),
    [("debug", logging.DEBUG), ("info", logging.INFO), ("INFO", logging.INFO)],
)
def test_the_variable_sends_the_logger_to_stderr_at_its_level(
    value: str, level: int, backscroll_logger: logging.Logger
) -> None:
    """BACKSCROLL_LOG=debug|info (any case) sets that level and one stderr handler."""
    _logging.setup_from_environment({"BACKSCROLL_LOG": value})
    _logging.setup_from_environment({"BACKSCROLL_LOG": value})  # twice: still one handler
    assert backscroll_logger.level == level
    assert len(stderr_handlers(backscroll_logger)) == 1
    assert backscroll_logger.propagate is False


@pytest.mark.parametrize("environ", [{}, {"BACKSCROLL_LOG": ""}, {"BACKSCROLL_LOG": "  "}])
def test_no_variable_leaves_logging_alone(
    environ: dict[str, str], backscroll_logger: logging.Logger
) -> None:
    """Unset or empty, BACKSCROLL_LOG changes nothing: no handler, same level."""
    before = (backscroll_logger.level, list(backscroll_logger.handlers))
    _logging.setup_from_environment(environ)
    assert (backscroll_logger.level, backscroll_logger.handlers) == before


def test_an_unknown_level_warns_and_changes_nothing(backscroll_logger: logging.Logger) -> None:
    """BACKSCROLL_LOG=loud warns, naming the variable and the values it takes."""
    before = (backscroll_logger.level, list(backscroll_logger.handlers))
    with pytest.warns(RuntimeWarning, match=r"BACKSCROLL_LOG='loud' is not one of debug, info"):
        _logging.setup_from_environment({"BACKSCROLL_LOG": "loud"})
    assert (backscroll_logger.level, backscroll_logger.handlers) == before


def test_lines_go_to_the_stderr_of_the_moment(
    backscroll_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """The handler writes to whatever sys.stderr is when it logs (rich swaps it for a bar)."""
    _logging.setup_from_environment({"BACKSCROLL_LOG": "info"})
    backscroll_logger.info("conversation %s done", "con_1")
    captured = capsys.readouterr()
    assert "INFO backscroll: conversation con_1 done" in captured.err
    assert captured.out == ""


def test_logging_to_stderr_puts_the_logger_back(backscroll_logger: logging.Logger) -> None:
    """After the block the logger has its level, handlers and propagation from before."""
    logger = backscroll_logger
    before = (logger.level, logger.propagate, list(logger.handlers))
    with _logging.logging_to_stderr(logging.DEBUG):
        assert backscroll_logger.level == logging.DEBUG
        assert len(stderr_handlers(backscroll_logger)) == 1
    after = (backscroll_logger.level, backscroll_logger.propagate, backscroll_logger.handlers)
    assert after == before


def test_importing_backscroll_with_the_variable_logs_each_request(tmp_path: Path) -> None:
    """In a fresh interpreter, BACKSCROLL_LOG=debug prints one line per request on stderr."""
    script = tmp_path / "read.py"
    script.write_text(
        "import anyio\n"
        "from backscroll.sandbox import Sandbox\n"
        "async def main():\n"
        "    async with Sandbox().cursor() as p:\n"
        "        print(len([m async for m in p.messages('con_9s2kd81')]))\n"
        "anyio.run(main)\n",
        encoding="utf-8",
    )
    env = {**os.environ, "BACKSCROLL_LOG": "debug"}
    done = subprocess.run(  # noqa: S603 - this interpreter, our script
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "47"
    lines = done.stderr.splitlines()
    assert any(" DEBUG backscroll: cursor GET " in line for line in lines), lines
    assert all(re.match(r"\d{4}-\d\d-\d\d .* [A-Z]+ backscroll(\.\w+)*: ", x) for x in lines)
    assert not any(key in done.stderr for key in SANDBOX_KEYS)


class Everything(logging.Handler):
    """Keeps every record it sees, formatted, with its arguments and extra attributes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 - logging's hook
        self.records.append(record)
        self.texts.append(f"{self.format(record)} {record.args!r} {vars(record)!r}")


@pytest.fixture
def every_logger_at_debug(backscroll_logger: logging.Logger) -> Iterator[Everything]:
    """Every logger that exists (httpx's, httpcore's, uvicorn's...) at DEBUG, into one list."""
    import uvicorn.server  # noqa: F401, PLC0415 - so that its loggers exist and are turned up

    manager = logging.root.manager
    loggers = [logging.root] + [
        logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    backscroll_logger.propagate = True
    handler = Everything()
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(handler)
    logging.root.addHandler(handler)
    yield handler
    for logger in loggers:
        if handler in logger.handlers:
            logger.removeHandler(handler)
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled


async def read_all(provider: ChatHistoryProvider, conversation_id: str) -> int:
    return len([m async for m in provider.messages(conversation_id)])


@pytest.mark.anyio
async def test_no_log_line_of_any_logger_shows_a_credential(
    every_logger_at_debug: Everything, tmp_path: Path
) -> None:
    """Every record, httpx's and httpcore's included, is free of every key, right or wrong."""
    sandbox = Sandbox(
        seed=3,
        talkifai_sizes=(120,),
        cursor_sizes=(60,),
        faults={"cursor": Faults(rate=0.3, statuses={429: 1}, retry_after=0, seed=2)},
    )
    talkifai_conversation = next(iter(sandbox.data.talkifai))
    async with sandbox.serving() as url:
        for n, base_url in enumerate((None, url)):  # in-process, and over loopback through httpcore
            async with sandbox.cursor(base_url=base_url, max_retries=20) as cursor:
                assert await read_all(cursor, "con_9s2kd81") == 47
            async with sandbox.talkifai(base_url=base_url, token=session_token) as talkifai:
                assert await read_all(talkifai, talkifai_conversation) > 0
            async with (
                sandbox.convai(base_url=base_url) as convai,
                JsonlSink(tmp_path / f"{n}.jsonl") as sink,
            ):
                report = await backscroll.migrate(convai, sink)
                assert report.messages_written > 0
            wrong = (
                sandbox.cursor(base_url=base_url, api_key=WRONG_KEYS[0]),
                sandbox.talkifai(base_url=base_url, token=WRONG_KEYS[1]),
                sandbox.convai(base_url=base_url, api_key=WRONG_KEYS[2]),
            )
            for opened in wrong:
                async with opened as provider:
                    with pytest.raises(backscroll.AuthenticationError):
                        await read_all(provider, "con_9s2kd81")

    names = {record.name for record in every_logger_at_debug.records}
    # The test only proves something if the chatty loggers really spoke.
    assert {"backscroll", "httpx"} <= names
    assert any(name.startswith("httpcore.") for name in names), names
    secrets = [*SANDBOX_KEYS, *WRONG_KEYS, session_token(talkifai_conversation)]
    for text in every_logger_at_debug.texts:
        for secret in secrets:
            assert secret not in text, text
