"""
Requests per conversation stay within one of what an exact hand loop needs (issue 15.6).

A count on the sandbox is deterministic, so unlike the timings it is asserted here, over
a spread of sizes rather than one that happens to be a multiple of the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benchmarks package sits beside src/, not in it

from benchmarks import export, round_trips  # noqa: E402


@pytest.mark.parametrize("vendor", round_trips.VENDORS)
def test_backscroll_sends_at_most_one_request_more_than_an_exact_hand_loop(vendor: str) -> None:
    """On the documented readings, every size of the spread costs the minimum or one more."""
    rows = round_trips.run(vendors=(vendor,))
    assert [r.messages for r in rows] == list(round_trips.SIZES)
    assert all(0 <= r.extra <= 1 for r in rows), [(r.messages, r.extra) for r in rows]


@pytest.mark.parametrize(
    ("vendor", "size", "extra", "probes"),
    [
        ("talkifai", 0, 0, 0),
        ("talkifai", 50, 1, 0),  # a short first page: a capped limit is told from the end
        ("talkifai", 100, 0, 0),
        ("talkifai", 199, 1, 0),  # the overlap: the second page brings 99 new messages
        ("talkifai", 500, 0, 0),
        ("cursor", 100, 0, 0),  # one page that says has_more: false needs no probe
        ("cursor", 101, 1, 1),  # more than a page: the one-message side probe
        ("cursor", 1000, 1, 1),
    ],
)
def test_the_extra_request_is_the_one_the_docs_name(
    vendor: str, size: int, extra: int, probes: int
) -> None:
    """Where backscroll sends one more, it is the check docs/benchmarks.md says it is."""
    row = round_trips.count(vendor, size)
    assert (row.extra, row.probes) == (extra, probes)


@pytest.mark.parametrize("vendor", round_trips.VENDORS)
def test_the_export_ideal_counts_no_more_round_trips_than_an_exact_hand_loop(vendor: str) -> None:
    """(b)'s ideal is the page floor: Talkifai's exact loop exactly, never above the cursor's."""
    for row in round_trips.run(vendors=(vendor,), sizes=(0, 1, 100, 101, 250, 500)):
        floor = export.needed(vendor, row.messages)
        if vendor == "talkifai":
            assert floor == row.minimum
        else:
            assert floor <= row.minimum <= floor + 1
