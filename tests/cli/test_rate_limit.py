"""--rate-limit: the provider the command line opens paces itself at the given rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backscroll.cli._options import Connection, open_provider, parse_source
from backscroll.providers import HTTPProvider
from backscroll.sandbox import CURSOR_API_KEY, Faults

from .running import Served, assert_usage_error, invoke, jsonl_records, vendor_args

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_the_flag_sets_the_providers_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """--rate-limit N opens the provider with rate_limit=N; without it there is no limiter."""
    monkeypatch.setenv("EXAMPLE_AI_API_KEY", CURSOR_API_KEY)
    paced = open_provider(parse_source("cursor"), Connection(rate_limit=7.5))
    free = open_provider(parse_source("cursor"), Connection())
    assert isinstance(paced, HTTPProvider)
    assert isinstance(free, HTTPProvider)
    assert paced.rate_limiter is not None
    assert paced.rate_limiter.limit == 7.5
    assert free.rate_limiter is None


def test_an_export_under_a_quota_reads_everything(served: Served, tmp_path: Path) -> None:
    """Against a vendor quota, a paced export still copies every message exactly once."""
    served.sandbox.set_faults("cursor", Faults(quota=1000, retry_after=0))
    ids = sorted(served.sandbox.data.cursor)
    flags = [flag for conversation_id in ids for flag in ("--id", conversation_id)]
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        *flags,
        "--rate-limit",
        "500",
        "--out",
        "c.jsonl",
        env=served.env,
    )
    assert result.exit_code == 0, result.output
    truth = {r["id"] for cid in ids for r in served.sandbox.data.cursor[cid]}
    assert sorted(r["id"] for r in jsonl_records(tmp_path / "c.jsonl")) == sorted(truth)


def test_a_rate_limit_of_zero_is_a_usage_error(served: Served) -> None:
    """--rate-limit must be positive: a usage error that names the flag."""
    result = invoke(
        "export", *vendor_args(served, "cursor"), "--id", "x", "--rate-limit", "0", "--out", "o"
    )
    assert_usage_error(result, "--rate-limit")
