"""shard_of: a stable partition of conversation ids across machines."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

import backscroll
from backscroll import ConfigurationError, shard_of
from backscroll._migration.shards import check_shard
from backscroll.sinks import SqliteSink

from .fakes import MemoryProvider, sqlite_messages

if TYPE_CHECKING:
    from pathlib import Path


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


@pytest.mark.anyio
async def test_migrate_shard_splits_a_listed_account_exactly(tmp_path: Path) -> None:
    """migrate(shard=(i, n)) for every i copies each conversation once between them."""
    source = MemoryProvider.build([2] * 30)
    copied: list[str] = []
    for index in range(3):
        async with SqliteSink(tmp_path / f"shard-{index}.db") as sink:
            report = await backscroll.migrate(source, sink, shard=(index, 3))
        assert report.complete
        messages = sqlite_messages(tmp_path / f"shard-{index}.db")
        ids = sorted({m.conversation_id for m in messages})
        assert all(backscroll.shard_of(cid, 3) == index for cid in ids)
        copied.extend(ids)
    assert sorted(copied) == sorted(source.data)


@pytest.mark.anyio
async def test_migrate_shard_filters_given_ids_too(tmp_path: Path) -> None:
    """Given ids outside the shard are left out, as listed ones are."""
    source = MemoryProvider.build([1] * 12)
    async with SqliteSink(tmp_path / "out.db") as sink:
        await backscroll.migrate(source, sink, conversation_ids=list(source.data), shard=(1, 2))
    ids = {m.conversation_id for m in sqlite_messages(tmp_path / "out.db")}
    assert ids == {cid for cid in source.data if backscroll.shard_of(cid, 2) == 1}


@pytest.mark.parametrize("shard", [(2, 2), (0, 0), (-1, 3), (1,), "0/2", (True, 2)])
def test_a_bad_shard_is_a_configuration_error(shard: object) -> None:
    """shard= takes (index, count) with 0 <= index < count; anything else says so."""
    with pytest.raises(ConfigurationError, match="shard"):
        check_shard(shard)
