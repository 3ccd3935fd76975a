"""--help shows plain flags and readable metavars, for every command."""

from __future__ import annotations

import re

import pytest

from .running import invoke

COMMANDS = [
    [],
    ["export"],
    ["migrate"],
    ["conversations"],
    ["vendors"],
    ["demo"],
    ["sandbox"],
    ["sandbox", "serve"],
]


def _help(command: list[str]) -> str:
    result = invoke(*command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "backscroll")
def test_help_shows_no_python_types_or_braces(command: list[str]) -> None:
    """No <bool>, <list[str]>, <int range> or {SOURCE}: only words a user types."""
    shown = _help(command)
    assert not re.search(r"<[a-z][\w\[\], ]*>", shown), shown
    assert "{SOURCE}" not in shown
    assert "{VENDOR}" not in shown


def test_options_that_take_a_value_show_a_metavar() -> None:
    """--id ID, --ids-file FILE, --base-url URL, --api-key API_KEY; flags show none."""
    shown = _help(["export"])
    for option, metavar in [
        ("--id", "ID"),
        ("--ids-file", "FILE"),
        ("--base-url", "URL"),
        ("--api-key", "API_KEY"),
        ("--format", "jsonl|openai|sharegpt"),
    ]:
        assert re.search(rf"{option}\s+(-\w\s+)?{re.escape(metavar)}\b", shown), option
    assert re.search(r"--json\s{2,}Print", shown)
    assert "Usage: backscroll export [OPTIONS] SOURCE" in shown
