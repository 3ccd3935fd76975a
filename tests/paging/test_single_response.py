"""The single-response pager yields every record once, sorted stably by time, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backscroll import Message, Role
from backscroll._paging import _SINGLE_RESPONSE_BATCH, micros, single_response

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll import Order

pytestmark = pytest.mark.anyio

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
aware = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - made aware below
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
).map(lambda at: at.replace(tzinfo=UTC))


@given(aware)
def test_micros_is_exact_both_ways(at: datetime) -> None:
    """A time as micros and back is the same time, to the microsecond, years 1 to 9999."""
    assert EPOCH + timedelta(microseconds=1) * micros(at) == at


@given(aware, aware)
def test_micros_keeps_the_order_of_times(a: datetime, b: datetime) -> None:
    """Earlier times have smaller micros, equal times equal ones."""
    assert (micros(a) < micros(b)) == (a < b)
    assert (micros(a) == micros(b)) == (a == b)


def _message(record: tuple[int, int], at: datetime) -> Message:
    index, _ = record
    return Message(
        id=str(index),
        conversation_id="c",
        role=Role.USER,
        content="",
        created_at=at,
        provider="p",
    )


async def _read(records: list[tuple[int, int]], order: Order) -> list[list[Message]]:
    """Every batch the pager yields for *records* (index, time in seconds)."""

    async def fetch() -> tuple[Sequence[tuple[int, int]], Sequence[int]]:
        return records, [micros(EPOCH + timedelta(seconds=t)) for _, t in records]

    def read(group: Sequence[tuple[int, int]], at: datetime) -> list[Message]:
        assert all(EPOCH + timedelta(seconds=t) == at for _, t in group)
        return [_message(record, at) for record in group]

    return [list(batch) async for batch in single_response(fetch, read, order)]


@pytest.mark.parametrize("order", ["asc", "desc"])
@given(times=st.lists(st.integers(min_value=0, max_value=50), max_size=400))
async def test_every_record_once_in_stable_time_order(order: Order, times: list[int]) -> None:
    """Each record once; sorted by time, ties in the vendor's order (reversed newest first)."""
    records = list(enumerate(times))
    batches = await _read(records, order)
    got = [int(m.id) for batch in batches for m in batch]
    expected = [index for index, _ in sorted(records, key=lambda r: r[1])]
    if order == "desc":
        expected.reverse()
    assert got == expected


@given(times=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=600))
async def test_batches_are_whole_groups_of_about_a_page(times: list[int]) -> None:
    """A batch ends at a group's end, past the batch size by less than one group."""
    records = list(enumerate(times))
    batches = await _read(records, "asc")
    largest_group = max(times.count(t) for t in set(times))
    for batch in batches[:-1]:
        assert _SINGLE_RESPONSE_BATCH <= len(batch) < _SINGLE_RESPONSE_BATCH + largest_group
        assert batch[-1].created_at != batches[batches.index(batch) + 1][0].created_at
    assert len(batches[-1]) > 0
