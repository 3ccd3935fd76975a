"""The progress display as a person sees it: backscroll run in a pseudo-terminal."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import Sandbox

if TYPE_CHECKING:
    from pathlib import Path

    from .running import Served

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

#: rich's cursor movements and styles, removed to read the frames as text.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@pytest.fixture
def sandbox() -> Sandbox:
    """32 cursor conversations, of 3 to 34 messages."""
    return Sandbox(seed=0, cursor_sizes=[3 + number for number in range(32)])


def test_ids_file_progress_shows_the_known_total_from_the_first_frame(
    served: Served, tmp_path: Path
) -> None:
    """--ids-file of 32 ids: every frame counts out of 32, the ids read show, the end is 32/32."""
    ids = sorted(served.sandbox.data.cursor)[:32]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    env = {**os.environ, **served.env, "COLUMNS": "160", "LINES": "40", "TERM": "xterm"}
    for name in ("NO_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE"):
        env.pop(name, None)
    child = pexpect.spawn(
        sys.executable,
        [
            "-m", "backscroll", "migrate", "cursor", "--base-url", served.base_url("cursor"),
            "--ids-file", "ids.txt", "--to", "sqlite:h.db", "--concurrency", "2",
        ],
        cwd=str(tmp_path), env=env, encoding="utf-8", dimensions=(40, 160), timeout=120,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    seen = _ESCAPES.sub("", child.before)

    totals = re.findall(r"\d+/(\d+) conversations", seen)
    assert totals
    assert set(totals) == {"32"}  # never 2/6, 6/9, 18/22: the total is known at once
    assert "0/32 conversations" in seen
    assert "32/32 conversations" in seen
    assert any(conversation_id in seen for conversation_id in ids)  # the current one
    assert "messages" in seen
    assert f"cursor → h.db: {len(ids)} conversations copied" in seen
