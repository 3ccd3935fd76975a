"""
(e) Checkpoints: the cost of a commit, from 1,000 to 1,000,000 conversations.

A checkpoint is a journal (`backscroll._migration.checkpoint`): each commit appends one
line with the watermarks it touched, and the file is written whole again once the lines
appended outweigh it. For each account size this builds a checkpoint of that many
conversations, writes it whole, then times commits that each touch a few conversations
(as a migration's commit does), with the real fsync. It reports:

- the mean time of an appending commit;
- the time of one whole rewrite, and how many commits of that size come between two;
- the amortised cost per commit: an appending commit plus its share of a rewrite.

The amortised cost is what stays flat as the account grows (a whole rewrite at every
commit, as before, grows with the account: its column is the rewrite itself).

``python -m benchmarks.checkpoint`` runs the full sizes (a minute or two, most of it
building the million watermarks); ``--smoke`` runs tiny ones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from backscroll._migration import checkpoint as checkpoint_module
from backscroll._migration.checkpoint import Checkpoint

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["CommitCost", "main", "measure"]

FULL_SIZES: Final = (1_000, 10_000, 100_000, 1_000_000)
SMOKE_SIZES: Final = (100, 1_000)
#: Conversations a commit touches: a migration at concurrency 8 finishes or advances a few.
TOUCHED: Final = 8
EPOCH: Final = datetime(2024, 9, 25, tzinfo=UTC)


@attrs.frozen
class CommitCost:
    """What a commit costs at one account size."""

    conversations: int
    append_ms: float  # mean appending commit
    rewrite_ms: float  # one whole rewrite
    commits_per_rewrite: int
    file_mib: float

    @property
    def amortised_ms(self) -> float:
        """An appending commit plus its share of the next whole rewrite."""
        return self.append_ms + self.rewrite_ms / self.commits_per_rewrite


def measure(conversations: int, commits: int, directory: Path) -> CommitCost:
    """Time *commits* commits into a checkpoint of *conversations* conversations."""
    path = directory / f"ckpt-{conversations}.json"
    checkpoint = Checkpoint.open(
        path, source={"name": "bench"}, sink={"type": "SqliteSink", "path": "/bench.db"}
    )
    for n in range(conversations):
        watermark = checkpoint.watermark(f"conversation-{n:08d}")
        watermark.at = EPOCH + timedelta(seconds=n)
        watermark.ids = {f"message-{n:08d}"}
        watermark.count = 40
        watermark.finished_pass = 1
    started = time.perf_counter()
    checkpoint.save()  # the first save writes the file whole
    rewrite = time.perf_counter() - started
    whole = path.stat().st_size
    timings = []
    appended = 0
    for commit in range(commits):
        before = path.stat().st_size
        started = time.perf_counter()
        for k in range(TOUCHED):
            n = (commit * TOUCHED + k) * 7919 % conversations  # spread over the account
            watermark = checkpoint.watermark(f"conversation-{n:08d}")
            watermark.count += 1
            watermark.at = EPOCH + timedelta(seconds=conversations + commit)
            watermark.ids = {f"message-new-{commit}-{k}"}
        checkpoint.save()
        timings.append(time.perf_counter() - started)
        appended += path.stat().st_size - before
    line = max(1, appended // commits)
    return CommitCost(
        conversations=conversations,
        append_ms=statistics.fmean(timings) * 1000,
        rewrite_ms=rewrite * 1000,
        commits_per_rewrite=max(1, max(whole, checkpoint_module.COMPACT_AFTER) // line),
        file_mib=whole / 2**20,
    )


def table(costs: Sequence[CommitCost]) -> list[str]:
    """The results as a Markdown table."""
    lines = [
        (
            "| conversations | file (MiB) | appending commit (ms) | whole rewrite (ms) "
            "| commits per rewrite | amortised per commit (ms) |"
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {c.conversations:,} | {c.file_mib:.1f} | {c.append_ms:.2f} | {c.rewrite_ms:.0f} "
        f"| {c.commits_per_rewrite:,} | {c.amortised_ms:.2f} |"
        for c in costs
    )
    return lines


def main(argv: Sequence[str] | None = None) -> list[CommitCost]:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds")
    arguments = parser.parse_args(argv)
    sizes = SMOKE_SIZES if arguments.smoke else FULL_SIZES
    commits = 20 if arguments.smoke else 200
    with tempfile.TemporaryDirectory() as directory:
        costs = [measure(size, commits, Path(directory)) for size in sizes]
    print("\n".join(table(costs)))
    return costs


if __name__ == "__main__":
    main()
