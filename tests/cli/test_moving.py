"""A database moved together with its checkpoint keeps working; moved alone, it is refused."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from .running import Served, invoke, sqlite_keys, vendor_args

if TYPE_CHECKING:
    from pathlib import Path


def _migrate(served: Served, target: str) -> str:
    result = invoke("migrate", *vendor_args(served, "convai"), "--to", target, env=served.env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_database_and_checkpoint_moved_together_resume(served: Served, tmp_path: Path) -> None:
    """Move h.db and its checkpoint to another folder: the rerun finds nothing new to copy."""
    (tmp_path / "first").mkdir()
    _migrate(served, "sqlite:first/h.db")
    before = sqlite_keys(tmp_path / "first" / "h.db")
    shutil.move(tmp_path / "first", tmp_path / "moved")

    rerun = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:moved/h.db", "--json",
        env=served.env,
    )  # fmt: skip
    assert rerun.exit_code == 0, rerun.output
    assert '"messages_written": 0' in rerun.stdout
    assert sorted(sqlite_keys(tmp_path / "moved" / "h.db")) == sorted(before)


def test_a_database_moved_without_its_checkpoint_is_refused(served: Served, tmp_path: Path) -> None:
    """Pointing the old checkpoint at a database elsewhere is still another migration's."""
    _migrate(served, "sqlite:h.db")
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "h.db", tmp_path / "elsewhere" / "h.db")
    result = invoke(
        "migrate", *vendor_args(served, "convai"), "--to", "sqlite:elsewhere/h.db",
        "--checkpoint", "h.db.convai.checkpoint.json", env=served.env,
    )  # fmt: skip
    assert result.exit_code == 4
    assert "belongs to another migration" in result.stderr
