"""``backscroll migrate``: a vendor's history (or an export) into a SQLite or JSONL store."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

from typing import Annotated

import typer

from backscroll.cli import _flags
from backscroll.cli._options import parse_source, parse_target
from backscroll.cli._run import run_copy

__all__ = ["migrate"]


@_flags.copy_command
def migrate(
    source: _flags.SourceArgument,
    *,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="sqlite:PATH|jsonl:PATH",
            help="Where to copy: an SQLite database or a JSONL file (created if missing).",
            show_default=False,
        ),
    ],
    flags: _flags.CopyFlags,
    delete_after: Annotated[
        bool,
        typer.Option(
            "--delete-after",
            help=(
                "Irreversible, for vendors that delete (backscroll vendors): delete each "
                "conversation at the vendor once its messages are committed and checked."
            ),
            rich_help_panel="Run",
        ),
    ] = False,
) -> None:
    """
    Copy conversations into a store, resumably: each message exactly once.

    For example:

        backscroll migrate convai --character-id 7f3e... --to sqlite:history.db

        backscroll migrate cursor --ids-file ids.txt --shard 0/4 --to sqlite:part-0.db

        backscroll migrate jsonl:history.jsonl --to sqlite:history.db

    Rerun the same command after Ctrl-C, a crash or failures: it resumes from the
    checkpoint. Run it again later and it copies only what is new. Exit status: 0 done,
    1 some conversations failed, 2 bad usage, 3 the vendor failed the run, 4 a file could
    not be written, 130 interrupted.
    """
    parsed_source = parse_source(source)
    target = parse_target(to)
    raise typer.Exit(run_copy(parsed_source, target, flags, delete_after=delete_after))
