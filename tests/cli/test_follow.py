"""``backscroll follow``: messages as they come, one JSON object per line, resumable."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .running import Served, assert_usage_error, invoke, vendor_args

if TYPE_CHECKING:
    from pathlib import Path

CID = "con_9s2kd81"


def _since(served: Served, back: int) -> str:
    created_at: str = served.sandbox.data.cursor[CID][-back]["created_at"]
    return created_at


def test_follow_prints_each_message_as_one_json_line(served: Served) -> None:
    """--json prints one to_dict object per line, oldest first, and --count ends the run."""
    result = invoke(
        "follow",
        *vendor_args(served, "cursor"),
        "--id",
        CID,
        "--since",
        _since(served, 2),
        "--count",
        "2",
        "--json",
        env=served.env,
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["msg_92kd82", "msg_18dk03"]


def test_follow_prints_readable_lines_without_json(served: Served) -> None:
    """Without --json each message is one line: time, conversation, role and text."""
    result = invoke(
        "follow",
        *vendor_args(served, "cursor"),
        "--id",
        CID,
        "--since",
        _since(served, 1),
        "--count",
        "1",
        env=served.env,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "2026-03-15T14:00:01+00:00 con_9s2kd81 assistant: "
        "Sure, you had 12 inbound and 5 outbound calls today.\n"
    )


def test_follow_resumes_from_the_state_file(served: Served, tmp_path: Path) -> None:
    """A rerun with the same --state prints what follows, nothing twice, nothing skipped."""
    state = tmp_path / "follow.json"
    common = [*vendor_args(served, "cursor"), "--json", "--state", str(state)]
    first = invoke(
        "follow", *common, "--id", CID, "--since", _since(served, 3), "--count", "2",
        env=served.env,
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    second = invoke("follow", *common, "--count", "1", env=served.env)
    assert second.exit_code == 0, second.output
    ids = [json.loads(line)["id"] for line in (first.stdout + second.stdout).splitlines()]
    since = _since(served, 3)
    records = served.sandbox.data.cursor[CID]
    expected = [m["id"] for m in records if m["created_at"] >= since][:3]
    assert ids == expected
    assert json.loads(state.read_text())["version"] == 1


def test_follow_needs_a_conversation(served: Served) -> None:
    """Without --id or a state file naming some, follow is a usage error naming --id."""
    result = invoke("follow", *vendor_args(served, "cursor"), env=served.env)
    assert_usage_error(result, "--id")


def test_follow_refuses_an_export_as_source(tmp_path: Path) -> None:
    """Follow reads a vendor; a jsonl: export is refused with exit status 2."""
    export = tmp_path / "x.jsonl"
    export.write_text("")
    result = invoke("follow", f"jsonl:{export}", "--id", "a")
    assert_usage_error(result, "vendor")


def test_follow_refuses_a_state_file_it_did_not_write(served: Served, tmp_path: Path) -> None:
    """A --state file of another shape is refused, not overwritten."""
    state = tmp_path / "follow.json"
    state.write_text('{"something": "else"}')
    result = invoke(
        "follow", *vendor_args(served, "cursor"), "--id", CID, "--state", str(state),
        env=served.env,
    )  # fmt: skip
    assert_usage_error(result, "--state")
    assert state.read_text() == '{"something": "else"}'


def test_sandbox_serve_refuses_a_bad_grow_flag() -> None:
    """Sandbox serve --grow with a bad spec is a usage error, before serving."""
    result = invoke("sandbox", "serve", "--grow", "nope")
    assert_usage_error(result, "--grow")
