"""``backscroll export``: a vendor's history (or an export) to one file, in a chosen format."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal

import typer

from backscroll.cli import _flags
from backscroll.cli._options import (
    Connection,
    Target,
    check_writable,
    default_checkpoint,
    parse_source,
)
from backscroll.cli._run import CopyPlan, copy
from backscroll.cli._selection import parse_shard, parse_since, read_ids

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
    api_key: _flags.ApiKey = None,
    token: _flags.Token = None,
    character_id: _flags.CharacterId = None,
    base_url: _flags.BaseUrl = None,
    max_retries: _flags.MaxRetries = None,
    ids: _flags.Ids = None,
    ids_file: _flags.IdsFile = None,
    since: _flags.Since = None,
    shard: _flags.Shard = None,
    concurrency: _flags.Concurrency = 8,
    checkpoint: _flags.Checkpoint = None,
    fail_fast: _flags.FailFast = False,
    as_json: _flags.AsJson = False,
    quiet: _flags.Quiet = False,
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
    conversations failed, 2 bad usage, 130 interrupted.
    """
    parsed_source = parse_source(source)
    out = out.expanduser()
    check_writable(out, "--out")
    target = Target(_KINDS[output_format], out)
    parsed_shard = None if shard is None else parse_shard(shard)
    if checkpoint is None and target.resumable:
        checkpoint = default_checkpoint(target, parsed_source, parsed_shard)
    plan = CopyPlan(
        source=parsed_source,
        connection=Connection(
            api_key=api_key,
            token=token,
            character_id=character_id,
            base_url=base_url,
            max_retries=max_retries,
        ),
        target=target,
        conversation_ids=read_ids(ids or [], ids_file),
        shard=parsed_shard,
        since=None if since is None else parse_since(since),
        concurrency=concurrency,
        checkpoint=checkpoint,
        fail_fast=fail_fast,
    )
    raise typer.Exit(copy(plan, as_json=as_json, quiet=quiet))
