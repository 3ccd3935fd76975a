"""The command line as a whole: version, help, entry points, and how failures are printed."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest
import typer.main

import backscroll
from backscroll.cli import _app, _flags, main

from .running import assert_usage_error, invoke

COMMANDS = [[], ["export"], ["migrate"], ["demo"], ["sandbox"], ["sandbox", "serve"]]


def _python(*arguments: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(["-c", code] if code else []), *arguments]
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        command, capture_output=True, text=True, check=False, timeout=120
    )


def test_version_prints_the_installed_version() -> None:
    """--version prints the distribution's version and exits 0."""
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout == f"backscroll {backscroll.__version__}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "backscroll")
def test_every_command_has_help(command: list[str]) -> None:
    """--help on each command describes it and exits 0."""
    result = invoke(*command, "--help")

    assert result.exit_code == 0, result.output
    assert "Usage: backscroll" in result.stdout
    assert "--help" in result.stdout


def test_help_names_the_commands_and_flags() -> None:
    """The help of export and migrate shows the flags of the contract."""
    export = invoke("export", "--help").stdout
    migrate = invoke("migrate", "--help").stdout

    for flag in ("--out", "--format", "--api-key", "--token", "--character-id", "--base-url"):
        assert flag in export
    for flag in ("--to", "--id", "--ids-file", "--since", "--concurrency", "--checkpoint"):
        assert flag in migrate
    for flag in ("--shard", "--json", "--delete-after"):
        assert flag in migrate


@pytest.mark.parametrize("command", ["export", "migrate"])
def test_export_and_migrate_take_every_shared_flag(command: str) -> None:
    """Both commands offer each CopyFlags field as its option, declared once for both."""
    options = {
        parameter.name: parameter.opts
        for parameter in typer.main.get_command(_app.app).commands[command].params  # type: ignore[attr-defined]
    }
    for field in attrs.fields(_flags.CopyFlags):
        if field.name != "settings":
            assert field.name in options, field.name
    for parameter in _flags.vendor_parameters():
        assert parameter.name in options, parameter.name
    assert "flags" not in options
    assert "settings" not in options


def test_every_registered_setting_flag_is_an_option() -> None:
    """Each flag a registered vendor declares is an option of export, once."""
    command = typer.main.get_command(_app.app).commands["export"]  # type: ignore[attr-defined]
    flags = [flag for parameter in command.params for flag in parameter.opts]
    for vendor in backscroll.vendors().values():
        for setting in vendor.all_settings:
            assert flags.count(setting.flag) == 1, setting.flag


def test_no_command_shows_the_help_and_exits_2() -> None:
    """Alone, backscroll prints its help (the commands) with the usage status."""
    result = invoke()

    assert result.exit_code == 2
    for command in ("export", "migrate", "demo", "sandbox"):
        assert command in result.output
    assert "error" not in result.stderr


def test_an_unknown_option_is_one_line() -> None:
    """A flag that does not exist is a one-line usage error pointing to --help."""
    result = invoke("export", "cursor", "--out", "x.jsonl", "--colour")

    assert_usage_error(result, "--colour", "backscroll export --help")


def test_an_unknown_command_is_one_line() -> None:
    """A command that does not exist is a one-line usage error."""
    assert_usage_error(invoke("exprot"), "exprot")


def test_a_non_number_is_one_line() -> None:
    """A flag given the wrong type is a one-line usage error naming the flag."""
    assert_usage_error(invoke("export", "cursor", "--out", "x", "--concurrency", "many"))
    assert_usage_error(invoke("export", "cursor", "--out", "x", "--concurrency", "0"))


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug surfaces as one line that says to report it, not a traceback."""

    def broken(*_args: object, **_kwargs: object) -> None:
        msg = "boom"
        raise RuntimeError(msg)

    monkeypatch.setattr("backscroll.sandbox.serve", broken)
    result = invoke("sandbox", "serve", "--port", "0")

    assert_usage_error(result, "unexpected RuntimeError: boom", "report", status=1)


def test_the_traceback_variable_shows_an_unexpected_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With BACKSCROLL_TRACEBACK=1 an unexpected error propagates, traceback and all."""

    def broken(*_args: object, **_kwargs: object) -> None:
        msg = "boom"
        raise RuntimeError(msg)

    monkeypatch.setattr("backscroll.sandbox.serve", broken)
    monkeypatch.setenv("BACKSCROLL_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="boom"):
        invoke("sandbox", "serve", "--port", "0")


def test_run_returns_the_status_without_exiting() -> None:
    """run() (what main() calls) returns the status instead of raising SystemExit."""
    assert _app.run(["--version"]) == 0
    assert _app.run(["export", "nowhere", "--out", "x.jsonl"]) == 2


def test_python_dash_m_runs_the_command_line() -> None:
    """Running python -m backscroll is the backscroll command."""
    done = _python("-m", "backscroll", "--version")

    assert done.returncode == 0
    assert done.stdout == f"backscroll {backscroll.__version__}\n"


@pytest.mark.parametrize("module", ["typer", "rich"])
def test_without_the_cli_extra_it_says_what_to_install(module: str) -> None:
    """Without typer or rich, backscroll prints the extra to install, in one line, status 2."""
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"
        "sys.argv = ['backscroll', 'demo']\n"
        "from backscroll.cli import main\n"
        "main()\n"
    )
    done = _python(code=code)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "backscroll: the command line needs the cli extra: pip install 'backscroll[cli]'\n"
    )


def test_without_the_sandbox_extra_the_demo_says_what_to_install() -> None:
    """Without starlette, backscroll demo names the sandbox extra in one line, status 2."""
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "sys.argv = ['backscroll', 'demo']\n"
        "from backscroll.cli import main\n"
        "main()\n"
    )
    done = _python(code=code)

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        (
            "backscroll: error: backscroll demo needs the sandbox extra: "
            "pip install 'backscroll[cli,sandbox]'"
        )
    ]


def test_main_exits_with_the_commands_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() runs sys.argv and exits with the status: the console script's entry point."""
    monkeypatch.setattr(sys, "argv", ["backscroll", "export", "nowhere", "--out", "x.jsonl"])
    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2


def test_main_without_typer_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process too, a missing typer is one line naming the cli extra, status 2."""
    monkeypatch.setitem(sys.modules, "typer", None)  # blocks the import
    monkeypatch.delitem(sys.modules, "backscroll.cli._app")
    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "backscroll: the command line needs the cli extra: pip install 'backscroll[cli]'\n"
    )


def test_main_lets_other_import_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ImportError that is not about the cli extra is a bug, not a missing extra."""
    monkeypatch.setitem(sys.modules, "backscroll.cli._demo", None)
    monkeypatch.delitem(sys.modules, "backscroll.cli._app")
    with pytest.raises(ImportError):
        main()
