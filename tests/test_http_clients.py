"""Whose HTTP client is closed when, timeouts, and many tasks sharing one client."""

from __future__ import annotations

import anyio
import httpx
import pytest

from backscroll import ConfigurationError, TalkifaiProvider
from backscroll._http import DEFAULT_TIMEOUT, HTTPCore

pytestmark = pytest.mark.anyio

TOKEN = "tkf_93be0c1d27a64f5e8b"
BASE = "https://api.talkifai.dev"


def ok(request: httpx.Request) -> httpx.Response:
    """Answer every conversation with one message that names the conversation."""
    conversation = request.url.path.split("/")[-2]
    messages = [{"role": "user", "content": conversation, "timestamp": "2024-01-15T10:00:00Z"}]
    return httpx.Response(200, json={"messages": messages})


async def test_aclose_closes_the_providers_own_client() -> None:
    """A provider that made its own client closes it on aclose()."""
    provider = TalkifaiProvider(token=TOKEN)
    client = provider._http._client
    assert not client.is_closed
    await provider.aclose()
    assert client.is_closed


async def test_async_with_closes_the_providers_own_client() -> None:
    """Leaving `async with` closes the client the provider made."""
    async with TalkifaiProvider(token=TOKEN) as provider:
        client = provider._http._client
    assert client.is_closed


async def test_aclose_leaves_the_callers_client_open() -> None:
    """The caller's client stays open, and usable, after the provider is closed."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(ok)) as client:
        async with TalkifaiProvider(token=TOKEN, http_client=client) as provider:
            assert [m.content async for m in provider.messages("c1")] == ["c1"]
        await provider.aclose()
        assert not client.is_closed
        assert (await client.get(BASE + "/v1/chat/sessions/c2/messages")).status_code == 200


async def test_the_callers_client_is_used_as_is() -> None:
    """Requests go through the caller's client, keeping its own headers."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, headers={"X-Team": "data"}) as client:
        provider = TalkifaiProvider(token=TOKEN, http_client=client)
        assert provider._http._client is client
        assert [m.content async for m in provider.messages("c1")] == ["c1"]
    assert seen[0].headers["X-Team"] == "data"


async def test_many_tasks_can_share_the_callers_client() -> None:
    """Fifty tasks reading fifty conversations at once through one client all succeed."""
    in_flight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        in_flight -= 1
        return ok(request)

    results: dict[str, list[str]] = {}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = TalkifaiProvider(token=TOKEN, http_client=client)

        async def read(conversation: str) -> None:
            results[conversation] = [m.content async for m in provider.messages(conversation)]

        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(read, f"c{n}")
        assert not client.is_closed
    assert results == {f"c{n}": [f"c{n}"] for n in range(50)}
    assert most > 1, "the requests should have overlapped"
    # Two requests a conversation: its page, and the one that tells a short page from a cap.
    assert provider._http.stats.requests == 100


async def test_many_tasks_can_share_one_core() -> None:
    """Concurrent requests through one HTTPCore all succeed (it holds no per-request state)."""
    core = HTTPCore(provider="talkifai", base_url=BASE, credential_hint="")
    await core._client.aclose()
    core._client = httpx.AsyncClient(transport=httpx.MockTransport(ok))
    answers: list[object] = []

    async def get(n: int) -> None:
        answers.append(await core.request_json("GET", core.url("v1", "x", f"c{n}", "m")))

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(get, n)
    await core.aclose()
    assert len(answers) == 20
    assert core._client.is_closed


async def test_timeout_applies_to_each_request() -> None:
    """A timeout= given to the provider is the timeout of each request, on any client."""
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=99) as client:
        provider = TalkifaiProvider(token=TOKEN, http_client=client, timeout=3.0)
        _ = [m async for m in provider.messages("c1")]
        default = TalkifaiProvider(token=TOKEN, http_client=client)
        _ = [m async for m in default.messages("c1")]
    assert seen[0] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}
    # Without timeout=, the caller's client keeps its own. (Each read is two requests: the
    # page, and the one that tells a short page from a capped one.)
    assert seen[-1] == {"connect": 99, "read": 99, "write": 99, "pool": 99}


async def test_own_client_gets_the_default_timeout() -> None:
    """A provider's own client waits 10 s to connect and 30 s for the rest."""
    async with TalkifaiProvider(token=TOKEN) as provider:
        assert provider._http._client.timeout == DEFAULT_TIMEOUT
    assert httpx.Timeout(30.0, connect=10.0) == DEFAULT_TIMEOUT


async def test_own_client_does_not_follow_redirects() -> None:
    """The client a provider makes is set not to follow redirects either."""
    async with TalkifaiProvider(token=TOKEN) as provider:
        assert provider._http._client.follow_redirects is False


async def test_with_options_shares_the_connection_pool() -> None:
    """with_options gives new timeout and retries on the same client, closed by the original."""
    seen: list[float | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        return ok(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = TalkifaiProvider(token=TOKEN, http_client=client, timeout=5)
    patient = provider.with_options(timeout=120, max_retries=7)
    assert isinstance(patient, TalkifaiProvider)
    assert [m.content async for m in patient.messages("c1")] == ["c1"]
    assert [m.content async for m in provider.messages("c2")] == ["c2"]
    # Two requests each: a Talkifai first page is confirmed by a second answer.
    assert seen == [120, 120, 5, 5]
    assert patient._http._client is provider._http._client
    assert (patient._http.retry.max_retries, provider._http.retry.max_retries) == (7, 2)


async def test_closing_a_derived_provider_leaves_the_pool_open() -> None:
    """aclose() on a with_options copy keeps the original usable; the original closes both."""
    provider = TalkifaiProvider(token=TOKEN)
    derived = provider.with_options(max_retries=0)
    await derived.aclose()
    client = provider._http._client
    assert not client.is_closed
    await provider.aclose()
    assert client.is_closed


def test_with_options_checks_its_options() -> None:
    """A bad timeout or max_retries in with_options is a ConfigurationError."""
    provider = TalkifaiProvider(token=TOKEN)
    with pytest.raises(ConfigurationError, match="max_retries"):
        provider.with_options(max_retries=-1)
    with pytest.raises(ConfigurationError, match="timeout"):
        provider.with_options(timeout=float("nan"))


def test_an_unknown_option_is_a_type_error() -> None:
    """A misspelt shared option fails as Python fails for any unknown keyword."""
    with pytest.raises(TypeError, match="max_retry"):
        TalkifaiProvider(token=TOKEN, max_retry=3)  # type: ignore[call-arg]
