"""``backscroll migrate``: a vendor's history (or an export) into a SQLite or JSONL store."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

from typing import Annotated

import typer

from backscroll.cli import _flags
from backscroll.cli._options import Connection, default_checkpoint, parse_source, parse_target
from backscroll.cli._run import CopyPlan, copy
from backscroll.cli._selection import parse_shard, parse_since, read_ids

__all__ = ["migrate"]


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
    delete_after: Annotated[
        bool,
        typer.Option(
            "--delete-after",
            help=(
                "Convai only, irreversible: delete each session at the vendor once its "
                "messages are committed and the counts match."
            ),
            rich_help_panel="Run",
        ),
    ] = False,
    fail_fast: _flags.FailFast = False,
    as_json: _flags.AsJson = False,
    quiet: _flags.Quiet = False,
) -> None:
    """
    Copy conversations into a store, resumably: each message exactly once.

    For example:

        backscroll migrate convai --character-id 7f3e... --to sqlite:history.db

        backscroll migrate cursor --ids-file ids.txt --shard 0/4 --to sqlite:part-0.db

        backscroll migrate jsonl:history.jsonl --to sqlite:history.db

    Rerun the same command after Ctrl-C, a crash or failures: it resumes from the
    checkpoint. Run it again later and it copies only what is new. Exit status: 0 done,
    1 some conversations failed, 2 bad usage, 130 interrupted.
    """
    parsed_source = parse_source(source)
    target = parse_target(to)
    parsed_shard = None if shard is None else parse_shard(shard)
    if checkpoint is None:
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
        checkpoint=checkpoint.expanduser(),
        fail_fast=fail_fast,
        delete_after=delete_after,
    )
    raise typer.Exit(copy(plan, as_json=as_json, quiet=quiet))
