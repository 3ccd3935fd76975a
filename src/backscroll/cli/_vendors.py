"""``backscroll vendors`` and ``backscroll conversations``: what the registry offers."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import json
import sys
from typing import Annotated, Any

import anyio
import typer

from backscroll._converter import to_dict
from backscroll._protocols import ListsConversations
from backscroll._registry import Vendor, vendors
from backscroll.cli import _flags
from backscroll.cli._options import Connection, Source, UsageError, open_provider, parse_source

__all__ = ["conversations", "list_vendors", "vendor_row"]

_AS_JSON = Annotated[
    bool, typer.Option("--json", help="Print JSON on standard output.", show_default=False)
]


def vendor_row(vendor: Vendor) -> dict[str, Any]:
    """What ``backscroll vendors --json`` says of one vendor."""
    return {
        "name": vendor.name,
        "summary": vendor.summary,
        "provider": f"{vendor.provider.__module__}.{vendor.provider.__qualname__}",
        "settings": [
            {"flag": s.flag, "env_var": s.env_var, "parameter": s.parameter, "secret": s.secret}
            for s in vendor.all_settings
        ],
        "paging": vendor.paging,
        "lists_conversations": vendor.lists_conversations,
        "deletes_conversations": vendor.deletes_conversations,
        "sandbox": vendor.fake is not None,
        "distribution": vendor.distribution,
    }


def list_vendors(*, as_json: _AS_JSON = False) -> None:
    """
    List the vendors backscroll can read: the built-ins and installed plugins.

    For each: its flags and environment variables, whether it can list and delete
    conversations, and whether the sandbox fakes it.
    """
    rows = [vendor_row(vendor) for vendor in vendors().values()]
    if as_json:
        sys.stdout.write(json.dumps({"vendors": rows}, indent=2) + "\n")
        return
    lines = []
    for row in rows:
        can = [
            word
            for word, able in (
                ("lists", row["lists_conversations"]),
                ("deletes", row["deletes_conversations"]),
                ("sandbox", row["sandbox"]),
            )
            if able
        ]
        settings = ", ".join(f"{s['flag']} or {s['env_var']}" for s in row["settings"])
        origin = "" if row["distribution"] == "backscroll" else f" [{row['distribution']}]"
        lines.append(f"{row['name']}{origin}: {row['summary']}")
        lines.append(f"  {settings}; {', '.join(can) or 'reads by id only'}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))


@_flags.vendor_command
def conversations(
    vendor: Annotated[
        str,
        typer.Argument(
            metavar="VENDOR", help="A vendor that lists (backscroll vendors).", show_default=False
        ),
    ],
    *,
    base_url: _flags.BaseUrl = None,
    max_retries: _flags.MaxRetries = None,
    timeout: _flags.Timeout = None,
    allow_insecure_http: _flags.AllowInsecureHttp = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most this many.", show_default=False),
    ] = None,
    as_json: _AS_JSON = False,
    settings: dict[str, str],
) -> None:
    """
    List a vendor's conversation ids, one per line (or as JSON), where it can list them.

    For example:

        backscroll conversations convai --character-id 7f3e...
    """
    source = parse_source(vendor)
    registered = source.vendor
    if registered is None:
        msg = f"{vendor} is not a vendor: backscroll vendors lists them"
        raise UsageError(msg)
    if not registered.lists_conversations:
        msg = (
            f"{registered.name} cannot list its conversations: its ids come from your own "
            "records (pass them to export or migrate with --id or --ids-file)"
        )
        raise UsageError(msg)
    connection = Connection(
        settings=settings,
        base_url=base_url,
        max_retries=max_retries,
        timeout=timeout,
        allow_insecure_http=allow_insecure_http,
    )
    found = anyio.run(_list, source, connection, limit)
    if as_json:
        body = {"vendor": registered.name, "conversations": found}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{item['id']}\n" for item in found))


async def _list(source: Source, connection: Connection, limit: int | None) -> list[Any]:
    async with open_provider(source, connection) as provider:
        assert isinstance(provider, ListsConversations)  # noqa: S101 - checked by the caller
        found = [to_dict(item) async for item in provider.conversations(limit=limit)]
    return [{key: item[key] for key in ("id", "created_at", "metadata")} for item in found]
