"""
The flags ``export`` and ``migrate`` share, declared once as typer annotations.

`CopyFlags` holds them, and `copy_command` adds them to a command's options: both
commands declare only their own. The vendors' own flags (``--api-key``, ``--token``, a
plugin's) are not written here: `vendor_parameters` makes one option per distinct flag the
registered vendors declare, with help that names the vendors and environment variables.
Values are kept as typed (strings for ``--shard`` and ``--since``) and read by the plan,
so that every mistake gets backscroll's own one-line message.
"""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import attrs
import typer

from backscroll._registry import vendors

__all__ = [
    "AllowInsecureHttp",
    "AsJson",
    "BaseUrl",
    "Checkpoint",
    "Concurrency",
    "CopyFlags",
    "FailFast",
    "Ids",
    "IdsFile",
    "MaxRetries",
    "Quiet",
    "RateLimit",
    "Shard",
    "Since",
    "SourceArgument",
    "Timeout",
    "copy_command",
    "vendor_command",
    "vendor_parameters",
    "vendor_settings",
]

_VENDOR: Final = "Vendor"
_SELECTION: Final = "Conversations"
_RUN: Final = "Run"

SourceArgument = Annotated[
    str,
    typer.Argument(
        metavar="SOURCE",
        help="A vendor (backscroll vendors lists them), or jsonl:PATH (a backscroll export).",
        show_default=False,
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help=(
            "The vendor API's root URL, e.g. a sandbox's http://127.0.0.1:8765/cursor/v1 "
            "(default: the vendor's own)."
        ),
        show_default=False,
        rich_help_panel=_VENDOR,
    ),
]
MaxRetries = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        metavar="N",
        min=0,
        help="Retries of a failed request (429, 5xx, dropped connections); default 2.",
        show_default=False,
        rich_help_panel=_VENDOR,
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.0,
        help="How long one request may take; default 30 (10 to connect).",
        show_default=False,
        rich_help_panel=_VENDOR,
    ),
]
RateLimit = Annotated[
    float | None,
    typer.Option(
        "--rate-limit",
        metavar="PER_SECOND",
        min=0.001,
        help=(
            "At most this many requests per second to the vendor, across all --concurrency "
            "readers; a 429 slows it further until the vendor recovers."
        ),
        show_default=False,
        rich_help_panel=_VENDOR,
    ),
]
AllowInsecureHttp = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-http",
        metavar="",
        help=(
            "Allow a plain http:// --base-url off loopback (the credential travels unencrypted)."
        ),
        rich_help_panel=_VENDOR,
    ),
]
Ids = Annotated[
    list[str] | None,
    typer.Option(
        "--id",
        metavar="ID",
        help=(
            "A conversation to copy; repeat for more. Default: all, from a source that "
            "lists (jsonl:, and the vendors backscroll vendors marks so)."
        ),
        show_default=False,
        rich_help_panel=_SELECTION,
    ),
]
IdsFile = Annotated[
    Path | None,
    typer.Option(
        "--ids-file",
        metavar="FILE",
        help="A file of conversation ids, one per line (# comments allowed; - for stdin).",
        show_default=False,
        rich_help_panel=_SELECTION,
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="WHEN",
        help=(
            "Only messages from this time on: 2024-09-25 or 2024-09-25T14:00:00Z (UTC if no zone)."
        ),
        show_default=False,
        rich_help_panel=_SELECTION,
    ),
]
Shard = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help=(
            "Copy only shard I of N (0 <= I < N): N workers with 0/N ... N-1/N split the "
            "conversations exactly, each with its own output and checkpoint."
        ),
        show_default=False,
        rich_help_panel=_SELECTION,
    ),
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency",
        metavar="N",
        min=1,
        help="Conversations read at once.",
        rich_help_panel=_RUN,
    ),
]
Checkpoint = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint",
        metavar="FILE",
        help=(
            "The progress file that makes reruns resume and sync (default: beside the "
            "target, TARGET.SOURCE.checkpoint.json)."
        ),
        show_default=False,
        rich_help_panel=_RUN,
    ),
]
FailFast = Annotated[
    bool,
    typer.Option(
        "--fail-fast",
        metavar="",
        help="Stop at the first conversation that fails.",
        rich_help_panel=_RUN,
    ),
]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        metavar="",
        help=('Print the summary as JSON on standard output; a failure too, as {"error": {...}}.'),
        rich_help_panel=_RUN,
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        metavar="",
        help="No progress on standard error, only the summary.",
        rich_help_panel=_RUN,
    ),
]


@attrs.frozen(kw_only=True)
class CopyFlags:
    """The flags of a copy, as typed; each field's annotation is its typer option."""

    base_url: BaseUrl = None
    max_retries: MaxRetries = None
    timeout: Timeout = None
    rate_limit: RateLimit = None
    allow_insecure_http: AllowInsecureHttp = False
    ids: Ids = None
    ids_file: IdsFile = None
    since: Since = None
    shard: Shard = None
    concurrency: Concurrency = 8
    checkpoint: Checkpoint = None
    fail_fast: FailFast = False
    as_json: AsJson = False
    quiet: Quiet = False
    #: The vendors' setting flags given (see `vendor_parameters`), by flag.
    settings: Mapping[str, str] = attrs.field(factory=dict, repr=False)


def vendor_parameters() -> list[inspect.Parameter]:
    """
    One keyword-only typer option per distinct flag of the registered vendors' settings.

    Vendors may share a flag (``--api-key``); its help names each vendor that reads it and
    the environment variable each would read instead.
    """
    by_flag: dict[str, list[str]] = {}
    secret: dict[str, bool] = {}
    for vendor in vendors().values():
        for setting in vendor.all_settings:
            by_flag.setdefault(setting.flag, []).append(
                f"{vendor.name}: {setting.what} (or {setting.env_var})"
            )
            secret[setting.flag] = secret.get(setting.flag, False) or setting.secret
    parameters = []
    for flag, uses in by_flag.items():
        caution = (
            " A flag shows in the process list: prefer the environment." if secret[flag] else ""
        )
        option = typer.Option(
            flag,
            metavar=flag.removeprefix("--").replace("-", "_").upper(),
            help="; ".join(uses) + "." + caution,
            show_default=False,
            rich_help_panel=_VENDOR,
        )
        parameters.append(
            inspect.Parameter(
                _parameter_name(flag),
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, option],
            )
        )
    return parameters


def vendor_settings(values: dict[str, Any]) -> dict[str, str]:
    """Take the vendor flags out of a command's *values*: the ones given, by flag."""
    given = {}
    for parameter in vendor_parameters():
        value = values.pop(parameter.name)
        if value is not None:
            given[_flag_of(parameter.name)] = value
    return given


def _parameter_name(flag: str) -> str:
    return "vendor_" + flag.removeprefix("--").replace("-", "_")


def _flag_of(name: str) -> str:
    return "--" + name.removeprefix("vendor_").replace("_", "-")


def copy_command(command: Callable[..., None]) -> Callable[..., None]:
    """
    Give *command* the options of `CopyFlags`, which it receives as its ``flags``.

    typer reads a command's options from its signature, so the wrapper's signature is
    the command's, with the fields of `CopyFlags` in place of ``flags`` (that is where
    they show in ``--help``); the wrapper gathers their values into one `CopyFlags`.
    """
    own = [p for p in inspect.signature(CopyFlags).parameters.values() if p.name != "settings"]
    shared = vendor_parameters() + own
    parameters = []
    for parameter in inspect.signature(command).parameters.values():
        parameters += shared if parameter.name == "flags" else [parameter]

    @functools.wraps(command)
    def run(**values: Any) -> None:
        settings = vendor_settings(values)
        flags = CopyFlags(**{p.name: values.pop(p.name) for p in own}, settings=settings)
        command(**values, flags=flags)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


def vendor_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give *command* the vendors' setting flags, which it receives as ``settings``."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "settings"]
    parameters = own + vendor_parameters()

    @functools.wraps(command)
    def run(**values: Any) -> None:
        settings = vendor_settings(values)
        command(**values, settings=settings)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run
