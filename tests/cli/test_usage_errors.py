"""Bad input is one line on stderr with status 2, before anything is read; never a traceback."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import CURSOR_API_KEY

from .running import assert_usage_error, invoke

if TYPE_CHECKING:
    from pathlib import Path

KEY = {"EXAMPLE_AI_API_KEY": CURSOR_API_KEY}
CASES: dict[str, tuple[str, dict[str, str], list[str]]] = {
    "unknown-provider": ("export slack --out x.jsonl", {}, ["unknown source 'slack'"]),
    "jsonl-without-path": ("migrate jsonl --to sqlite:x.db", {}, ["unknown source"]),
    "jsonl-empty-path": ("migrate jsonl: --to sqlite:x.db", {}, ["needs the export's path"]),
    "unreadable-export": (
        "migrate jsonl:nope.jsonl --to sqlite:x.db",
        {},
        ["cannot read the JSONL export nope.jsonl"],
    ),
    "missing-cursor-key": (
        "export cursor --id c --out x.jsonl",
        {},
        ["cursor needs an API key", "EXAMPLE_AI_API_KEY"],
    ),
    "missing-talkifai-token": (
        "export talkifai --id c --out x.jsonl",
        {},
        ["talkifai needs a token", "TALKIFAI_TOKEN"],
    ),
    "missing-convai-key": (
        "export convai --character-id c --out x.jsonl",
        {},
        ["convai needs an API key", "CONVAI_API_KEY"],
    ),
    "missing-character": (
        "export convai --api-key k --out x.jsonl",
        {},
        ["convai needs a character", "CONVAI_CHARACTER_ID"],
    ),
    "cursor-needs-ids": (
        "export cursor --out x.jsonl",
        KEY,
        ["cursor cannot list", "--id", "--ids-file"],
    ),
    "talkifai-needs-ids": ("export talkifai --out x.jsonl --token t", {}, ["talkifai cannot list"]),
    "token-for-cursor": (
        "export cursor --id c --token t --out x.jsonl",
        KEY,
        ["--token does not apply to cursor", "--api-key"],
    ),
    "key-for-talkifai": (
        "export talkifai --id c --api-key k --out x.jsonl",
        {},
        ["--api-key does not apply to talkifai", "--token"],
    ),
    "character-for-cursor": (
        "export cursor --id c --character-id x --out x.jsonl",
        KEY,
        ["--character-id does not apply to cursor"],
    ),
    "base-url-for-jsonl": (
        "migrate jsonl:in.jsonl --base-url http://127.0.0.1:1 --to sqlite:x.db",
        {},
        ["--base-url does not apply to jsonl:in.jsonl"],
    ),
    "plain-http-base-url": (
        "export cursor --id c --out x.jsonl --base-url http://example.com/v1",
        KEY,
        ["http"],
    ),
    "unreadable-ids-file": (
        "export cursor --ids-file missing.txt --out x.jsonl",
        KEY,
        ["cannot read --ids-file missing.txt"],
    ),
    "empty-ids-file": (
        "export cursor --ids-file empty.txt --out x.jsonl",
        KEY,
        ["holds no conversation id"],
    ),
    "blank-id": ("export cursor --id ' ' --out x.jsonl", KEY, ["empty one"]),
    "shard-not-a-fraction": (
        "export cursor --id c --shard x --out x.jsonl",
        KEY,
        ["--shard takes I/N"],
    ),
    "shard-index-too-high": (
        "export cursor --id c --shard 4/4 --out x.jsonl",
        KEY,
        ["--shard 4/4", "from 0"],
    ),
    "shard-of-none": ("export cursor --id c --shard 0/0 --out x.jsonl", KEY, ["--shard 0/0"]),
    "shard-negative": (
        "export cursor --id c --shard -1/4 --out x.jsonl",
        KEY,
        ["--shard takes I/N"],
    ),
    "since-not-a-date": (
        "export cursor --id c --since yesterday --out x.jsonl",
        KEY,
        ["--since takes an ISO 8601"],
    ),
    "out-in-missing-directory": (
        "export cursor --id c --out missing/x.jsonl",
        KEY,
        ["the directory missing does not exist"],
    ),
    "out-is-a-directory": ("export cursor --id c --out .", KEY, ["is a directory"]),
    "unknown-format": ("export cursor --id c --out x.jsonl --format csv", KEY, ["--format"]),
    "checkpoint-for-training-format": (
        "export cursor --id c --out t.jsonl --format openai --checkpoint c.json",
        KEY,
        ["--checkpoint applies to JSONL and SQLite"],
    ),
    "to-without-scheme": (
        "migrate cursor --id c --to x.db",
        KEY,
        ["--to takes sqlite:PATH or jsonl:PATH"],
    ),
    "to-unknown-scheme": ("migrate cursor --id c --to postgres:x", KEY, ["--to takes"]),
    "to-in-missing-directory": (
        "migrate cursor --id c --to sqlite:missing/x.db",
        KEY,
        ["the directory missing does not exist"],
    ),
    "checkpoint-in-missing-directory": (
        "migrate cursor --id c --to sqlite:x.db --checkpoint missing/c.json",
        KEY,
        ["--checkpoint", "does not exist"],
    ),
    "checkpoint-is-target": (
        "migrate cursor --id c --to sqlite:x.db --checkpoint x.db",
        KEY,
        ["is the target itself"],
    ),
    "delete-after-for-cursor": (
        "migrate cursor --id c --to sqlite:x.db --delete-after",
        KEY,
        ["--delete-after", "only convai"],
    ),
    "source-is-target": (
        "migrate jsonl:in.jsonl --to jsonl:in.jsonl",
        {},
        ["both the source and the target"],
    ),
    "jsonl-target-without-checkpoint": (
        "migrate jsonl:in.jsonl --to jsonl:full.jsonl",
        {},
        ["already holds messages", "--checkpoint"],
    ),
    "serve-non-loopback": ("sandbox serve --host 0.0.0.0", {}, ["refusing to serve", "loopback"]),
    "serve-faults-over-one": ("sandbox serve --error-rate 0.8 --drop-rate 0.5", {}, ["add up to"]),
    "serve-bad-log-level": ("sandbox serve --log-level loud", {}, ["--log-level"]),
    "demo-out-is-a-file": ("demo --out full.jsonl", {}, ["cannot write the demo into full.jsonl"]),
}


@pytest.fixture(autouse=True)
def files(tmp_path: Path) -> None:
    """The files some cases name: an empty ids file, a JSONL export, a damaged checkpoint."""
    (tmp_path / "empty.txt").write_text("# no ids here\n\n", encoding="utf-8")
    line = (
        '{"id": "m1", "conversation_id": "c1", "role": "user", "content": "hi", '
        '"created_at": null, "provider": "cursor", "sender_id": null, "token_count": null, '
        '"metadata": {}, "raw": null}\n'
    )
    (tmp_path / "in.jsonl").write_text(line, encoding="utf-8")
    (tmp_path / "full.jsonl").write_text(line, encoding="utf-8")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_with_status_2(case: str) -> None:
    """Each mistake is named in one line, with status 2 and nothing on stdout."""
    command, env, fragments = CASES[case]
    assert_usage_error(invoke(*shlex.split(command), env=env), *fragments)


def test_a_credential_given_as_a_flag_is_never_echoed() -> None:
    """A usage error after a credential flag does not print the credential."""
    secret = "sk-live-do-not-print-me"
    result = invoke(
        "export", "cursor", "--api-key", secret, "--id", "c", "--out", "x.jsonl", "--shard", "9/2"
    )

    assert_usage_error(result, "--shard")
    assert secret not in result.output


def test_a_damaged_checkpoint_is_one_line_with_status_4() -> None:
    """A checkpoint that is not JSON stops the run with one error line, status 4 (a file)."""
    result = invoke("migrate", "jsonl:in.jsonl", "--to", "sqlite:x.db", "--checkpoint", "bad.json")

    assert result.exit_code == 4
    assert result.stderr.splitlines()[-1].startswith(
        "backscroll: error: the checkpoint bad.json is damaged"
    )
    assert "Traceback" not in result.output
