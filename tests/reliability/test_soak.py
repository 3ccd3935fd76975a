"""
The soak: many concurrent reads of every conversation through a misbehaving server.

The sandbox runs under uvicorn on 127.0.0.1 with faults on for every vendor (429 with
``Retry-After`` in seconds and as an HTTP-date, 500/502/503, connections dropped before
and mid-body, slow bodies, mislabelled content types, latency). One provider per vendor,
shared by all the reads, reads each conversation in both orders and at several page
sizes, all at once in one task group. Every read must match the ground truth exactly
(each message once, in order), and at the end no connection, stream, task or generator
may be left. It is bounded: a fixed set of reads, at most `MAX_REQUESTS` requests and
`MAX_SECONDS` seconds.

Marked ``soak``: the quick run leaves it out (``-m "not soak"``), ``nox -s soak`` runs it.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import httpx
import pytest

import backscroll.testing
from backscroll import ConvaiProvider, CursorProvider, TalkifaiProvider
from backscroll.sandbox import (
    CONVAI_API_KEY,
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    TALKIFAI_TOKEN,
    Faults,
    Sandbox,
)

from .conftest import StreamTracker, leaks, suspended_generators, task_ids

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from backscroll import Message
    from backscroll._provider import HTTPProvider

pytestmark = [pytest.mark.anyio, pytest.mark.soak]

Job: TypeAlias = "Callable[[], Coroutine[Any, Any, None]]"

MAX_REQUESTS: Final = 2_000
MAX_SECONDS: Final = 120.0
#: Enough that a request failing every attempt is unlikely (about 0.3**11 each).
MAX_RETRIES: Final = 10


def survivable(*, seed: int, **retry_after: Any) -> Faults:
    """
    Every fault that a retry survives, often.

    Truncated JSON and HTML pages with status 200 are left out on purpose: they are not
    retried (a 200 is an answer), so they end a read with a ResponseFormatError; the fuzz
    tests cover them.
    """
    return Faults(
        rate=0.15,
        statuses={429: 3, 500: 1, 502: 1, 503: 2},
        drop=0.05,
        slow=0.05,
        slow_chunks=3,
        slow_delay=0.005,
        wrong_content_type=0.05,
        latency=0.002,
        seed=seed,
        **retry_after,
    )


FAULTS: Final = {
    # Retry-After in seconds: the sandbox announces a short wait, honoured as sent.
    "talkifai": survivable(seed=11, retry_after=0.05),
    "cursor": survivable(seed=12, retry_after=0.05),
    # As an HTTP-date, whole seconds: 0 says "now", so the wait stays short.
    "convai": survivable(seed=13, retry_after=0, retry_after_format="http-date"),
}
#: What each provider's client allows an attempt. The retries' waits are off
#: (backscroll.testing), so the soak tests what is retried, not how long it waits.
SOAK_TIMEOUT: Final = httpx.Timeout(10.0)

Row = tuple[str, datetime]


def truth(sandbox: Sandbox, vendor: str, conversation_id: str) -> list[Row]:
    """The ground truth of a conversation, oldest first: text and instant of each message."""
    data = sandbox.data
    if vendor == "talkifai":
        return [
            (r["content"], datetime.fromisoformat(r["timestamp"]))
            for r in data.talkifai[conversation_id]
        ]
    if vendor == "cursor":
        rows = [
            (r["id"], datetime.fromisoformat(r["created_at"])) for r in data.cursor[conversation_id]
        ]
        # The provider orders by time (stably, so a burst keeps the vendor's order).
        return sorted(rows, key=lambda r: r[1])
    return [
        (entry["message"], datetime.fromisoformat(i["timestamp"] + "+00:00"))
        for i in data.convai_interactions[conversation_id]
        for entry in i["interaction"]
    ]


def row(vendor: str, message: Message) -> Row:
    assert message.created_at is not None
    return (message.id if vendor == "cursor" else message.content, message.created_at)


class Soak:
    """The reads to make, what each one got, and the failures."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.reads = 0
        self.messages = 0
        self.failures: list[str] = []

    async def read(  # noqa: PLR0917 - one argument per dimension of a read
        self,
        provider: HTTPProvider,
        vendor: str,
        conversation_id: str,
        order: str,
        size: int | None,
        window: bool,
    ) -> None:
        """Read one conversation (or its middle half); record a mismatch with the truth."""
        want = truth(self.sandbox, vendor, conversation_id)
        since: datetime | None = None
        until: datetime | None = None
        if window and len(want) >= 4:  # a quarter of the conversation is a message or more
            since, until = want[len(want) // 4][1], want[3 * len(want) // 4][1]
            want = [r for r in want if since <= r[1] < until]
        if order == "desc":
            want.reverse()
        got = [
            m
            async for m in provider.messages(
                conversation_id,
                order=order,  # type: ignore[arg-type]
                page_size=size,
                since=since,
                until=until,
            )
        ]
        rows = [row(vendor, m) for m in got]
        self.reads += 1
        self.messages += len(got)
        what = f"{vendor} {conversation_id} {order}, page_size={size}, window={window}"
        if len({m.id for m in got}) != len(got):
            self.failures.append(f"{what}: an id came twice")
        if rows != want:
            self.failures.append(f"{what}: read {len(rows)} messages, expected {len(want)}")

    async def list_sessions(self, provider: Any) -> None:
        """Convai's session list, in its order."""
        got = [c.id async for c in provider.conversations()]
        want = [s["sessionID"] for s in self.sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]]
        self.reads += 1
        if got != want:
            self.failures.append(f"convai list: {got} != {want}")


def jobs(soak: Soak, providers: dict[str, HTTPProvider]) -> list[Job]:
    """
    Every conversation of every vendor, both orders, several page sizes, and a window.

    Plus Convai's session list.
    """
    data = soak.sandbox.data
    conversations = {
        "convai": list(data.convai_interactions),
        "talkifai": list(data.talkifai),
        "cursor": list(data.cursor),
    }
    page_sizes: dict[str, list[int | None]] = {
        "convai": [None],
        "talkifai": [None, 30, 9],
        "cursor": [None, 30, 9],
    }
    found: list[Job] = [functools.partial(soak.list_sessions, providers["convai"])]
    for vendor, ids in conversations.items():
        for conversation_id in ids:
            for order in ("asc", "desc"):
                reads = [(size, False) for size in page_sizes[vendor]] + [(None, True)]
                found.extend(
                    functools.partial(
                        soak.read, providers[vendor], vendor, conversation_id, order, size, window
                    )
                    for size, window in reads
                )
    return found


async def test_soak_every_read_exactly_once_through_faults() -> None:
    """Concurrent reads of all three vendors through survivable faults are all exact."""
    sandbox = Sandbox(seed=0, faults=FAULTS)
    soak = Soak(sandbox)
    started = time.perf_counter()
    backscroll.testing.set_testing(True)  # retries without waits; reset by the autouse fixture
    # Our own clients, so that the test watches their streams without reaching inside.
    own = [httpx.AsyncClient(timeout=SOAK_TIMEOUT, trust_env=False) for _ in range(3)]
    async with own[0], own[1], own[2], sandbox.serving() as url:
        convai = ConvaiProvider(
            api_key=CONVAI_API_KEY,
            character_id=CONVAI_CHARACTER_ID,
            base_url=f"{url}/convai",
            http_client=own[0],
            max_retries=MAX_RETRIES,
        )
        talkifai = TalkifaiProvider(
            token=TALKIFAI_TOKEN,
            base_url=f"{url}/talkifai",
            http_client=own[1],
            max_retries=MAX_RETRIES,
        )
        cursor = CursorProvider(
            api_key=CURSOR_API_KEY,
            base_url=f"{url}/cursor/v1",
            http_client=own[2],
            max_retries=MAX_RETRIES,
        )
        providers: dict[str, HTTPProvider] = {
            "convai": convai,
            "talkifai": talkifai,
            "cursor": cursor,
        }
        clients = [(client, StreamTracker.install(client)) for client in own]
        tasks, generators = task_ids(), suspended_generators()
        with anyio.fail_after(MAX_SECONDS):
            async with anyio.create_task_group() as group:
                for job in jobs(soak, providers):
                    group.start_soon(job)
        elapsed = time.perf_counter() - started
        left = [leaks(c, t, tasks=tasks, generators=generators) for c, t in clients]
        retries = sum(p.retries for p in providers.values())
        requests = len(sandbox.requests)
    faults: dict[str, int] = {}
    for record in sandbox.requests:
        faults[record.fault] = faults.get(record.fault, 0) + 1
    print(  # noqa: T201 - the numbers are the soak's report (pytest -s shows them)
        f"\nsoak: {soak.reads} reads, {soak.messages} messages, {requests} requests, "
        f"{retries} retries, {elapsed:.1f}s; faults served: {faults}"
    )
    assert soak.failures == []
    assert left == [{}, {}, {}]
    assert requests <= MAX_REQUESTS
    assert retries > 0, "the faults should have made some requests fail"
    assert faults.get("status", 0) > 0
    assert faults.get("drop", 0) > 0
