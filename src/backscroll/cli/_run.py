"""
One copy from a source to a target, as ``export`` and ``migrate`` run it.

Checks come first and fail as `UsageError` before anything is read; then the migration
runs on its own event loop with progress on standard error, and the summary goes to
standard output (as text, or as JSON with ``--json``). Ctrl-C cancels the migration,
which commits what it wrote and leaves its checkpoint: the same command resumes.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs

from backscroll._migration.engine import migrate
from backscroll._protocols import ReportsRequests
from backscroll._provider import HTTPProvider
from backscroll._registry import vendors
from backscroll.cli._options import (
    Connection,
    Source,
    Target,
    UsageError,
    check_writable,
    default_checkpoint,
    open_provider,
)
from backscroll.cli._progress import Reporter, choose_mode, one_line, plural
from backscroll.cli._selection import Shard, parse_shard, parse_since, read_ids
from backscroll.formats import export_conversations
from backscroll.sinks import JsonlSink, SqliteSink

if TYPE_CHECKING:
    from backscroll._migration.report import MigrationReport
    from backscroll._protocols import ChatHistoryProvider
    from backscroll.cli._flags import CopyFlags
    from backscroll.cli._progress import Tracker

__all__ = ["INTERRUPTED", "SOME_FAILED", "VENDOR_FAILED", "CopyPlan", "copy", "run_copy"]

#: The exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED: Final = 130
#: The exit status when some conversations failed, and when the vendor stopped the run.
SOME_FAILED: Final = 1
VENDOR_FAILED: Final = 3
#: The files SQLite may make beside a database.
_SQLITE_SIDECARS: Final = ("-journal", "-wal", "-shm")
#: Failures listed in the text summary; ``--json`` has them all.
_SHOWN_FAILURES: Final = 20


@attrs.frozen(kw_only=True)
class CopyPlan:
    """Everything a copy needs, read from the command line."""

    source: Source
    connection: Connection
    target: Target
    conversation_ids: list[str] | None
    shard: Shard | None
    since: datetime | None
    concurrency: int
    checkpoint: Path | None
    fail_fast: bool = False
    delete_after: bool = False

    @property
    def title(self) -> str:
        """What is copied where, for progress and the summary."""
        shard = "" if self.shard is None else f" (shard {self.shard})"
        return f"{self.source}{shard} → {self.target.path}"


def run_copy(
    source: Source, target: Target, flags: CopyFlags, *, delete_after: bool = False
) -> int:
    """
    Plan a copy from the command line's flags, run it, print its summary; the exit status.

    ``export`` and ``migrate`` differ only in their target (and ``--delete-after``): the
    rest of the plan is read here. The checkpoint defaults to one beside a resumable
    target, one per source and shard.

    Raises:
        UsageError: a flag is unusable, or the plan cannot run.
        BackscrollError: the run failed as a whole.
    """
    shard = None if flags.shard is None else parse_shard(flags.shard)
    checkpoint = flags.checkpoint
    if checkpoint is None and target.resumable:
        checkpoint = default_checkpoint(target, source, shard)
    plan = CopyPlan(
        source=source,
        connection=Connection(
            settings=flags.settings,
            base_url=flags.base_url,
            max_retries=flags.max_retries,
            timeout=flags.timeout,
            allow_insecure_http=flags.allow_insecure_http,
            rate_limit=flags.rate_limit,
        ),
        target=target,
        conversation_ids=read_ids(flags.ids or [], flags.ids_file),
        shard=shard,
        since=None if flags.since is None else parse_since(flags.since),
        concurrency=flags.concurrency,
        checkpoint=None if checkpoint is None else checkpoint.expanduser(),
        fail_fast=flags.fail_fast,
        delete_after=delete_after,
    )
    return copy(plan, as_json=flags.as_json, quiet=flags.quiet)


def copy(plan: CopyPlan, *, as_json: bool, quiet: bool) -> int:
    """
    Run *plan*; print the summary; return the exit status (0 done, 1 some failed, 130).

    Raises:
        UsageError: the plan cannot run (checked before anything is read).
        BackscrollError: the run failed as a whole (the vendor refused the credential,
            the sink cannot be written...).
    """
    plan = _checked(plan)
    reporter = Reporter(choose_mode(quiet=quiet))
    new_files = _new_files(plan)
    try:
        report = anyio.run(_copy, plan, reporter)
    except KeyboardInterrupt:
        _interrupted(plan)
        return INTERRUPTED
    except BaseException:
        _remove(new_files)  # the run wrote nothing it could resume from
        raise
    left_nothing = not report.ok and _wrote_nothing(report)
    if left_nothing:
        _remove(new_files)
    summary = _summary(plan, report)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        lines = _text(plan, report, left_nothing=left_nothing)
        sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()
    if report.ok:
        return 0
    return VENDOR_FAILED if report.stopped_by is not None else SOME_FAILED


def _new_files(plan: CopyPlan) -> list[Path]:
    """The files a run may create that do not exist yet: removed if it fails outright."""
    paths = [plan.target.path]
    if plan.target.kind == "sqlite":
        paths += [plan.target.path.with_name(plan.target.path.name + s) for s in _SQLITE_SIDECARS]
    if plan.checkpoint is not None:
        paths.append(plan.checkpoint)
    return [path for path in paths if not path.exists()]


def _wrote_nothing(report: MigrationReport) -> bool:
    return not (
        report.messages_written
        or report.conversations_done
        or report.conversations_skipped
        or report.deleted
    )


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _checked(plan: CopyPlan) -> CopyPlan:
    source, target = plan.source, plan.target
    ids = plan.conversation_ids
    if ids is None and not source.lists_conversations:
        msg = (
            f"{source} cannot list its conversations: name them with --id ID (repeatable) "
            "or --ids-file FILE"
        )
        raise UsageError(msg)
    if ids is not None and plan.shard is not None:
        shard = plan.shard
        ids = [conversation_id for conversation_id in ids if shard.holds(conversation_id)]
    if plan.delete_after and not source.deletes_conversations:
        able = [v.name for v in vendors().values() if v.deletes_conversations]
        msg = (
            f"--delete-after deletes at the vendor, which {source} does not offer "
            f"(only {', '.join(able) or 'no vendor'} can)"
        )
        raise UsageError(msg)
    if source.path is not None and _same_file(source.path, target.path):
        msg = f"{target.path} is both the source and the target: write to another file"
        raise UsageError(msg)
    checkpoint = plan.checkpoint
    if checkpoint is not None:
        if not target.resumable:
            msg = (
                f"--checkpoint applies to JSONL and SQLite targets; --format {target.kind} is "
                "written whole. For a large account, export --format jsonl first (resumable), "
                f"then convert that file: backscroll export jsonl:FILE --format {target.kind}"
            )
            raise UsageError(msg)
        check_writable(checkpoint, "--checkpoint")
        if _same_file(checkpoint, target.path):
            msg = f"--checkpoint {checkpoint} is the target itself: name another file"
            raise UsageError(msg)
        if target.kind == "jsonl" and _holds_data(target.path) and not checkpoint.exists():
            msg = (
                f"{target.path} already holds messages but its checkpoint {checkpoint} does "
                "not exist, so copying again would write them twice: pass the --checkpoint "
                "of the run that wrote it, or move the file away"
            )
            raise UsageError(msg)
    return attrs.evolve(plan, conversation_ids=ids)


def _same_file(one: Path, other: Path) -> bool:
    return one.expanduser().resolve() == other.expanduser().resolve()


def _holds_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


async def _copy(plan: CopyPlan, reporter: Reporter) -> MigrationReport:
    source = open_provider(plan.source, plan.connection)
    async with source:
        target = plan.target
        ids = plan.conversation_ids
        with reporter.stage(
            plan.title,
            count_finished=not target.resumable,
            total=None if ids is None else len(ids),
            observe=lambda: observed(source),
        ) as tracker:
            if target.kind == "openai" or target.kind == "sharegpt":  # noqa: PLR1714 - narrows
                return await export_conversations(
                    source,
                    target.path,
                    format=target.kind,
                    conversation_ids=plan.conversation_ids,
                    shard=_pair(plan.shard),
                    since=plan.since,
                    concurrency=plan.concurrency,
                    fail_fast=plan.fail_fast,
                    on_progress=tracker,
                )
            return await _migrate(source, plan, tracker)


async def _migrate(
    source: ChatHistoryProvider, plan: CopyPlan, tracker: Tracker
) -> MigrationReport:
    path = plan.target.path
    sink = JsonlSink(path) if plan.target.kind == "jsonl" else SqliteSink(path)
    async with sink:
        return await migrate(
            source,
            sink,
            conversation_ids=plan.conversation_ids,
            shard=_pair(plan.shard),
            checkpoint=plan.checkpoint,
            concurrency=plan.concurrency,
            since=plan.since,
            fail_fast=plan.fail_fast,
            delete_after=plan.delete_after,
            on_progress=tracker,
        )


def observed(source: object) -> str:
    """
    What the source met so far, for the progress display: retries and rate-limit waits.

    Retries from any source that `ReportsRequests`; rate-limit waits (``waits``,
    ``waiting``) from an HTTP provider's ``rate_limiter``, where ``rate_limit=`` lives.
    """
    parts = []
    retries = source.retries if isinstance(source, ReportsRequests) else 0
    if retries:
        parts.append(f"{retries:,} {'retry' if retries == 1 else 'retries'}")
    limiter = source.rate_limiter if isinstance(source, HTTPProvider) else None
    if limiter is not None and limiter.waits:
        parts.append(plural(limiter.waits, "rate-limit wait"))
    if limiter is not None and limiter.waiting:
        parts.append(f"{limiter.waiting} waiting on --rate-limit")
    return ", ".join(parts)


def _pair(shard: Shard | None) -> tuple[int, int] | None:
    """``--shard I/N`` as ``migrate(shard=(I, N))``: listed and given ids alike."""
    return None if shard is None else (shard.index, shard.count)


def _interrupted(plan: CopyPlan) -> None:
    if plan.target.resumable:
        where = f" (checkpoint {plan.checkpoint})" if plan.checkpoint is not None else ""
        msg = (
            "backscroll: interrupted. What was copied is committed: rerun the same command "
            f"to resume{where}.\n"
        )
    else:
        msg = (
            f"backscroll: interrupted; {plan.target.path} was not written ({plan.target.kind} "
            "files are written whole): rerun the same command.\n"
        )
    sys.stderr.write(msg)


def _counts(report: MigrationReport, *, up_to_date: bool) -> tuple[str, list[str]]:
    """The summary's counts, and the details in brackets after them."""
    if up_to_date:
        checked = report.conversations_done + report.conversations_skipped
        counts = f"up to date: {plural(checked, 'conversation')} checked, no new message"
    else:
        counts = (
            f"{plural(report.conversations_done, 'conversation')} copied, "
            f"{plural(report.messages_written, 'message')} written"
        )
    details = []
    if report.conversations_skipped and not up_to_date:
        done = plural(report.conversations_skipped, "conversation")
        details.append(f"{done} finished by the interrupted run")
    if report.messages_skipped:
        # Reads overlap what the checkpoint holds, to check it: say so, with counts that add up.
        again = f"{report.messages_skipped:,} of the {plural(report.messages_read, 'message')}"
        details.append(f"{again} read were already there")
    return counts, details


def _summary(plan: CopyPlan, report: MigrationReport) -> dict[str, Any]:
    return {
        "source": str(plan.source),
        "target": str(plan.target),
        "checkpoint": None if plan.checkpoint is None else str(plan.checkpoint),
        "shard": None if plan.shard is None else str(plan.shard),
        **report.as_dict(),
    }


def _text(plan: CopyPlan, report: MigrationReport, *, left_nothing: bool) -> list[str]:
    up_to_date = report.ok and not report.messages_written and not report.deleted
    counts, details = _counts(report, up_to_date=up_to_date)
    if report.retries:
        details.append(f"{plural(report.retries, 'request')} retried")
    extra = f" ({', '.join(details)})" if details else ""
    lines = [f"{plan.title}: {counts}{extra} in {report.duration:.1f} s."]
    if report.deleted:
        lines.append(f"{plural(len(report.deleted), 'conversation')} deleted at the vendor.")
    stopped = report.stopped_by
    failures = [failure for failure in report.failures if failure is not stopped]
    if stopped is not None:
        lines.append(
            f"Stopped: {stopped.error_type} on {stopped.conversation_id}: "
            f"{one_line(stopped.reason)} No other conversation was tried (each would fail the "
            "same way): fix the credential, then rerun the same command to go on."
        )
    if failures:
        lines.append(f"{plural(len(failures), 'conversation')} failed:")
        lines.extend(
            f"  {failure.conversation_id}: {failure.error_type}: {one_line(failure.reason)}"
            for failure in failures[:_SHOWN_FAILURES]
        )
        if len(failures) > _SHOWN_FAILURES:
            hidden = len(failures) - _SHOWN_FAILURES
            lines.append(f"  ... and {hidden} more (--json lists them all)")
    if left_nothing:
        lines.append(
            "Nothing was copied, and no new file was left behind: fix what failed, then "
            "rerun the same command."
        )
    elif plan.checkpoint is not None:
        again = "retry the failed ones" if report.failures else "copy what is new"
        lines.append(f"Checkpoint: {plan.checkpoint} (rerun the same command to {again}).")
    return lines
