"""
``backscroll demo``: the main job, offline, in a few seconds.

The sandbox runs in this process (no sockets: its providers talk to the app through an
httpx transport) and answers some requests with 429 or 503, as busy vendors do. Each
vendor the sandbox fakes (the registered ones, plugins' included) is migrated into one
SQLite database and into its own JSONL export, then the files are counted against the
fake's ground truth.
"""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import contextlib
import json
import sqlite3
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import anyio
import anyio.to_thread
import attrs
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from backscroll._migration.engine import migrate
from backscroll._migration.report import MigrationReport
from backscroll._protocols import ChatHistoryProvider
from backscroll._registry import vendors
from backscroll.cli._options import Source, Target, UsageError, default_checkpoint
from backscroll.cli._progress import Reporter, choose_mode, plural
from backscroll.cli._run import INTERRUPTED
from backscroll.sinks import JsonlSink, SqliteSink

if TYPE_CHECKING:
    from backscroll.sandbox import Sandbox

__all__ = ["demo"]

DEFAULT_DIRECTORY: Final = Path("backscroll-demo")
DATABASE: Final = "history.db"
#: Generous, so that the injected 429 and 503 answers never exhaust a request's retries.
_MAX_RETRIES: Final = 8


@attrs.frozen(kw_only=True)
class _Result:
    vendor: str
    to_sqlite: MigrationReport
    to_jsonl: MigrationReport
    expected: int
    in_sqlite: int
    in_jsonl: int
    distinct_in_jsonl: int
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        counts = {self.expected, self.in_sqlite, self.in_jsonl, self.distinct_in_jsonl}
        return self.to_sqlite.ok and self.to_jsonl.ok and len(counts) == 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.vendor,
            "conversations": self.to_sqlite.conversations_done,
            "messages": self.to_sqlite.messages_written,
            "retries": self.to_sqlite.retries + self.to_jsonl.retries,
            "duration": self.to_sqlite.duration + self.to_jsonl.duration,
            "files": list(self.files),
            "sandbox_messages": self.expected,
            "sqlite_messages": self.in_sqlite,
            "jsonl_messages": self.in_jsonl,
            "jsonl_distinct_messages": self.distinct_in_jsonl,
            "failures": [
                attrs.asdict(failure)
                for failure in (*self.to_sqlite.failures, *self.to_jsonl.failures)
            ],
            "ok": self.ok,
        }


def demo(
    *,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="The directory to write into (default ./backscroll-demo, made if missing).",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    error_rate: Annotated[
        float,
        typer.Option(
            "--error-rate",
            min=0.0,
            max=1.0,
            help="Share of requests the sandbox answers with 429 or 503 (retried).",
        ),
    ] = 0.1,
    latency: Annotated[
        float,
        typer.Option("--latency", min=0.0, help="Seconds each sandbox request takes."),
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on standard output.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress on standard error.")
    ] = False,
) -> None:
    """
    Migrate every sandbox vendor into SQLite and JSONL, offline, and count the result.

    The sandbox (a fake API of each vendor that ships one) runs in this process; no
    network is used. Writes history.db (every vendor) and one JSONL export per vendor into
    ./backscroll-demo, replacing the files of an earlier demo there.

    For example:

        backscroll demo --out /tmp/demo --error-rate 0.3
    """
    try:
        from backscroll import sandbox  # noqa: PLC0415 - the sandbox extra, on demand
    except ImportError:
        msg = "backscroll demo needs the sandbox extra: pip install 'backscroll[cli,sandbox]'"
        raise UsageError(msg) from None
    directory = (out or DEFAULT_DIRECTORY).expanduser()
    _prepare(directory)
    faults = sandbox.Faults(
        rate=error_rate, statuses={429: 1, 503: 1}, retry_after=0, latency=latency, seed=1
    )
    fake = sandbox.Sandbox(seed=0)
    for name in fake.fakes:
        fake.set_faults(name, faults)
    reporter = Reporter(choose_mode(quiet=quiet), per_conversation=False, transient=True)
    reporter.line(f"The sandbox runs in this process; writing into {directory}/")
    try:
        results = anyio.run(_run, fake, directory, reporter)
    except KeyboardInterrupt:
        sys.stderr.write("backscroll: demo interrupted.\n")
        raise typer.Exit(INTERRUPTED) from None
    ok = all(result.ok for result in results)
    if as_json:
        summary = {
            "directory": str(directory),
            "ok": ok,
            "providers": [result.as_dict() for result in results],
        }
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print_table(directory, results)
    raise typer.Exit(0 if ok else 1)


def _files(directory: Path) -> list[Path]:
    """The demo's own files, which a rerun replaces."""
    database = directory / DATABASE
    target = Target("sqlite", database)
    files = [database, directory / f"{DATABASE}-wal", directory / f"{DATABASE}-shm"]
    for vendor in vendors():
        export = directory / f"{vendor}.jsonl"
        files += [
            export,
            default_checkpoint(target, Source(vendor), None),
            default_checkpoint(Target("jsonl", export), Source(vendor), None),
        ]
    return files


def _prepare(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in _files(directory):
            path.unlink(missing_ok=True)
    except OSError as exc:
        msg = f"cannot write the demo into {directory}: {exc.strerror or exc}; pass --out DIR"
        raise UsageError(msg) from None


def _opener(
    fake: "Sandbox", vendor: str
) -> Callable[[], AbstractAsyncContextManager[ChatHistoryProvider]]:
    return lambda: fake.provider(vendor, max_retries=_MAX_RETRIES)


def _ids(fake: "Sandbox", vendor: str) -> list[str] | None:
    """A vendor that lists lists its own; the others are asked for what their fake holds."""
    if vendors()[vendor].lists_conversations:
        return None
    return fake.data.store(vendor).conversation_ids()


async def _run(fake: "Sandbox", directory: Path, reporter: Reporter) -> list[_Result]:
    database = directory / DATABASE
    results = []
    for vendor, served in fake.fakes.items():
        export = directory / f"{vendor}.jsonl"
        expected = served.store.message_count()  # before a run could change it (no deletes)
        opener = _opener(fake, vendor)
        ids = _ids(fake, vendor)
        to_sqlite = await _stage(reporter, opener, Target("sqlite", database), vendor, ids)
        to_jsonl = await _stage(reporter, opener, Target("jsonl", export), vendor, ids)
        in_sqlite = await anyio.to_thread.run_sync(_count_rows, database, vendor)
        in_jsonl, distinct = await anyio.to_thread.run_sync(_count_jsonl, export)
        results.append(
            _Result(
                vendor=vendor,
                to_sqlite=to_sqlite,
                to_jsonl=to_jsonl,
                expected=expected,
                in_sqlite=in_sqlite,
                in_jsonl=in_jsonl,
                distinct_in_jsonl=distinct,
                files=(DATABASE, export.name),
            )
        )
    return results


async def _stage(
    reporter: Reporter,
    opener: Callable[[], AbstractAsyncContextManager[ChatHistoryProvider]],
    target: Target,
    vendor: str,
    ids: list[str] | None,
) -> MigrationReport:
    title = f"{vendor} → {target.path.name}"
    checkpoint = default_checkpoint(target, Source(vendor), None)
    sink = JsonlSink(target.path) if target.kind == "jsonl" else SqliteSink(target.path)
    with reporter.stage(title) as tracker:
        async with opener() as provider, sink:
            report = await migrate(
                provider, sink, conversation_ids=ids, checkpoint=checkpoint, on_progress=tracker
            )
    retried = f", {plural(report.retries, 'request')} retried" if report.retries else ""
    failed = f", {report.conversations_failed} FAILED" if report.failures else ""
    reporter.line(
        f"{'✓' if report.ok else '✗'} {title}: "
        f"{plural(report.conversations_done, 'conversation')}, "
        f"{plural(report.messages_written, 'message')}{retried}{failed} "
        f"({report.duration:.2f} s)"
    )
    return report


def _count_rows(database: Path, vendor: str) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM messages WHERE provider = ?", (vendor,)
        ).fetchone()
    return int(row[0])


def _count_jsonl(path: Path) -> tuple[int, int]:
    """The lines of an export, and how many distinct messages they hold."""
    lines = 0
    keys = set()
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                lines += 1
                data = json.loads(line)
                keys.add((data["provider"], data["conversation_id"], data["id"]))
    return lines, len(keys)


def _print_table(directory: Path, results: list[_Result]) -> None:
    console = Console(highlight=False)
    table = Table(
        title=f"backscroll demo: {plural(len(results), 'vendor')} copied into {directory}/",
        caption=(
            f"{DATABASE} holds every vendor; once = the sandbox, SQLite and JSONL "
            "hold the same messages, each once"
        ),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("provider")
    for header in ("conversations", "messages", "retries", "time"):
        table.add_column(header, justify="right")
    table.add_column("JSONL export", no_wrap=True, min_width=14)
    table.add_column("once", justify="center")
    for result in results:
        item = result.as_dict()
        table.add_row(
            result.vendor,
            f"{item['conversations']:,}",
            f"{item['messages']:,}",
            f"{item['retries']:,}",
            f"{item['duration']:.2f} s",
            result.files[-1],
            "✓" if result.ok else "✗",
        )
    console.print(table)
    lines = [
        f"✗ {result.vendor}: the sandbox has {result.expected:,} messages, "
        f"{DATABASE} {result.in_sqlite:,}, {result.files[-1]} {result.in_jsonl:,}, "
        f"failures: {len(result.as_dict()['failures'])} (see --json)"
        for result in results
        if not result.ok
    ]
    lines += [
        (
            f"Query {directory / DATABASE} with sqlite3 (tables conversations, messages), "
            "or migrate an export onward:"
        ),
        f"  backscroll migrate jsonl:{directory / results[-1].files[-1]} --to sqlite:copy.db",
        "The same fake APIs on a socket: backscroll sandbox serve",
    ]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
