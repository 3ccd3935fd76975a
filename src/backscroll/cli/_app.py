"""
The ``backscroll`` application: its commands, and how every failure becomes one line.

Exit statuses, one per kind of failure (docs/cli.md lists them):

- 0: done (and ``--help``, ``--version``);
- 1: the run went through but some conversations failed (the summary lists them; a rerun
  retries them);
- 2: bad usage: an unknown source or flag, a missing credential, a bad value;
- 3: the vendor failed the run as a whole: it refused the credential, or could not be
  reached or read;
- 4: a file or folder could not be read or written (permission, disk, a checkpoint that
  is damaged or another migration's, a lock another run holds);
- 130: interrupted (Ctrl-C).

Nothing prints a traceback: errors are one line on standard error, and with ``--json`` a
JSON object on standard output too (``{"error": {"type", "message", "exit_status"}}``).
"""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Final

import typer

from backscroll._hints import spelled_as
from backscroll._logging import logging_to_stderr
from backscroll.cli._demo import demo
from backscroll.cli._export import export
from backscroll.cli._follow import follow
from backscroll.cli._help import PlainCommand, PlainGroup
from backscroll.cli._migrate import migrate
from backscroll.cli._options import HINT_FLAGS, FileAccessError, UsageError, setting_flags
from backscroll.cli._progress import one_line
from backscroll.cli._run import INTERRUPTED
from backscroll.cli._sandbox import serve
from backscroll.cli._vendors import conversations, list_vendors
from backscroll.errors import (
    BackscrollError,
    CheckpointError,
    ConfigurationError,
    ConversionError,
    LockedError,
    SinkError,
)

__all__ = ["app", "run"]

FAILED: Final = 1
USAGE: Final = 2
VENDOR: Final = 3
FILES: Final = 4
#: Failures of a file or folder, whatever raised them: status `FILES`.
_FILE_ERRORS: Final = (FileAccessError, CheckpointError, SinkError, LockedError, ConversionError)
#: Set to 1 to see the traceback of an unexpected error (a bug worth reporting).
TRACEBACK_ENV_VAR: Final = "BACKSCROLL_TRACEBACK"

# typer's usage errors are click's, which recent typer releases vendor: the public
# BadParameter leads to their base class whichever click it is.
_CLICK_EXCEPTION: Final[type[Exception]] = next(
    kind for kind in typer.BadParameter.__mro__ if kind.__name__ == "ClickException"
)


class _Group(PlainGroup):
    """The root command: runs without standalone mode, to print each failure as one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,  # noqa: FBT001, FBT002 - click's signature
        windows_expand_args: bool = True,  # noqa: FBT001, FBT002 - click's signature
        **extra: Any,
    ) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in words[: words.index("--")] if "--" in words else "--json" in words
        try:
            # Hints raised anywhere in the run name this command line's flags.
            with spelled_as({**setting_flags(), **HINT_FLAGS}):
                result = super().main(
                    args=args,
                    prog_name=prog_name or "backscroll",
                    complete_var=complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
            status = result if isinstance(result, int) else 0
        except KeyboardInterrupt:
            sys.stderr.write("backscroll: interrupted.\n")
            status = INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            status = _report(exc, as_json=as_json)
        if standalone_mode:
            sys.exit(status)
        return status


def _report(exc: BaseException, *, as_json: bool = False) -> int:
    """Print *exc* as one line on standard error (and JSON with ``--json``); its status."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, _CLICK_EXCEPTION):
        message: str = getattr(exc, "format_message", lambda: str(exc))()
        if not message.strip():
            return USAGE  # no arguments: the help was shown, which says it all
        path = getattr(getattr(exc, "ctx", None), "command_path", None)
        message += f" (see '{path} --help')" if path else ""
        status = getattr(exc, "exit_code", USAGE)
        kind, status = "UsageError", status if isinstance(status, int) else USAGE
    else:
        kind, message, status = _classify(exc)
    if as_json:
        error = {"type": kind, "message": one_line(message), "exit_status": status}
        sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
        sys.stdout.flush()
    return _say(message, status)


def _classify(exc: BaseException) -> tuple[str, str, int]:
    """The type shown, the message and the exit status of a failure (see the module doc)."""
    kind = type(exc).__name__
    if isinstance(exc, UsageError | ConfigurationError):
        return kind, str(exc), USAGE
    if isinstance(exc, BackscrollError | FileAccessError):
        return kind, str(exc), FILES if isinstance(exc, _FILE_ERRORS) else VENDOR
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return kind, f"cannot use{where}: {exc.strerror or exc}", FILES
    if isinstance(exc, typer.Abort):
        return kind, "aborted", FAILED
    if os.environ.get(TRACEBACK_ENV_VAR) == "1":
        raise exc
    message = (
        f"unexpected {kind}: {exc} (a bug: please report it; "
        f"{TRACEBACK_ENV_VAR}=1 shows where it happened)"
    )
    return kind, message, FAILED


def _say(message: str, status: int) -> int:
    sys.stderr.write(f"backscroll: error: {one_line(message)}\n")
    sys.stderr.flush()
    return status


def _show_version(value: bool) -> None:  # noqa: FBT001 - typer passes the flag
    if value:
        from backscroll import __version__  # noqa: PLC0415 - read from metadata when asked

        sys.stdout.write(f"backscroll {__version__}\n")
        raise typer.Exit


def _root(
    ctx: typer.Context,
    *,
    version: Annotated[  # noqa: ARG001 - its eager callback acts on it
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Log to standard error: -v retries, waits and conversations; -vv each request.",
        ),
    ] = 0,
) -> None:
    """
    Read chat history out of conversational-AI vendors, and move it.

    Start with: backscroll demo (backscroll vendors lists the vendors)
    """
    if verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
        ctx.with_resource(logging_to_stderr(level))  # undone when the command ends
    else:
        ctx.with_resource(_unlogged())


@contextlib.contextmanager
def _unlogged() -> Iterator[None]:
    """
    Without ``-v``, the progress and the summary say it all: no warnings from the logger.

    With no handler anywhere, Python's last-resort handler would print the ``backscroll``
    logger's warnings (a failed conversation) on standard error, once more.
    """
    handler = logging.NullHandler()
    logger = logging.getLogger("backscroll")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


app = typer.Typer(
    cls=_Group,
    name="backscroll",
    rich_markup_mode="markdown",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.callback()(_root)
app.command("export", cls=PlainCommand, no_args_is_help=True)(export)
app.command("migrate", cls=PlainCommand, no_args_is_help=True)(migrate)
app.command("conversations", cls=PlainCommand, no_args_is_help=True)(conversations)
app.command("vendors", cls=PlainCommand)(list_vendors)
app.command("demo", cls=PlainCommand)(demo)
app.command("follow", cls=PlainCommand, no_args_is_help=True)(follow)
_sandbox = typer.Typer(
    cls=PlainGroup,
    name="sandbox",
    help="The sandbox: fake vendor APIs for trying backscroll.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)
_sandbox.command("serve", cls=PlainCommand)(serve)
app.add_typer(_sandbox)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    command = typer.main.get_command(app)
    status: int = command.main(args=argv, prog_name="backscroll", standalone_mode=False)
    return status
