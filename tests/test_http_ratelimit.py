"""The adaptive rate limit: spacing, 429s, recovery, and a quota it stays under."""

from __future__ import annotations

import itertools
import logging

import anyio
import httpx
import pytest

import backscroll.testing
from backscroll import CursorProvider, errors
from backscroll._ratelimit import RateLimiter
from backscroll.sandbox import Faults, Sandbox
from backscroll.sandbox._cursor import API_KEY as CURSOR_KEY

pytestmark = pytest.mark.anyio


class FakeClock:
    """A clock that only moves when someone sleeps on it; sleeping moves it, instantly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The fake time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Let others run, then stand at the end of the wait (never moving backwards)."""
        target = self.now + seconds
        await anyio.lowlevel.checkpoint()
        self.now = max(self.now, target)


def limiter(rate: float) -> tuple[RateLimiter, FakeClock]:
    """A limiter on a fake clock."""
    clock = FakeClock()
    return RateLimiter(rate, provider="cursor", clock=clock, sleep=clock.sleep), clock


async def test_slots_are_spaced_across_tasks() -> None:
    """However many tasks share it, no two slots are closer than 1/rate."""
    clock = FakeClock()
    slots: list[float] = [0.0]  # the first goes at once

    async def sleep(seconds: float) -> None:
        slots.append(clock.now + seconds)
        await clock.sleep(seconds)

    bucket = RateLimiter(4, clock=clock, sleep=sleep)

    async def send(count: int) -> None:
        for _ in range(count):
            await bucket.acquire()

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(send, 4)
    slots.sort()
    assert len(slots) == 20
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(slots))
    assert slots[-1] == pytest.approx(19 * 0.25)


async def test_waits_are_counted_and_visible() -> None:
    """The counters: `waiting` tasks now, and every wait added up in `waits` and `waited`."""
    clock = FakeClock()
    release = anyio.Event()

    async def held(seconds: float) -> None:
        del seconds
        await release.wait()

    bucket = RateLimiter(2, clock=clock, sleep=held)
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(bucket.acquire)
        await anyio.wait_all_tasks_blocked()
        assert bucket.waiting == 2
        release.set()
    assert bucket.waiting == 0
    assert bucket.waits == 2
    assert bucket.waited == pytest.approx(0.5 + 1.0)


async def test_a_429_halves_the_rate_and_retry_after_holds_every_slot() -> None:
    """A 429 halves the rate, and Retry-After holds the next slot until it is over."""
    bucket, clock = limiter(10)
    reserved = await bucket.acquire()
    bucket.throttled(reserved, retry_after=3.0)
    assert bucket.rate == 5
    await bucket.acquire()
    assert clock.now == pytest.approx(3.0)
    await bucket.acquire()
    assert clock.now == pytest.approx(3.2)


async def test_requests_in_flight_lower_the_rate_once() -> None:
    """Several 429s for requests reserved before the decrease count as one."""
    bucket, clock = limiter(8)
    reservations = [await bucket.acquire() for _ in range(4)]
    for reserved in reservations:
        clock.now += 0.01
        bucket.throttled(reserved, retry_after=None)
    assert bucket.rate == 4
    clock.now += 1
    bucket.throttled(await bucket.acquire(), retry_after=None)
    assert bucket.rate == 2


async def test_the_rate_climbs_back_after_successes() -> None:
    """After a 429 the rate climbs back to the ceiling, slowly, with successes."""
    bucket, _ = limiter(10)
    bucket.throttled(await bucket.acquire(), retry_after=None)
    bucket.succeeded()
    assert 5 < bucket.rate < 10
    for _ in range(30):
        bucket.succeeded()
    assert bucket.rate == 10


async def test_the_rate_never_falls_below_its_floor() -> None:
    """However many 429s, the rate stays at least 1/64 of the ceiling."""
    bucket, clock = limiter(64)
    for _ in range(20):
        clock.now += 1
        bucket.throttled(await bucket.acquire(), retry_after=None)
    assert bucket.rate == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True])
def test_a_bad_rate_limit_is_a_configuration_error(bad: object) -> None:
    """rate_limit must be a positive, finite number of requests per second."""
    with pytest.raises(errors.ConfigurationError, match="rate_limit"):
        CursorProvider(api_key="sk_test_123456", rate_limit=bad)  # type: ignore[arg-type]


async def test_a_provider_paces_its_requests() -> None:
    """rate_limit=N makes a provider's own limiter, visible as provider.rate_limiter."""

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"messages": []})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with CursorProvider(api_key="sk_test_123456", http_client=client) as plain:
        assert plain.rate_limiter is None
    provider = CursorProvider(api_key="sk_test_123456", http_client=client, rate_limit=5)
    assert provider.rate_limiter is not None
    assert provider.rate_limiter.limit == 5
    derived = provider.with_options(max_retries=0)
    assert derived.rate_limiter is provider.rate_limiter


async def test_rate_limit_waits_are_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """A wait on the rate limit is an INFO line on the backscroll logger."""
    bucket, _ = limiter(1)
    with caplog.at_level(logging.INFO, logger="backscroll"):
        await bucket.acquire()
        await bucket.acquire()
    assert any("waiting 1.00s for the rate limit" in r.getMessage() for r in caplog.records)


async def read_under_quota(quota: float, rate_limit: float) -> tuple[int, int, RateLimiter]:
    """Read a cursor conversation page by page under a quota; (refusals, requests, limiter)."""
    sandbox = Sandbox(seed=0)
    clock = FakeClock()
    sandbox.fault_clock = clock  # the sandbox counts its quota on the same fake clock
    sandbox.set_faults("cursor", Faults(quota=quota))
    bucket = RateLimiter(rate_limit, provider="cursor", clock=clock, sleep=clock.sleep)
    with backscroll.testing.set_testing(False):
        async with sandbox.cursor(rate_limit=bucket, max_retries=10) as cursor:
            ids = [m.id async for m in cursor.messages("con_9s2kd81", page_size=2)]
    assert sorted(ids) == sorted(r["id"] for r in sandbox.data.cursor["con_9s2kd81"])
    refused = sum(r.fault == "quota" for r in sandbox.requests)
    return refused, len(sandbox.requests), bucket


async def test_a_rate_limit_under_the_quota_is_never_refused() -> None:
    """Paced just under the vendor's quota, a whole read meets no 429 at all."""
    refused, requests, _ = await read_under_quota(quota=5, rate_limit=4.9)
    assert requests > 10
    assert refused == 0


async def test_a_rate_limit_over_the_quota_adapts_without_a_storm() -> None:
    """Paced at twice the quota, the 429s slow the limiter down: a few refusals, no storm."""
    refused, requests, bucket = await read_under_quota(quota=5, rate_limit=10)
    assert refused >= 1
    assert refused <= requests // 4
    assert bucket.rate < bucket.limit or bucket.waits > 0


async def test_the_sandbox_quota_refuses_above_it_with_retry_after() -> None:
    """Faults(quota=N): the N+1-th request in a second gets 429 and when to come back."""
    sandbox = Sandbox(seed=0)
    clock = FakeClock()
    sandbox.fault_clock = clock
    sandbox.set_faults("cursor", Faults(quota=2))
    path = "/cursor/v1/chat/history?conversation_id=con_9s2kd81"
    headers = {"Authorization": "Bearer " + CURSOR_KEY}
    async with sandbox.client() as client:
        first = await client.get(path, headers=headers)
        clock.now = 0.25
        second = await client.get(path, headers=headers)
        clock.now = 0.5
        refused = await client.get(path, headers=headers)
        clock.now = 1.0
        again = await client.get(path, headers=headers)
    assert [first.status_code, second.status_code] == [200, 200]
    assert refused.status_code == 429
    assert float(refused.headers["Retry-After"]) == pytest.approx(0.5)
    assert again.status_code == 200
    assert [r.fault for r in sandbox.requests] == ["ok", "ok", "quota", "ok"]


@pytest.mark.parametrize("bad", [0, -2, float("nan"), "5"])
def test_a_bad_quota_is_a_configuration_error(bad: object) -> None:
    """Faults(quota=...) must be a positive number."""
    with pytest.raises(errors.ConfigurationError, match="quota"):
        Faults(quota=bad)  # type: ignore[arg-type]
