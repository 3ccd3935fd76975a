"""Running ``backscroll`` in this process, against a sandbox on loopback, and reading its files."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import attrs
from typer.testing import CliRunner

import backscroll
from backscroll.cli._app import app
from backscroll.sandbox import CONVAI_CHARACTER_ID, Sandbox

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from typer.testing import Result


@attrs.frozen
class Served:
    """A sandbox under uvicorn on loopback, and the environment that reaches it."""

    sandbox: Sandbox
    url: str

    @property
    def env(self) -> dict[str, str]:
        """Every fake's credentials and settings, as the environment variables of its vendor."""
        env = {}
        for name, fake in self.sandbox.fakes.items():
            options = fake.provider_options()
            for setting in backscroll.vendors()[name].all_settings:
                env[setting.env_var] = options[setting.parameter]
        return env

    def base_url(self, vendor: str) -> str:
        """The ``--base-url`` of a vendor under this sandbox."""
        return f"{self.url}{self.sandbox.fakes[vendor].api_root}"


def invoke(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Result:
    """Run ``backscroll ARGS`` in this process and return what it printed and its status."""
    return CliRunner().invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)


def vendor_args(served: Served, vendor: str) -> list[str]:
    """``VENDOR --base-url URL`` for a command's source."""
    return [vendor, "--base-url", served.base_url(vendor)]


def assert_usage_error(result: Result, *fragments: str, status: int = 2) -> None:
    """The command failed with *status* and one line on stderr that holds each fragment."""
    assert result.exit_code == status, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backscroll: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def sqlite_keys(path: Path) -> list[tuple[str, str, str]]:
    """The (provider, conversation_id, id) of every message in a SqliteSink database."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT provider, conversation_id, id FROM messages").fetchall()
    finally:
        connection.close()
    return [(str(p), str(c), str(i)) for p, c, i in rows]


def convai_truth(sandbox: Sandbox) -> dict[str, int]:
    """Messages per session of the sandbox's Convai character."""
    data = sandbox.data
    return {
        session["sessionID"]: sum(
            len(interaction["interaction"])
            for interaction in data.convai_interactions[session["sessionID"]]
        )
        for session in data.convai_sessions[CONVAI_CHARACTER_ID]
    }


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint journal replayed: its header, its last state, every latest watermark."""
    header, *records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    data = {**header, **records[-1], "conversations": {}}
    for record in records:
        data["conversations"].update(record["conversations"])
    return data
