"""
The ``backscroll`` application: its commands, and how every failure becomes one line.

Exit statuses: 0 done; 1 some conversations failed, or the run failed as a whole (the
vendor refused the credential, a file could not be written); 2 bad usage (an unknown
source, a missing credential, an unreadable file, a bad flag); 130 interrupted.
Nothing prints a traceback: errors are one line on standard error.
"""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import contextlib
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
from backscroll.cli._help import PlainCommand, PlainGroup
from backscroll.cli._migrate import migrate
from backscroll.cli._options import HINT_FLAGS, UsageError, setting_flags
from backscroll.cli._progress import one_line
from backscroll.cli._run import INTERRUPTED
from backscroll.cli._sandbox import serve
from backscroll.cli._vendors import conversations, list_vendors
from backscroll.errors import BackscrollError, CheckpointError, ConfigurationError

__all__ = ["app", "run"]

FAILED: Final = 1
USAGE: Final = 2
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
            status = _report(exc)
        if standalone_mode:
            sys.exit(status)
        return status


def _report(exc: BaseException) -> int:
    """Print *exc* as one line on standard error; return the exit status it means."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, UsageError | ConfigurationError | CheckpointError):
        return _say(str(exc), USAGE)
    if isinstance(exc, BackscrollError):
        return _say(str(exc), FAILED)
    if isinstance(exc, _CLICK_EXCEPTION):
        message: str = getattr(exc, "format_message", lambda: str(exc))()
        context = getattr(exc, "ctx", None)
        path = getattr(context, "command_path", None)
        hint = f" (see '{path} --help')" if path else ""
        status = getattr(exc, "exit_code", USAGE)
        status = status if isinstance(status, int) else USAGE
        if not message.strip():
            return status  # no arguments: the help was shown, which says it all
        return _say(f"{message}{hint}", status)
    if isinstance(exc, typer.Abort):
        return _say("aborted", FAILED)
    if os.environ.get(TRACEBACK_ENV_VAR) == "1":
        raise exc
    return _say(
        f"unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
        f"{TRACEBACK_ENV_VAR}=1 shows where it happened)",
        FAILED,
    )


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
