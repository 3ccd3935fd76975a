"""shard_of: a stable partition of conversation ids across machines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backscroll import ConfigurationError, shard_of


@given(ids=st.lists(st.text(min_size=1), min_size=1, max_size=50), n=st.integers(1, 64))
def test_every_id_is_in_exactly_one_shard(ids: list[str], n: int) -> None:
    """Shards 0..n-1 split any set of ids without overlap or gap."""
    shards: list[set[str]] = [set() for _ in range(n)]
    for conversation_id in ids:
        shards[shard_of(conversation_id, n)].add(conversation_id)
    assert set().union(*shards) == set(ids)
    assert sum(len(s) for s in shards) == len(set(ids))


def test_one_shard_holds_everything() -> None:
    """With n=1 every conversation is in shard 0."""
    assert {shard_of(f"c{i}", 1) for i in range(100)} == {0}


def test_the_hash_is_stable_across_processes() -> None:
    """Another interpreter (another hash seed) computes the same shards: no hash()."""
    ids = ["con_9s2kd81", "c1234567890aba1111222233334447862", "ü-ñ-✓"]
    here = [shard_of(i, 7) for i in ids]
    code = f"from backscroll import shard_of; print([shard_of(i, 7) for i in {ids!r}])"
    there = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    assert there.strip() == str(here)


def test_known_values_do_not_drift() -> None:
    """The partition is part of the contract: these values must never change."""
    known = [0, 0, 2, 0, 1, 0, 0, 0, 3, 0, 1, 3, 2, 0, 0, 3]
    assert [shard_of(f"conversation-{i}", 4) for i in range(16)] == known


def test_shards_are_roughly_even() -> None:
    """10,000 ids spread over 8 shards within 10% of the mean."""
    counts = [0] * 8
    for i in range(10_000):
        counts[shard_of(f"session-{i}", 8)] += 1
    assert all(1125 <= count <= 1375 for count in counts)


@pytest.mark.parametrize(
    ("conversation_id", "n"), [("", 2), (None, 2), ("c", 0), ("c", -1), ("c", True)]
)
def test_bad_arguments_are_configuration_errors(conversation_id: object, n: object) -> None:
    """An empty id or a shard count below one is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        shard_of(conversation_id, n)  # type: ignore[arg-type]
