"""
Requests per conversation: what backscroll sends, against what an exact hand loop needs.

Counted, not timed: a count on the sandbox is deterministic, so the test suite can hold it
(tests/benchmarks/test_round_trips.py). Each conversation is read once by backscroll and
once by the hand loop below, each from a fresh `Sandbox` with the vendor documents'
readings (the sandbox's defaults, its bursts of messages sharing a second included), and
the requests are counted from the sandbox's own log (``sandbox.requests``).

The hand loop is the least a reader can send and still be exact on those readings, and
the benchmark checks it is (it must read the ground truth, each message once):

- Talkifai: ``offset += len(page)`` until a page shorter than asked; after a full page the
  next offset is at the end, where Talkifai answers its last page again (documented), so
  a page equal to the one before is the end too. One request per page of data, plus one
  when the last page is full (or the conversation empty): ``n // 100 + 1``;
- cursor API: ``after=`` one second before the last timestamp read, the repeats removed
  by id, until ``has_more`` is false. ``after=`` is exclusive and timestamps are whole
  seconds, so a loop that follows ``next_cursor`` (the last timestamp itself) loses the
  rest of any burst a page boundary cuts; the one-second overlap is the price of exact,
  and it makes a page of 100 bring fewer than 100 new messages where the boundary falls
  in a burst. About ``ceil(n / 100)``, a little more with bursts: counted, not assumed.

What backscroll sends beyond that, on these readings, and why each is needed, is in
docs/benchmarks.md (section "Requests per conversation").
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import anyio
import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from backscroll.sandbox import Sandbox

__all__ = ["SIZES", "VENDORS", "RequestCount", "count", "run"]

VENDORS: Final = ("talkifai", "cursor")
#: Conversation sizes: empty, one, either side of one page and of two, and larger ones.
SIZES: Final = (0, 1, 99, 100, 101, 199, 200, 250, 500, 1000, 2000)
PAGE: Final = 100  # both vendors' maximum, backscroll's default
_ONE_SECOND: Final = timedelta(seconds=1)


@attrs.frozen
class RequestCount:
    """The requests one conversation took, by backscroll and by the exact hand loop."""

    vendor: str
    messages: int
    backscroll: int
    minimum: int  # the exact hand loop's
    #: backscroll's requests that were one-message probes (the cursor API's side check).
    probes: int

    @property
    def extra(self) -> int:
        """Requests beyond the minimum."""
        return self.backscroll - self.minimum


def _sandbox(vendor: str, size: int) -> tuple[Sandbox, str]:
    from backscroll.sandbox import Sandbox  # noqa: PLC0415 - the sandbox extra

    sizes: dict[str, Any] = {"convai_sizes": (), "talkifai_sizes": (), "cursor_sizes": ()}
    sizes[f"{vendor}_sizes"] = (size,)
    sandbox = Sandbox(seed=0, **sizes)
    return sandbox, list(getattr(sandbox.data, vendor))[-1]


def _truth(sandbox: Sandbox, vendor: str, conversation_id: str) -> list[Any]:
    records = getattr(sandbox.data, vendor)[conversation_id]
    if vendor == "talkifai":
        return [(r["timestamp"], r["role"], r["content"]) for r in records]
    return [r["id"] for r in records]


async def _backscroll(vendor: str, size: int) -> tuple[int, int]:
    sandbox, conversation_id = _sandbox(vendor, size)
    async with sandbox.provider(vendor) as provider:
        read = [m async for m in provider.messages(conversation_id)]
    if len(read) != size:
        msg = f"backscroll read {len(read)} of {size} {vendor} messages"
        raise AssertionError(msg)
    limits = [parse_qs(r.query).get("limit", [""])[0] for r in sandbox.requests]
    return len(sandbox.requests), limits.count("1")


async def _hand_talkifai(client: httpx.AsyncClient, conversation_id: str) -> list[Any]:
    from backscroll.sandbox import TALKIFAI_TOKEN  # noqa: PLC0415 - the sandbox extra

    where = f"/talkifai/v1/chat/sessions/{conversation_id}/messages"
    headers = {"Authorization": f"Bearer {TALKIFAI_TOKEN}"}
    read: list[Any] = []
    offset, previous = 0, None
    while True:
        params = {"limit": PAGE, "offset": offset}
        response = await client.get(where, params=params, headers=headers)
        response.raise_for_status()
        page = response.json()["messages"]
        if page == previous:
            return read  # the documented answer past the end: the last page again
        read.extend((m["timestamp"], m["role"], m["content"]) for m in page)
        if len(page) < PAGE:
            return read
        previous, offset = page, offset + len(page)


async def _hand_cursor(client: httpx.AsyncClient, conversation_id: str) -> list[Any]:
    from backscroll.sandbox import CURSOR_API_KEY  # noqa: PLC0415 - the sandbox extra

    headers = {"Authorization": f"Bearer {CURSOR_API_KEY}"}
    read: list[Any] = []
    seen: set[str] = set()
    after = "1970-01-01T00:00:00Z"
    while True:
        params = {"conversation_id": conversation_id, "limit": str(PAGE), "after": after}
        response = await client.get("/cursor/v1/chat/history", params=params, headers=headers)
        response.raise_for_status()
        body = response.json()
        page = sorted(body["data"]["messages"], key=lambda m: m["created_at"])
        fresh = [m["id"] for m in page if m["id"] not in seen]
        read.extend(fresh)
        seen.update(fresh)
        if not body["pagination"]["has_more"]:
            return read
        last = datetime.fromisoformat(page[-1]["created_at"]).astimezone(UTC)
        after = (last - _ONE_SECOND).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _hand(vendor: str, size: int) -> int:
    sandbox, conversation_id = _sandbox(vendor, size)
    loop = _hand_talkifai if vendor == "talkifai" else _hand_cursor
    async with sandbox.client() as client:
        read = await loop(client, conversation_id)
    # Within one second the cursor API lists newest first: compare as sets, and once each.
    truth = _truth(sandbox, vendor, conversation_id)
    exact = read == truth if vendor == "talkifai" else sorted(read) == sorted(truth)
    if not exact or len(set(read)) != len(read):
        msg = f"the hand loop did not read the {size} {vendor} messages exactly"
        raise AssertionError(msg)
    return len(sandbox.requests)


def count(vendor: str, size: int) -> RequestCount:
    """Requests for one conversation of *size* messages, by backscroll and by the hand loop."""
    backscroll, probes = anyio.run(_backscroll, vendor, size)
    return RequestCount(
        vendor=vendor,
        messages=size,
        backscroll=backscroll,
        minimum=anyio.run(_hand, vendor, size),
        probes=probes,
    )


def run(*, sizes: Sequence[int] = SIZES, vendors: Sequence[str] = VENDORS) -> list[RequestCount]:
    """Count each vendor's requests over *sizes*, oldest first at the default page size."""
    return [count(vendor, size) for vendor in vendors for size in sizes]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.round_trips [--sizes 0,1,99,...]``."""
    parser = argparse.ArgumentParser(description="Requests per conversation.")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    for row in run(sizes=sizes):
        print(
            f"{row.vendor:9} {row.messages:6,} messages: backscroll {row.backscroll:3} "
            f"(probes {row.probes}), exact hand loop {row.minimum:3}, extra {row.extra}"
        )


if __name__ == "__main__":
    main()
