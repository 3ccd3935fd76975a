"""backscroll demo: every sandbox vendor (plugins' too) into SQLite and JSONL, offline, counted."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import Sandbox

from .running import convai_truth, invoke, jsonl_records, sqlite_keys

if TYPE_CHECKING:
    from pathlib import Path

#: Every vendor with a fake: the built-ins and the test plugin (tests/plugin_vendor).
VENDORS = list(Sandbox(seed=0).fakes)


def _truth() -> dict[str, int]:
    sandbox = Sandbox(seed=0)
    truth = {name: fake.store.message_count() for name, fake in sandbox.fakes.items()}
    assert truth["convai"] == sum(convai_truth(sandbox).values())
    assert truth["cursor"] == sum(map(len, sandbox.data.cursor.values()))
    return truth


def test_the_demo_covers_the_built_ins_and_the_plugin() -> None:
    """The demo's vendors are the registry's: the three built-ins and the plugin."""
    assert VENDORS == ["convai", "talkifai", "cursor", "tokenchat"]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening any socket fails: the demo must run in process."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        msg = "the demo opened a socket"
        raise AssertionError(msg)

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_demo_writes_every_message_once_into_both_files(tmp_path: Path) -> None:
    """--json reports per vendor; SQLite and each JSONL hold the sandbox's messages once."""
    result = invoke("demo", "--out", "out", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    truth = _truth()
    assert summary["ok"] is True
    assert summary["directory"] == "out"
    assert [item["provider"] for item in summary["providers"]] == VENDORS
    for item in summary["providers"]:
        vendor = item["provider"]
        assert item["messages"] == item["sandbox_messages"] == truth[vendor]
        assert item["sqlite_messages"] == item["jsonl_messages"] == truth[vendor]
        assert item["files"] == ["history.db", f"{vendor}.jsonl"]
        assert item["failures"] == []
        records = jsonl_records(tmp_path / "out" / f"{vendor}.jsonl")
        assert len({(r["conversation_id"], r["id"]) for r in records}) == truth[vendor]
    keys = sqlite_keys(tmp_path / "out" / "history.db")
    assert len(keys) == len(set(keys))
    assert Counter(provider for provider, _, _ in keys) == truth


def test_demo_retries_the_sandboxs_errors() -> None:
    """With every third request refused (429/503), retries show and nothing is lost."""
    result = invoke("demo", "--out", "out", "--json", "--error-rate", "0.3")

    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert all(item["retries"] > 0 for item in summary["providers"])


def test_demo_defaults_to_a_directory_here_and_prints_a_table(tmp_path: Path) -> None:
    """Without --out it writes ./backscroll-demo and prints the summary table."""
    result = invoke("demo", "--error-rate", "0")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "backscroll-demo" / "history.db").is_file()
    for vendor in VENDORS:
        assert (tmp_path / "backscroll-demo" / f"{vendor}.jsonl").is_file()
        assert re.search(
            rf"^ {vendor} +[\d,]+ +[\d,]+ +0 +[\d.]+ s +{vendor}\.jsonl +✓",
            result.stdout,
            re.MULTILINE,
        )
    for header in ("provider", "conversations", "messages", "retries", "time"):
        assert header in result.stdout
    assert "writing into backscroll-demo/" in result.stderr


def test_demo_rerun_replaces_its_files() -> None:
    """A second demo in the same directory starts afresh: the same counts, not doubled."""
    invoke("demo", "--out", "out", "-q")
    again = invoke("demo", "--out", "out", "--json", "-q")

    assert again.exit_code == 0
    assert again.stderr == ""
    truth = _truth()
    assert all(
        item["jsonl_messages"] == item["messages"] == truth[item["provider"]]
        for item in json.loads(again.stdout)["providers"]
    )


def test_demo_progress_off_a_terminal_is_a_line_per_stage() -> None:
    """Without a terminal, the demo's progress is one plain line per migration, no ANSI."""
    result = invoke("demo", "--out", "out")

    lines = result.stderr.splitlines()
    assert lines[0] == "The sandbox runs in this process; writing into out/"
    stages = [
        f"{vendor} → {target}" for vendor in VENDORS for target in ("history.db", f"{vendor}.jsonl")
    ]
    assert [line.partition(":")[0] for line in lines[1:]] == [f"✓ {stage}" for stage in stages]
    assert "\x1b[" not in result.output


def test_demo_progress_on_a_terminal_is_bars() -> None:
    """On a terminal (as rich sees it) the demo draws bars."""
    result = invoke("demo", "--out", "out", env={"TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"})

    assert result.exit_code == 0, result.output
    assert "━" in result.stderr
