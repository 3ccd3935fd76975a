"""``backscroll export``: a vendor's history (or an export) to one file, in a chosen format."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal

import typer

from backscroll.cli import _flags
from backscroll.cli._options import Target, UsageError, check_writable, parse_source
from backscroll.cli._run import run_copy

__all__ = ["export"]


class Format(StrEnum):
    """The formats of ``export --format``."""

    JSONL = "jsonl"
    OPENAI = "openai"
    SHAREGPT = "sharegpt"


_KINDS: Final[Mapping[Format, Literal["jsonl", "openai", "sharegpt"]]] = {
    Format.JSONL: "jsonl",
    Format.OPENAI: "openai",
    Format.SHAREGPT: "sharegpt",
}


@_flags.copy_command
def export(
    source: _flags.SourceArgument,
    *,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The file to write.", show_default=False, metavar="FILE"),
    ],
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help=(
                "jsonl: every message, lossless, resumable (the default). openai: "
                '{"messages": [...]} per conversation; sharegpt: {"conversations": [...]} '
                "(training formats, written whole)."
            ),
        ),
    ] = Format.JSONL,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an --out file that exists (openai and sharegpt are written whole).",
        ),
    ] = False,
    flags: _flags.CopyFlags,
) -> None:
    """
    Export conversations to a file: JSONL (lossless) or a training format.

    For example:

        backscroll export cursor --id con_9s2kd81 --out history.jsonl

        backscroll export convai --character-id 7f3e... --out convai.jsonl

        backscroll export jsonl:history.jsonl --format openai --out train.jsonl

    Credentials come from the environment (CONVAI_API_KEY, TALKIFAI_TOKEN,
    EXAMPLE_AI_API_KEY) or the flags. JSONL exports resume: rerun the same command after
    Ctrl-C or a failure, or later to add what is new. Exit status: 0 done, 1 some
    conversations failed, 2 bad usage, 3 the vendor failed the run, 4 a file could not be
    written, 130 interrupted.
    """
    parsed_source = parse_source(source)
    out = out.expanduser()
    check_writable(out, "--out")
    target = Target(_KINDS[output_format], out)
    if not target.resumable and out.exists() and not force:
        msg = (
            f"--out {out} exists and --format {target.kind} would replace it whole: pass "
            "--force to replace it, or name another file"
        )
        raise UsageError(msg)
    raise typer.Exit(run_copy(parsed_source, target, flags))
