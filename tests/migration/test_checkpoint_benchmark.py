"""The checkpoint benchmark runs end to end on tiny sizes (no timing is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

from backscroll._migration.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benchmarks package sits beside src/, not in it

from benchmarks import checkpoint  # noqa: E402


def test_the_benchmark_measures_every_size_and_reads_the_journal_back(tmp_path: Path) -> None:
    """Each size gets a row, and the journal it appended to reads back with its commits."""
    costs = checkpoint.main(["--smoke"])
    assert [c.conversations for c in costs] == list(checkpoint.SMOKE_SIZES)
    assert all(c.commits_per_rewrite >= 1 for c in costs)
    cost = checkpoint.measure(50, 3, tmp_path)
    assert cost.conversations == 50
    reopened = Checkpoint.open(
        tmp_path / "ckpt-50.json",
        source={"name": "bench"},
        sink={"type": "SqliteSink", "path": "/bench.db"},
    )
    assert sum(w.count for w in reopened.conversations.values()) == 50 * 40 + 3 * 8
