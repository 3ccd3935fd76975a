"""Which failures the HTTP core retries, how long it waits, and what it raises at the end."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import pytest

import backscroll.testing
from backscroll import errors
from backscroll._http import HTTPCore, RetryPolicy

if TYPE_CHECKING:
    from types import ModuleType

pytestmark = pytest.mark.anyio

#: The client library under test, set per test by the `library` fixture: the same tests
#: run with httpx and with httpx2, whose classes are distinct.
http = httpx


@pytest.fixture(
    autouse=True, params=[pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")]
)
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run each test once per client library."""
    module: ModuleType = request.param
    monkeypatch.setattr(sys.modules[__name__], "http", module)
    return module


BASE = "https://api.talkifai.dev"
URL = BASE + "/v1/chat/sessions/c1/messages"
OK: dict[str, list[object]] = {"messages": []}
Handler = Callable[[httpx.Request], httpx.Response]

RETRIED_EXCEPTIONS = [
    "ConnectError",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
]
RETRIED_STATUSES = [408, 409, 429, 500, 502, 503, 504]
NOT_RETRIED_STATUSES = [400, 401, 403, 404, 422]


class Vendor:
    """A MockTransport handler that fails the first *failures* requests, then answers OK."""

    def __init__(self, fail: Callable[[httpx.Request], httpx.Response], failures: int) -> None:
        self.fail = fail
        self.failures = failures
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Record the request; fail it or answer OK."""
        self.requests.append(request)
        if len(self.requests) <= self.failures:
            return self.fail(request)
        return http.Response(200, json=OK)


def make_core(handler: Handler, *, max_retries: int = 2) -> tuple[HTTPCore, list[float]]:
    """An HTTPCore on a MockTransport whose sleeps are recorded instead of slept."""
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    client = http.AsyncClient(transport=http.MockTransport(handler))
    core = HTTPCore(
        provider="talkifai",
        base_url=BASE,
        credential_hint="pass token=",
        http_client=client,
        max_retries=max_retries,
        sleep=record,
    )
    return core, sleeps


def raising(exc_name: str) -> Handler:
    """A handler raising the library's transport error *exc_name*."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise getattr(http, exc_name)("simulated", request=request)

    return fail


def answering(status: int, headers: dict[str, str] | None = None) -> Handler:
    def fail(request: httpx.Request) -> httpx.Response:
        del request
        return http.Response(status, json={"detail": "try later"}, headers=headers)

    return fail


@pytest.mark.parametrize("exc_name", RETRIED_EXCEPTIONS)
async def test_transport_failures_are_retried(exc_name: str) -> None:
    """Connection errors, drops, protocol errors and timeouts are retried until success."""
    vendor = Vendor(raising(exc_name), failures=2)
    core, sleeps = make_core(vendor, max_retries=2)
    assert await core.request_json("GET", URL) == OK
    assert len(vendor.requests) == 3
    assert len(sleeps) == 2
    assert core.stats.retries == 2


@pytest.mark.parametrize("status", RETRIED_STATUSES)
async def test_retryable_statuses_are_retried(status: int) -> None:
    """408, 409, 429 and 5xx are retried until success."""
    vendor = Vendor(answering(status), failures=2)
    core, sleeps = make_core(vendor, max_retries=2)
    assert await core.request_json("GET", URL) == OK
    assert len(vendor.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", NOT_RETRIED_STATUSES)
async def test_client_errors_are_not_retried(status: int) -> None:
    """400, 401, 403, 404 and 422 fail on the first answer, without waiting."""
    vendor = Vendor(answering(status), failures=99)
    core, sleeps = make_core(vendor, max_retries=3)
    with pytest.raises(errors.APIStatusError) as info:
        await core.request_json("GET", URL)
    assert info.value.status_code == status
    assert len(vendor.requests) == 1
    assert sleeps == []
    assert core.stats.retries == 0


async def test_a_local_protocol_error_is_not_retried() -> None:
    """A request httpx refuses to send fails at once: it would fail the same way again."""
    vendor = Vendor(raising("LocalProtocolError"), failures=99)
    core, sleeps = make_core(vendor, max_retries=3)
    with pytest.raises(errors.APIConnectionError, match=r", 1 attempt\)"):
        await core.request_json("GET", URL)
    assert len(vendor.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_attempts_are_max_retries_plus_one(max_retries: int) -> None:
    """A failure that never clears is tried exactly max_retries + 1 times."""
    vendor = Vendor(answering(503), failures=99)
    core, sleeps = make_core(vendor, max_retries=max_retries)
    with pytest.raises(errors.ServerError):
        await core.request_json("GET", URL)
    assert len(vendor.requests) == max_retries + 1
    assert len(sleeps) == max_retries
    assert core.stats.retries == max_retries
    assert core.stats.requests == max_retries + 1


async def test_backoff_doubles_from_half_a_second_to_a_cap_of_eight() -> None:
    """Waits are 0.5, 1, 2, 4, 8, 8, ... seconds, each less up to 25% jitter."""
    core, sleeps = make_core(Vendor(answering(503), failures=99), max_retries=7)
    with pytest.raises(errors.ServerError):
        await core.request_json("GET", URL)
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    assert len(sleeps) == len(ceilings)
    for slept, ceiling in zip(sleeps, ceilings, strict=True):
        assert 0.75 * ceiling <= slept <= ceiling


def test_backoff_is_jittered() -> None:
    """Repeated delays for the same retry differ and stay within [75%, 100%] of the step."""
    policy = RetryPolicy()
    delays = {policy.delay(2, None) for _ in range(50)}
    assert len(delays) > 1
    assert all(1.5 <= d <= 2.0 for d in delays)


def test_backoff_stays_capped_for_late_retries() -> None:
    """However many retries came before, no wait exceeds the cap."""
    policy = RetryPolicy(max_retries=100)
    assert all(policy.delay(n, None) <= 8.0 for n in (10, 50, 99))


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_is_honoured(status: int) -> None:
    """A Retry-After in seconds is waited exactly, without jitter."""
    vendor = Vendor(answering(status, {"Retry-After": "3"}), failures=1)
    core, sleeps = make_core(vendor)
    assert await core.request_json("GET", URL) == OK
    assert sleeps == [3.0]


async def test_retry_after_milliseconds_is_honoured() -> None:
    """The retry-after-ms header some APIs send is honoured too."""
    vendor = Vendor(answering(429, {"retry-after-ms": "1500"}), failures=1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert sleeps == [1.5]


async def test_retry_after_is_capped() -> None:
    """A Retry-After beyond the cap waits only the cap (60 seconds)."""
    vendor = Vendor(answering(429, {"Retry-After": "86400"}), failures=1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert sleeps == [60.0]


NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The HTTP core's wall clock stands still at NOW."""
    monkeypatch.setattr("backscroll._http._now", NOW.timestamp)
    return NOW


async def test_retry_after_http_date_is_honoured(fixed_clock: datetime) -> None:
    """A Retry-After given as an HTTP-date waits until that moment."""
    when = fixed_clock + timedelta(seconds=30)
    vendor = Vendor(answering(503, {"Retry-After": format_datetime(when, usegmt=True)}), 1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert sleeps == [30.0]


async def test_retry_after_date_without_zone_is_read_as_gmt(
    monkeypatch: pytest.MonkeyPatch, fixed_clock: datetime
) -> None:
    """A "-0000" date (zone unknown) is read as GMT, not in the machine's local zone."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        when = fixed_clock + timedelta(seconds=30)
        value = format_datetime(when.replace(tzinfo=None))  # "... -0000"
        vendor = Vendor(answering(503, {"Retry-After": value}), 1)
        core, sleeps = make_core(vendor)
        await core.request_json("GET", URL)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert value.endswith("-0000")
    assert sleeps == [30.0]


async def test_retry_after_http_date_is_capped() -> None:
    """An HTTP-date far ahead waits only the cap."""
    when = datetime.now(UTC) + timedelta(days=2)
    vendor = Vendor(answering(429, {"Retry-After": format_datetime(when, usegmt=True)}), 1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert sleeps == [60.0]


async def test_retry_after_in_the_past_retries_at_once() -> None:
    """A Retry-After date that is already over waits zero seconds."""
    vendor = Vendor(answering(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), 1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert sleeps == [0.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "soon"},
        {"Retry-After": "nan"},
        {"Retry-After": "-5"},
        {"Retry-After": "inf"},
        {"Retry-After": "Wed, 99 Foo 2015 07:28:00 GMT"},
        {"Retry-After": ""},
        {"Retry-After-Ms": "nan"},
        {"Retry-After-Ms": "-100", "Retry-After": "-1"},
    ],
    ids=["word", "nan", "negative", "inf", "bad-date", "empty", "ms-nan", "both-negative"],
)
async def test_unusable_retry_after_falls_back_to_backoff(headers: dict[str, str]) -> None:
    """A Retry-After that is not a finite, non-negative number or a date: the usual backoff."""
    vendor = Vendor(answering(429, headers), failures=1)
    core, sleeps = make_core(vendor)
    await core.request_json("GET", URL)
    assert len(sleeps) == 1
    assert 0.375 <= sleeps[0] <= 0.5


@pytest.mark.parametrize("exc_name", ["ConnectTimeout", "ReadTimeout", "PoolTimeout"])
async def test_timeouts_raise_api_timeout_error_after_retries(exc_name: str) -> None:
    """A timeout on every attempt raises APITimeoutError saying how often it was tried."""
    vendor = Vendor(raising(exc_name), failures=99)
    core, _ = make_core(vendor, max_retries=2)
    with pytest.raises(errors.APITimeoutError, match=r"in time .*3 attempts"):
        await core.request_json("GET", URL)
    assert len(vendor.requests) == 3


@pytest.mark.parametrize("exc_name", ["ConnectError", "ReadError", "RemoteProtocolError"])
async def test_drops_raise_api_connection_error_after_retries(exc_name: str) -> None:
    """A connection failure on every attempt raises APIConnectionError, not a timeout."""
    vendor = Vendor(raising(exc_name), failures=99)
    core, _ = make_core(vendor, max_retries=1)
    with pytest.raises(errors.APIConnectionError) as info:
        await core.request_json("GET", URL)
    assert not isinstance(info.value, errors.APITimeoutError)
    assert exc_name in str(info.value)
    assert "2 attempts" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_a_connection_dropped_mid_body_is_retried() -> None:
    """A ReadError while streaming the body retries the whole request."""
    calls: list[int] = []

    async def broken_body() -> AsyncIterator[bytes]:
        yield b'{"messages": ['
        raise http.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        calls.append(1)
        if len(calls) == 1:
            return http.Response(200, content=broken_body())
        return http.Response(200, json=OK)

    core, sleeps = make_core(handler)
    assert await core.request_json("GET", URL) == OK
    assert len(calls) == 2
    assert len(sleeps) == 1


async def test_rate_limit_error_after_retries_says_so() -> None:
    """A 429 that outlasts the retries raises RateLimitError with the status."""
    core, sleeps = make_core(Vendor(answering(429, {"Retry-After": "1"}), failures=99))
    with pytest.raises(errors.RateLimitError, match="429") as info:
        await core.request_json("GET", URL)
    assert info.value.status_code == 429
    assert sleeps == [1.0, 1.0]


async def test_stats_count_retries_across_requests() -> None:
    """stats.retries adds up the retries of every request made through the core."""
    vendor = Vendor(answering(500), failures=1)
    core, _ = make_core(vendor)
    await core.request_json("GET", URL)
    vendor.requests.clear()
    await core.request_json("GET", URL)
    assert core.stats.retries == 2
    assert core.stats.requests == 4


async def test_provider_exposes_its_retry_count() -> None:
    """A provider's `retries` property reports the retries its core made."""
    from backscroll import TalkifaiProvider  # noqa: PLC0415 - kept next to its only use

    vendor = Vendor(answering(502), failures=2)
    client = http.AsyncClient(transport=http.MockTransport(vendor))
    provider = TalkifaiProvider(token="tok-123456", http_client=client)
    with backscroll.testing.set_testing(True):
        assert [m async for m in provider.messages("c1")] == []
    assert provider.retries == 2


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_max_retries_must_be_a_non_negative_integer(bad: Any) -> None:
    """A negative, fractional, string or boolean max_retries is a ConfigurationError."""
    with pytest.raises(errors.ConfigurationError, match="max_retries"):
        HTTPCore(provider="p", base_url=BASE, credential_hint="", max_retries=bad)


async def test_retries_are_logged_at_info_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each retry is one INFO line on backscroll's logger; no logger at DEBUG shows the key."""
    from backscroll import TalkifaiProvider  # noqa: PLC0415 - kept next to its only use

    token = "tkf_logsecret_8d2f0a"
    vendor = Vendor(answering(503, {"Retry-After": "1"}), failures=2)
    client = http.AsyncClient(transport=http.MockTransport(vendor))
    provider = TalkifaiProvider(token=token, http_client=client)
    with caplog.at_level(logging.DEBUG), backscroll.testing.set_testing(True):
        assert [m async for m in provider.messages("c1")] == []
    retries = [r for r in caplog.records if r.name == "backscroll" and r.levelno == logging.INFO]
    assert [r.getMessage().split(" failed")[0] for r in retries] == [
        "talkifai GET /v1/chat/sessions/c1/messages"
    ] * 2
    assert "retry 1/2 in 1.00s" in retries[0].getMessage()
    assert all(token not in r.getMessage() for r in caplog.records)
    assert token not in caplog.text
