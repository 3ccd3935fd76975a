"""docs/reference/cli.md holds every command's --help exactly as the code prints it."""

from __future__ import annotations

import os
import pathlib
import re

from .running import invoke

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "reference" / "cli.md"
COMMANDS = [
    [],
    ["export"],
    ["migrate"],
    ["conversations"],
    ["vendors"],
    ["demo"],
    ["sandbox", "serve"],
]
#: Set to 1 to rewrite the page's help blocks from the code (then review the diff).
UPDATE_ENV_VAR = "BACKSCROLL_UPDATE_DOCS"
_BLOCK = re.compile(r"(### `(backscroll[^`]*) --help`\n\n```text\n)(.*?)(```\n)", re.DOTALL)


def _help(command: list[str]) -> str:
    result = invoke(*command, "--help", env={"COLUMNS": "100", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return "".join(f"{line.rstrip()}\n" for line in result.stdout.strip("\n").splitlines())


def test_the_page_holds_every_commands_help_as_printed() -> None:
    """Each command has a --help block on the page, equal to what --help prints now."""
    text = PAGE.read_text(encoding="utf-8")
    printed = {" ".join(["backscroll", *command]): _help(command) for command in COMMANDS}
    if os.environ.get(UPDATE_ENV_VAR) == "1":
        text = _BLOCK.sub(lambda m: m[1] + printed[m[2]] + m[4], text)
        PAGE.write_text(text, encoding="utf-8")
    shown = {match[2]: match[3] for match in _BLOCK.finditer(text)}
    assert sorted(shown) == sorted(printed), (
        f"add a block per command ({UPDATE_ENV_VAR}=1 fills it)"
    )
    for command, help_text in printed.items():
        assert shown[command] == help_text, (
            f"{command} --help changed: rerun with {UPDATE_ENV_VAR}=1"
        )
