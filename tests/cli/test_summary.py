"""The text summary: "up to date" when nothing is new, counts that add up."""

from __future__ import annotations

import json
import re

from .running import Served, invoke, vendor_args


def test_a_rerun_with_nothing_new_says_up_to_date(served: Served) -> None:
    """The second run says "up to date" and how many conversations it checked."""
    args = ["migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db", "-q"]
    first = invoke(*args, env=served.env)
    assert first.exit_code == 0, first.output
    rerun = invoke(*args, env=served.env)
    assert rerun.exit_code == 0, rerun.output
    conversations = len(
        served.sandbox.data.convai_sessions[next(iter(served.sandbox.data.convai_sessions))]
    )
    assert f"up to date: {conversations} conversations checked, no new message" in rerun.stdout
    assert "copied" not in rerun.stdout


def test_the_counts_in_the_summary_add_up(served: Served) -> None:
    """Messages read again to check are shown as part of those read, as --json counts them."""
    args = ["migrate", *vendor_args(served, "convai"), "--to", "sqlite:h.db"]
    assert invoke(*args, "-q", env=served.env).exit_code == 0
    text = invoke(*args, "-q", env=served.env).stdout
    report = json.loads(invoke(*args, "--json", env=served.env).stdout)
    assert report["messages_read"] == report["messages_written"] + report["messages_skipped"]
    match = re.search(r"\((\d+) of the (\d+) messages read were already there\)", text)
    assert match is not None, text
    assert int(match[1]) == int(match[2]) == report["messages_read"]
