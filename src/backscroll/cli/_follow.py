"""
``backscroll follow``: print a conversation's new messages as they arrive, until Ctrl-C.

With ``--state FILE`` the follow resumes where the last run stopped: the file is rewritten
after every message printed (to a temporary file, then renamed over it, so that a crash
leaves the old state or the new one, never half of one).
"""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
import attrs
import typer

from backscroll._converter import from_dict, to_dict
from backscroll._follow import FollowState, follow_many
from backscroll._models import Message
from backscroll.cli import _flags
from backscroll.cli._options import (
    Connection,
    Source,
    UsageError,
    check_writable,
    open_provider,
    parse_source,
)
from backscroll.cli._selection import parse_since
from backscroll.errors import ConversionError

__all__ = ["follow"]

#: The state file's format; a file of another version is refused, not misread.
STATE_VERSION: Final = 1


@_flags.vendor_command
def follow(
    vendor: Annotated[
        str,
        typer.Argument(
            metavar="VENDOR", help="A vendor (backscroll vendors lists them).", show_default=False
        ),
    ],
    *,
    ids: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            help="A conversation to follow; repeat for more.",
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help=(
                "Resume from this file and keep it current: rerun with the same file and "
                "nothing is printed twice or skipped."
            ),
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    since: _flags.Since = None,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.1, help="Seconds between polls that find nothing new."),
    ] = 5.0,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            min=1,
            help="Stop after this many messages (default: follow until Ctrl-C).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each message as one JSON object per line.")
    ] = False,
    base_url: _flags.BaseUrl = None,
    max_retries: _flags.MaxRetries = None,
    settings: dict[str, str],
) -> None:
    """
    Follow conversations: print each new message once, as it arrives, until Ctrl-C.

    For example:

        backscroll follow cursor --id con_9s2kd81

        backscroll follow talkifai --id chat_abc123 --json --state follow.json

    Without --since or a --state file, only messages that arrive from now on are printed.
    Credentials come from the environment or the flags (backscroll vendors lists them).
    Exit status: 0 stopped (--count reached), 1 the vendor failed, 2 bad usage,
    130 interrupted.
    """
    source = parse_source(vendor)
    if source.kind == "jsonl":
        msg = "follow reads a vendor (backscroll vendors lists them), not an export"
        raise UsageError(msg)
    saved = _read_state(state) if state is not None else {}
    wanted = list(dict.fromkeys(ids or []))
    if not wanted and not saved:
        msg = "follow needs a conversation: pass --id (or a --state file that names some)"
        raise UsageError(msg)
    connection = Connection(settings=settings, base_url=base_url, max_retries=max_retries)
    start = parse_since(since) if since is not None else None
    plan = _Plan(
        states=list(saved.values()),
        fresh=[cid for cid in wanted if cid not in saved],
        since=start,
        interval=interval,
        count=count,
        as_json=as_json,
        state_file=state,
    )
    anyio.run(_follow, source, connection, plan)


@attrs.frozen(kw_only=True)
class _Plan:
    """What one run does: the conversations, where each starts, and what to print."""

    states: list[FollowState]
    fresh: list[str]
    since: datetime | None
    interval: float
    count: int | None
    as_json: bool
    state_file: Path | None


async def _follow(source: Source, connection: Connection, plan: _Plan) -> None:
    provider = open_provider(source, connection)
    printed = 0
    async with (
        provider,
        follow_many(
            provider,
            plan.fresh,
            states=plan.states,
            since=plan.since,
            interval=plan.interval,
        ) as following,
    ):
        if plan.state_file is not None:
            _write_state(plan.state_file, following.states)
        async for message in following:
            sys.stdout.write(_line(message, as_json=plan.as_json))
            sys.stdout.flush()
            if plan.state_file is not None:
                _write_state(plan.state_file, following.states)
            printed += 1
            if plan.count is not None and printed >= plan.count:
                return


def _line(message: Message, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(to_dict(message), ensure_ascii=False) + "\n"
    at = message.created_at.isoformat() if message.created_at else "-"
    text = message.content.replace("\n", " ")
    return f"{at} {message.conversation_id} {message.role.value}: {text}\n"


def _read_state(path: Path) -> dict[str, FollowState]:
    """The states in *path*, by conversation; none if the file does not exist yet."""
    path = path.expanduser()
    check_writable(path, "--state")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        msg = f"cannot read --state {path}: {exc.strerror or exc}"
        raise UsageError(msg) from None
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError  # noqa: TRY301 - one message for every malformed file
        states = [from_dict(FollowState, item) for item in data["states"]]
    except (ValueError, KeyError, TypeError, ConversionError):
        msg = (
            f"--state {path} is not a state file written by backscroll follow "
            f"(version {STATE_VERSION}): name another file, or remove it to start afresh"
        )
        raise UsageError(msg) from None
    return {s.conversation_id: s for s in states}


def _write_state(path: Path, states: Mapping[str, FollowState]) -> None:
    """Replace *path* with *states*, atomically: the old file or the new, never half."""
    path = path.expanduser()
    data = {"version": STATE_VERSION, "states": [to_dict(s) for s in states.values()]}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
