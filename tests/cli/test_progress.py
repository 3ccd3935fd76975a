"""Progress: events counted once, drawn as rich bars on a terminal or as plain lines."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

import backscroll
from backscroll import ProgressEvent
from backscroll._provider import HTTPProvider
from backscroll.cli._progress import Reporter, choose_mode, one_line, plural
from backscroll.cli._run import observed
from backscroll.sandbox import Sandbox


def _events() -> list[ProgressEvent]:
    return [
        ProgressEvent(kind="listed", conversation_id="a"),
        ProgressEvent(kind="listed", conversation_id="b"),
        ProgressEvent(kind="listed", conversation_id="c"),
        ProgressEvent(kind="skipped", conversation_id="a"),
        ProgressEvent(kind="started", conversation_id="b"),
        ProgressEvent(kind="written", conversation_id="b", messages=10),
        ProgressEvent(kind="written", conversation_id="b", messages=2),
        ProgressEvent(kind="finished", conversation_id="b", messages=12),
        ProgressEvent(kind="failed", conversation_id="c", reason="the vendor\nsaid no"),
        # delete_after can fail a conversation that finished: it still counts once.
        ProgressEvent(kind="failed", conversation_id="b", reason="copied, but not deleted"),
        ProgressEvent(kind="deleted", conversation_id="a"),
    ]


def test_lines_say_each_settled_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    """Off a terminal: a line when a stage starts and per conversation done, skipped, failed."""
    reporter = Reporter("lines")
    with reporter.stage("cursor → x.db") as tracker:
        for event in _events():
            tracker(event)

    assert capsys.readouterr().err.splitlines() == [
        "cursor → x.db: started",
        "cursor → x.db: [1/3] a skipped: the interrupted run finished it",
        "cursor → x.db: [2/3] b done, 12 messages",
        "cursor → x.db: [3/3] c failed: the vendor said no",
        "cursor → x.db: [3/3] b failed: copied, but not deleted",
    ]
    assert len(tracker.settled) == 3
    assert tracker.failed == {"b", "c"}
    assert tracker.messages == 12


def test_training_formats_count_messages_when_conversations_finish() -> None:
    """With count_finished, a finished conversation's messages are counted (no commits)."""
    with Reporter("quiet").stage("t", count_finished=True) as tracker:
        tracker(ProgressEvent(kind="listed", conversation_id="a"))
        tracker(ProgressEvent(kind="finished", conversation_id="a", messages=5))

    assert tracker.messages == 5


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Quiet mode draws nothing and prints no line."""
    reporter = Reporter("quiet")
    with reporter.stage("t") as tracker:
        for event in _events():
            tracker(event)
    reporter.line("hello")

    assert capsys.readouterr() == ("", "")


def _recording(reporter: Reporter) -> Console:
    console = Console(record=True, file=io.StringIO(), force_terminal=True, width=100)
    reporter.console = console
    return console


def test_bars_show_conversations_and_messages() -> None:
    """On a terminal: a bar of conversations (done/listed, failed) and one of messages."""
    reporter = Reporter("bars")
    console = _recording(reporter)
    with reporter.stage("cursor → x.db") as tracker:
        for event in _events():
            tracker(event)

    text = console.export_text()  # every refresh, one after the other: read the last
    conversations, messages = text.rpartition("cursor → x.db ")[2].splitlines()
    assert conversations.startswith("━")
    assert "3/3 conversations, 2 failed" in conversations
    assert messages.strip().startswith("━")
    assert "12 messages" in messages
    assert "done," not in text  # no per-conversation lines


def test_bars_of_an_empty_run_are_full() -> None:
    """Nothing to copy is all done: the bars end full, at 0/0."""
    reporter = Reporter("bars")
    console = _recording(reporter)
    with reporter.stage("t"):
        pass

    text = console.export_text()
    assert "0/0 conversations" in text
    assert "0 messages" in text


def test_interrupted_bars_keep_their_counts() -> None:
    """A stage ended by an exception keeps the counts it had and re-raises."""
    reporter = Reporter("bars")
    console = _recording(reporter)

    def interrupted() -> None:
        with reporter.stage("t") as tracker:
            tracker(ProgressEvent(kind="listed", conversation_id="a"))
            tracker(ProgressEvent(kind="listed", conversation_id="b"))
            tracker(ProgressEvent(kind="finished", conversation_id="a", messages=0))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()

    assert "1/2 conversations" in console.export_text()


def test_transient_bars_leave_only_the_lines() -> None:
    """Transient bars (the demo's) vanish when the stage ends; printed lines stay."""
    reporter = Reporter("bars", transient=True)
    console = _recording(reporter)
    with reporter.stage("t") as tracker:
        tracker(ProgressEvent(kind="listed", conversation_id="a"))
    reporter.line("✓ t: done")

    assert console.export_text().strip().splitlines()[-1] == "✓ t: done"


def test_mode_follows_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars where rich sees an interactive terminal, plain lines elsewhere, none when quiet."""
    for name in ("TTY_INTERACTIVE", "TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    assert choose_mode(quiet=False) == "lines"  # pytest captures stderr: not a terminal
    assert choose_mode(quiet=True) == "quiet"
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert choose_mode(quiet=False) == "bars"


def test_words() -> None:
    """Counts get their plural, and any whitespace run becomes one space."""
    assert plural(1, "message") == "1 message"
    assert plural(1024, "message") == "1,024 messages"
    assert plural(0, "conversation") == "0 conversations"
    assert one_line("a\n  b\tc\r\n") == "a b c"


class _Clock:
    """A fake clock the progress display reads: seconds move only when a test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_known_total_shows_from_the_start_with_rate_eta_and_the_current_conversation() -> None:
    """Ids given: N/32 from the first frame; rate and ETA by a fake clock; the id being read."""
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=160, color_system=None)
    clock = _Clock()
    reporter = Reporter("bars", console=console, clock=clock)
    frames = []
    with reporter.stage("cursor → x.db", total=32, observe=lambda: "2 retries") as tracker:
        frames.append(output.getvalue())
        for number in range(8):
            conversation_id = f"con_{number}"
            tracker(ProgressEvent(kind="listed", conversation_id=conversation_id))
            tracker(ProgressEvent(kind="started", conversation_id=conversation_id))
            clock.now += 0.5
            tracker(ProgressEvent(kind="written", conversation_id=conversation_id, messages=10))
            if number == 7:
                frames.append(output.getvalue())
            tracker(ProgressEvent(kind="finished", conversation_id=conversation_id, messages=10))
        frames.append(output.getvalue())

    assert "0/32 conversations" in frames[0]
    assert "listing" not in output.getvalue()
    assert not [total for total in re.findall(r"\d+/(\d+) conversations", output.getvalue())
                if total != "32"]  # fmt: skip
    assert "con_7" in frames[1]
    assert "2 retries" in frames[1]
    last = frames[2].rsplit("cursor → x.db", 1)[1]
    assert "8/32 conversations" in last
    assert "2.0 conversations/s" in last  # 8 in 4 fake seconds
    assert "ETA 0:00:12" in last  # 24 more at 2 a second
    assert "20.0 messages/s" in last


def test_the_display_reads_retries_from_any_source_that_reports_them() -> None:
    """Retries come from ReportsRequests, whoever implements it: no shared base needed."""

    class Counting:
        retries = 3

    assert isinstance(Counting(), backscroll.ReportsRequests)
    assert observed(Counting()) == "3 retries"
    assert observed(object()) == ""


@pytest.mark.anyio
async def test_the_display_reads_the_rate_limiters_waits() -> None:
    """An HTTP provider's rate_limiter gives the waits and the readers waiting on it."""
    async with Sandbox().provider("talkifai", rate_limit=2.0) as provider:
        assert isinstance(provider, HTTPProvider)
        assert isinstance(provider, backscroll.ReportsRequests)
        limiter = provider.rate_limiter
        assert limiter is not None
        limiter.waits, limiter.waiting = 3, 1
        assert observed(provider) == "3 rate-limit waits, 1 waiting on --rate-limit"
