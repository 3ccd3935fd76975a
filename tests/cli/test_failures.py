"""How a run fails: one exit status per kind, JSON with --json, no file left behind."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import CURSOR_API_KEY

from .running import Served, assert_usage_error, invoke, vendor_args

if TYPE_CHECKING:
    from pathlib import Path


def test_json_on_a_usage_error_prints_the_error_as_json() -> None:
    """--json with an unknown source: a JSON object naming the error on stdout, status 2."""
    result = invoke("export", "nope", "--out", "x.jsonl", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UsageError"
    assert error["exit_status"] == 2
    assert "unknown source 'nope'" in error["message"]
    assert result.stderr.startswith("backscroll: error: unknown source")


def test_json_on_a_bad_flag_prints_the_error_as_json() -> None:
    """--json with a flag the command lacks: still a JSON object, from typer's own error."""
    result = invoke("export", "cursor", "--out", "x.jsonl", "--json", "--bogus")
    assert result.exit_code == 2
    assert "--bogus" in json.loads(result.stdout)["error"]["message"]


def test_json_on_a_failed_run_prints_the_error_as_json(served: Served) -> None:
    """A vendor that fails the whole run (a refused credential on listing): JSON, status 3."""
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--api-key", "wrong", "--to", "sqlite:h.db",
        "--json", env=served.env,
    )  # fmt: skip
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error == {
        "type": "AuthenticationError",
        "message": error["message"],
        "exit_status": 3,
    }
    assert "pass --api-key or set CONVAI_API_KEY" in error["message"]
    assert "wrong" not in error["message"].replace("wrong'", "")


def test_without_json_a_failure_leaves_stdout_empty() -> None:
    """The JSON error is for --json only: without it stdout stays clean."""
    result = invoke("export", "nope", "--out", "x.jsonl")
    assert_usage_error(result, "unknown source")


def test_a_training_format_does_not_overwrite_without_force(served: Served, tmp_path: Path) -> None:
    """Exporting --format openai onto an existing file is refused; --force replaces it."""
    out = tmp_path / "train.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    args = [
        "export", *vendor_args(served, "cursor"), "--id", "con_9s2kd81", "--format", "openai",
        "--out", str(out),
    ]  # fmt: skip
    refused = invoke(*args, env=served.env)
    assert_usage_error(refused, "exists", "--force")
    assert out.read_text(encoding="utf-8") == "keep me\n"

    forced = invoke(*args, "--force", env=served.env)
    assert forced.exit_code == 0, forced.output
    assert "messages" in json.loads(out.read_text(encoding="utf-8").splitlines()[0])


def test_a_read_only_folder_names_the_permission(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the user cannot write: "permission denied", the folder, status 4, no traceback."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    writable = os.access

    def access(path: object, mode: int, **options: object) -> bool:
        if str(path) == str(folder):
            return False  # as chmod 555 does, for a user that is not root
        return writable(path, mode, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    for args in (
        ["migrate", *vendor_args(served, "convai"), "--to", f"sqlite:{folder}/h.db"],
        ["migrate", *vendor_args(served, "convai"), "--to", f"jsonl:{folder}/h.jsonl"],
        ["export", *vendor_args(served, "convai"), "--format", "openai", "--out", f"{folder}/t"],
        ["migrate", "convai", "--to", "sqlite:h.db", "--checkpoint", f"{folder}/c.json"],
    ):
        result = invoke(*args, env=served.env)
        assert_usage_error(result, "permission denied", str(folder), status=4)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("vendor", "base_url", "conversation_id", "status"),
    [
        ("cursor", None, "con_9s2kd81", 3),  # 401: a wrong key
        ("cursor", "http://127.0.0.1:9/v1", "con_9s2kd81", 1),  # unreachable
        ("cursor", None, "con_missing", 1),  # 404
    ],
    ids=["401", "unreachable", "404"],
)
@pytest.mark.parametrize("target", ["sqlite:h.db", "jsonl:h.jsonl"])
def test_a_run_that_copies_nothing_leaves_no_file_behind(  # noqa: PLR0917 - parametrized
    served: Served,
    tmp_path: Path,
    vendor: str,
    base_url: str | None,
    conversation_id: str,
    status: int,
    target: str,
) -> None:
    """A run that fails before writing a message leaves no empty target or checkpoint."""
    key = "wrong" if status == 3 else CURSOR_API_KEY
    result = invoke(
        "migrate", vendor, "--base-url", base_url or served.base_url(vendor), "--api-key", key,
        "--max-retries", "0", "--id", conversation_id, "--to", target,
    )  # fmt: skip
    assert result.exit_code == status, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == []
    assert "no new file was left behind" in result.stdout


def test_a_failed_rerun_keeps_the_files_of_the_run_before(served: Served, tmp_path: Path) -> None:
    """Files that existed before the run are never removed, even if this run copies nothing."""
    args = ["migrate", *vendor_args(served, "cursor"), "--id", "con_9s2kd81", "--to", "sqlite:h.db"]
    assert invoke(*args, env=served.env).exit_code == 0
    before = sorted(path.name for path in tmp_path.iterdir())
    result = invoke(*args, "--api-key", "wrong", env=served.env)
    assert result.exit_code == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == before
