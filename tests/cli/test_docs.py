"""docs/cli.md tells the truth: every command line it shows uses flags the command has."""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest

from .running import invoke

DOC = pathlib.Path(__file__).parents[2] / "docs" / "cli.md"
COMMANDS = [
    ["export"],
    ["migrate"],
    ["demo"],
    ["sandbox", "serve"],
    ["vendors"],
    ["conversations"],
    ["follow"],
    [],
]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _help(command: list[str]) -> str:
    result = invoke(*command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return result.stdout


def _command_lines() -> list[str]:
    """Each ``backscroll ...`` line of the sh blocks, continuation lines joined."""
    text = DOC.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```(?:sh|text)\n(.*?)```", text, re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.removeprefix("$ ").strip()  # noqa: PLW2901 - the prompt is not the line
            if line.startswith("backscroll ") and "→" not in line and ":" not in line.split()[1]:
                lines.append(line)
    return lines


def test_the_page_shows_every_command() -> None:
    """Each command has at least one example line."""
    shown = {" ".join(shlex.split(line)[1:3]) for line in _command_lines()}
    for command in ("demo", "sandbox serve", "vendors --json", "conversations convai"):
        assert command in shown
    assert any(line.startswith("backscroll export ") for line in _command_lines())
    assert any(line.startswith("backscroll migrate ") for line in _command_lines())


@pytest.mark.parametrize("line", _command_lines())
def test_each_example_uses_real_flags(line: str) -> None:
    """Every flag on an example line is one its command takes."""
    words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
    # Root options (-v, --version) may come before the command.
    after = [word for word in words[1:] if not word.startswith("-")]
    command = [] if not after else ["sandbox", "serve"] if after[0] == "sandbox" else after[:1]
    known = _help([]) + _help(command)
    for flag in FLAG.findall(line):
        assert flag in known, f"{flag} is not a flag of backscroll {' '.join(command)}"


def test_every_flag_named_on_the_page_exists() -> None:
    """A flag named anywhere on the page is a flag of some command."""
    known = "".join(_help(command) for command in COMMANDS)
    named = set(FLAG.findall(DOC.read_text(encoding="utf-8")))
    assert named
    assert {flag for flag in named if flag not in known} == set()
