"""
Progress of a run, on standard error: rich bars on a terminal, plain lines otherwise.

The migration reports each step through its ``on_progress`` callback (a
`backscroll.ProgressEvent`); a `Tracker` counts them and draws. Standard output is left
to the summary (and ``--json``), so ``backscroll ... --json | jq`` works with or without
a terminal.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from backscroll._migration.report import ProgressEvent

__all__ = [
    "EtaColumn",
    "Mode",
    "RateColumn",
    "Reporter",
    "Tracker",
    "choose_mode",
    "one_line",
    "plural",
]

Mode = Literal["bars", "lines", "quiet"]


def choose_mode(*, quiet: bool) -> Mode:
    """
    Bars when standard error is an interactive terminal, plain lines otherwise.

    rich decides what a terminal is, so ``TERM=dumb`` gets lines and ``FORCE_COLOR`` or
    ``TTY_INTERACTIVE=1`` gets bars.
    """
    if quiet:
        return "quiet"
    return "bars" if Console(stderr=True).is_interactive else "lines"


class Reporter:
    """
    Shows the stages of a command: each a migration with its own pair of bars.

    Args:
        mode: ``"bars"``, ``"lines"`` or ``"quiet"`` (nothing but what `line` is told
            to print as an error).
        per_conversation: In ``"lines"`` mode, a line per conversation done, failed or
            skipped (else only the stage's own lines).
        transient: In ``"bars"`` mode, remove a stage's bars when it ends.
    """

    def __init__(
        self,
        mode: Mode,
        *,
        per_conversation: bool = True,
        transient: bool = False,
        console: Console | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.mode = mode
        self.per_conversation = per_conversation
        self.transient = transient
        self.console = console or Console(stderr=True, highlight=False)
        #: The clock rates and ETAs are measured by (rich's monotonic clock by default).
        self.clock = clock

    def line(self, text: str) -> None:
        """Print one line of progress (not in quiet mode)."""
        if self.mode == "bars":
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        elif self.mode == "lines":
            sys.stderr.write(f"{text}\n")
            sys.stderr.flush()

    @contextlib.contextmanager
    def stage(
        self,
        title: str,
        *,
        count_finished: bool = False,
        total: int | None = None,
        observe: Callable[[], str] | None = None,
    ) -> Iterator[Tracker]:
        """
        Track one migration while the block runs; the tracker is its ``on_progress``.

        Args:
            title: What is copied where: ``cursor → history.db``.
            count_finished: Count messages when a conversation finishes (training
                formats, which write whole conversations) instead of when committed.
            total: How many conversations, when known before they are listed (ids given).
            observe: Says what the source met so far (``2 retries, 1 rate-limit wait``).
        """
        options: dict[str, Any] = {"count_finished": count_finished, "total": total}
        options["observe"] = observe
        if self.mode != "bars":
            tracker = Tracker(title, reporter=self, **options)
            if self.mode == "lines" and self.per_conversation:
                self.line(f"{title}: started")
            yield tracker
            return
        progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=32),
            TextColumn("{task.fields[tally]}", markup=False),
            RateColumn(),
            EtaColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=self.transient,
            get_time=self.clock,
        )
        with progress:
            tracker = Tracker(title, reporter=self, **options)
            tracker.attach(progress)
            try:
                yield tracker
            except BaseException:
                tracker.close(done=False)
                raise
            tracker.close(done=True)


class RateColumn(ProgressColumn):
    """How fast a bar moves, in its own unit: ``2.5 conversations/s``; blank until known."""

    def render(self, task: Task) -> Text:
        """The rate of *task*, as rich measures it over its recent steps."""
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        return Text(f"{speed:,.1f} {task.fields.get('unit', 'items')}/s")


class EtaColumn(ProgressColumn):
    """The time left, for a bar whose total is known: ``ETA 0:01:05``; blank otherwise."""

    def render(self, task: Task) -> Text:
        """The time *task* still needs at its current rate."""
        remaining = task.time_remaining
        if remaining is None or not task.fields.get("known_total") or task.finished:
            return Text("")
        minutes, seconds = divmod(int(remaining), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"ETA {hours}:{minutes:02}:{seconds:02}")


class Tracker:
    """Counts the `ProgressEvent` objects of a migration and shows them as bars or lines."""

    def __init__(
        self,
        title: str,
        *,
        count_finished: bool,
        reporter: Reporter,
        total: int | None = None,
        observe: Callable[[], str] | None = None,
    ) -> None:
        self.title = title
        self.count_finished = count_finished
        self.reporter = reporter
        #: The conversations to copy when known from the start (ids given), else None.
        self.total = total
        self.observe = observe
        #: Conversations started and not yet settled, in the order they started.
        self.current: dict[str, None] = {}
        self.listed = 0
        self.settled: set[str] = set()
        self.failed: set[str] = set()
        self.messages = 0
        self._progress: Progress | None = None
        self._conversations = TaskID(0)
        self._messages = TaskID(0)

    def attach(self, progress: Progress) -> None:
        """Draw on *progress*: a bar for conversations, one for messages."""
        self._progress = progress
        known = self.total is not None
        tally = f"0/{self.total:,} conversations" if known else "listing"
        self._conversations = progress.add_task(
            self.title, total=self.total, tally=tally, unit="conversations", known_total=known
        )
        self._messages = progress.add_task(
            "", total=None, tally="0 messages", unit="messages", known_total=False
        )

    def __call__(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind == "listed":
            self.listed += 1
        elif kind == "written" or (kind == "finished" and self.count_finished):
            self.messages += event.messages
        if kind == "failed":
            self.failed.add(event.conversation_id)
        if kind == "started":
            self.current[event.conversation_id] = None
        if kind in {"finished", "skipped", "failed"}:
            self.settled.add(event.conversation_id)
            self.current.pop(event.conversation_id, None)
            self._say(event)
        self._draw()
        if kind != "written" and self._progress is not None:
            self._progress.refresh()  # a frame per conversation step, not per refresh tick

    def close(self, *, done: bool) -> None:
        """Show the final counts; when *done*, fill the bars (their totals are known now)."""
        progress = self._progress
        if progress is None:
            return
        self._draw()
        if not done:
            return
        if not self.listed and not self.total:  # nothing to copy is all done
            progress.update(self._conversations, total=1, completed=1)
        full = max(self.messages, 1)
        progress.update(self._messages, total=full, completed=full)

    def _say(self, event: ProgressEvent) -> None:
        if self.reporter.mode != "lines" or not self.reporter.per_conversation:
            return
        where = f"{len(self.settled)}/{self.expected}"
        if event.kind == "finished":
            text = f"{event.conversation_id} done, {plural(event.messages, 'message')}"
        elif event.kind == "skipped":
            text = f"{event.conversation_id} skipped: the interrupted run finished it"
        else:
            text = f"{event.conversation_id} failed: {one_line(event.reason or 'unknown reason')}"
        self.reporter.line(f"{self.title}: [{where}] {text}")

    def _draw(self) -> None:
        progress = self._progress
        if progress is None:
            return
        tally = f"{len(self.settled):,}/{self.expected:,} conversations"
        if self.failed:
            tally += f", {len(self.failed):,} failed"
        progress.update(
            self._conversations,
            total=max(self.expected, 1),
            completed=len(self.settled),
            tally=tally,
        )
        seen = self.observe() if self.observe is not None else ""
        current = next(iter(self.current), "")
        more = f" +{len(self.current) - 1}" if len(self.current) > 1 else ""
        progress.update(
            self._messages,
            description=f"  {current}{more}" if current else "",
            completed=self.messages,
            tally=f"{self.messages:,} messages" + (f", {seen}" if seen else ""),
        )

    @property
    def expected(self) -> int:
        """The conversations to copy: the known total, or those listed so far."""
        return max(self.total or 0, self.listed)


def plural(count: int, noun: str) -> str:
    """``1 conversation``, ``2 conversations``, ``1,024 messages``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def one_line(text: str) -> str:
    """*text* with its whitespace runs (newlines included) made single spaces."""
    return " ".join(text.split())
