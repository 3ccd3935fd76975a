"""The HTTP core behaves the same with an httpx client and with an httpx2 client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import httpx2
import pytest
from anyio.abc import SocketAttribute

from backscroll import CursorProvider, TalkifaiProvider, errors
from backscroll._http import HTTPCore

if TYPE_CHECKING:
    from types import ModuleType

    from anyio.abc import SocketStream

pytestmark = pytest.mark.anyio

BASE = "https://api.example-ai.com/v1"
URL = BASE + "/chat/history"
KEY = "sk_test_51_c8e2a9f4d1b7"
OK: dict[str, list[object]] = {"messages": []}
Handler = Callable[[Any], Any]


@pytest.fixture(params=[pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")])
def lib(request: pytest.FixtureRequest) -> ModuleType:
    """The client library under test: httpx or httpx2 (same API, distinct classes)."""
    module: ModuleType = request.param
    return module


class Sleeps(list[float]):
    """The waits the core asked for, recorded instead of slept."""

    async def __call__(self, seconds: float) -> None:
        """Record one wait."""
        self.append(seconds)


def make_core(lib: ModuleType, handler: Handler, **options: Any) -> tuple[HTTPCore, Sleeps]:
    """An HTTPCore on *lib*'s MockTransport, recording its waits."""
    sleeps = Sleeps()
    client = lib.AsyncClient(transport=lib.MockTransport(handler))
    options.setdefault("max_retries", 2)
    core = HTTPCore(
        provider="cursor",
        base_url=BASE,
        credential_hint="pass api_key=",
        http_client=client,
        secrets=[KEY],
        sleep=sleeps,
        **options,
    )
    return core, sleeps


def failing(lib: ModuleType, name: str, times: int) -> tuple[Handler, list[object]]:
    """A handler raising *lib*'s exception *name* *times* times, then answering OK."""
    seen: list[object] = []

    def handler(request: Any) -> Any:
        seen.append(request)
        if len(seen) <= times:
            msg = f"simulated, key {KEY}"
            raise getattr(lib, name)(msg, request=request)
        return lib.Response(200, json=OK)

    return handler, seen


def chain(exc: BaseException) -> list[BaseException]:
    """*exc* and every exception chained to it, as cause or context."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


@pytest.mark.parametrize("name", ["ConnectError", "ReadError", "RemoteProtocolError"])
async def test_connection_failures_are_retried_then_mapped(lib: ModuleType, name: str) -> None:
    """Each library's connection failures are retried, then raise APIConnectionError."""
    handler, seen = failing(lib, name, times=10)
    core, sleeps = make_core(lib, handler)
    with pytest.raises(errors.APIConnectionError) as info:
        await core.request_json("GET", URL)
    assert type(info.value) is errors.APIConnectionError
    assert len(seen) == 3
    assert len(sleeps) == 2
    assert KEY not in str(info.value)


@pytest.mark.parametrize("name", ["ConnectTimeout", "ReadTimeout", "PoolTimeout"])
async def test_timeouts_map_to_api_timeout_error(lib: ModuleType, name: str) -> None:
    """Each library's timeouts are retried, then raise APITimeoutError."""
    handler, seen = failing(lib, name, times=10)
    core, _ = make_core(lib, handler)
    with pytest.raises(errors.APITimeoutError):
        await core.request_json("GET", URL)
    assert len(seen) == 3


async def test_a_recovered_failure_returns_the_body(lib: ModuleType) -> None:
    """A failure followed by success returns the decoded body."""
    handler, seen = failing(lib, "ConnectError", times=1)
    core, _ = make_core(lib, handler)
    assert await core.request_json("GET", URL) == OK
    assert len(seen) == 2


async def test_a_local_protocol_error_is_not_retried(lib: ModuleType) -> None:
    """A malformed request of ours would fail again: one attempt, APIConnectionError."""
    handler, seen = failing(lib, "LocalProtocolError", times=10)
    core, _ = make_core(lib, handler)
    with pytest.raises(errors.APIConnectionError):
        await core.request_json("GET", URL)
    assert len(seen) == 1


async def test_no_chained_exception_carries_the_request(lib: ModuleType) -> None:
    """The raised error chains nothing: no library exception, no request with its headers."""
    handler, _ = failing(lib, "ConnectError", times=10)
    core, _ = make_core(lib, handler, max_retries=0)
    with pytest.raises(errors.APIConnectionError) as info:
        await core.request_json("GET", URL, headers={"Authorization": f"Bearer {KEY}"})
    assert chain(info.value) == [info.value]


async def test_status_errors_chain_nothing_either(lib: ModuleType) -> None:
    """A status error after retries carries no chained exception."""
    core, _ = make_core(lib, lambda _: lib.Response(503, json={"error": "down"}))
    with pytest.raises(errors.ServerError) as info:
        await core.request_json("GET", URL)
    assert chain(info.value) == [info.value]


async def test_retry_after_is_honoured(lib: ModuleType) -> None:
    """A 429 with Retry-After waits what the vendor asked, then succeeds."""
    answers = [lib.Response(429, headers={"Retry-After": "2"}), lib.Response(200, json=OK)]
    core, sleeps = make_core(lib, lambda _: answers.pop(0))
    assert await core.request_json("GET", URL) == OK
    assert sleeps == [2.0]


async def test_statuses_map_to_their_classes(lib: ModuleType) -> None:
    """A 404 is NotFoundError quoting the vendor's text, never the key it echoed."""
    body = {"error": f"no conversation for key {KEY}"}
    core, _ = make_core(lib, lambda _: lib.Response(404, json=body))
    with pytest.raises(errors.NotFoundError) as info:
        await core.request_json("GET", URL)
    assert "no conversation for key [REDACTED]" in str(info.value)
    assert KEY not in repr(info.value)


async def test_redirects_are_not_followed(lib: ModuleType) -> None:
    """A 302 is an APIStatusError naming base_url, never followed."""
    seen: list[object] = []

    def handler(request: Any) -> Any:
        seen.append(request)
        return lib.Response(302, headers={"Location": "https://elsewhere.example/"})

    core, _ = make_core(lib, handler)
    with pytest.raises(errors.APIStatusError, match="base_url"):
        await core.request_json("GET", URL)
    assert len(seen) == 1


async def test_the_size_cap_holds(lib: ModuleType) -> None:
    """A success body over max_response_bytes is a ResponseFormatError."""
    body = b"[" + b"1," * 600 + b"1]"
    core, _ = make_core(lib, lambda _: lib.Response(200, content=body), max_response_bytes=1000)
    with pytest.raises(errors.ResponseFormatError, match="larger than 1000 bytes"):
        await core.request_json("GET", URL)


async def test_a_body_that_never_ends_times_out(lib: ModuleType) -> None:
    """A body trickling forever ends in APITimeoutError: the timeout bounds the attempt."""

    async def trickle() -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await anyio.lowlevel.checkpoint()

    core, _ = make_core(
        lib, lambda _: lib.Response(200, content=trickle()), timeout=0.05, max_retries=1
    )
    with anyio.fail_after(30), pytest.raises(errors.APITimeoutError, match="timeout"):
        await core.request_json("GET", URL)
    assert core.stats.requests == 2


async def test_providers_accept_either_client(lib: ModuleType) -> None:
    """A provider reads through the caller's client of either library."""
    message = {"role": "user", "content": "hi", "timestamp": "2024-01-15T10:00:00Z"}
    handler = lambda _: lib.Response(200, json={"messages": [message]})  # noqa: E731
    async with lib.AsyncClient(transport=lib.MockTransport(handler)) as client:
        async with TalkifaiProvider(token=KEY, http_client=client) as provider:
            assert [m.content async for m in provider.messages("c1")] == ["hi"]
        assert not client.is_closed


async def test_either_librarys_timeout_is_accepted(lib: ModuleType) -> None:
    """timeout= may be an httpx.Timeout or an httpx2.Timeout."""
    async with lib.AsyncClient(transport=lib.MockTransport(lambda _: lib.Response(200))) as c:
        provider = CursorProvider(api_key=KEY, http_client=c, timeout=lib.Timeout(5.0))
        await provider.aclose()


def test_another_client_is_refused() -> None:
    """Something that is neither library's AsyncClient is a ConfigurationError."""
    with pytest.raises(errors.ConfigurationError, match=r"httpx2\.AsyncClient"):
        CursorProvider(api_key=KEY, http_client=object())  # type: ignore[arg-type]


# A loopback server: real sockets, for both libraries.


async def _serve_once(stream: SocketStream, *, trickle: bool) -> None:
    async with stream:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive()
        if not trickle:
            body = b'{"messages": []}'
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
            await stream.send(head.encode() + b"Content-Type: application/json\r\n\r\n" + body)
            return
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n[")
        while True:  # one byte at a time: each read succeeds, the whole never ends
            await anyio.sleep(0.01)
            await stream.send(b" ")


@pytest.mark.parametrize("trickle", [False, True], ids=["answers", "trickles"])
async def test_a_loopback_server(lib: ModuleType, trickle: bool) -> None:
    """On real sockets an answer is read, and a trickling body ends in APITimeoutError."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - not Django

    async def serve(stream: SocketStream) -> None:
        await _serve_once(stream, trickle=trickle)

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        async with lib.AsyncClient() as client:
            core = HTTPCore(
                provider="talkifai",
                base_url=f"http://127.0.0.1:{port}",
                credential_hint="pass token=",
                http_client=client,
                timeout=0.3,
                max_retries=0,
            )
            url = core.url("v1", "chat", "sessions", "c1", "messages")
            with anyio.fail_after(30):
                if trickle:
                    with pytest.raises(errors.APITimeoutError):
                        await core.request_json("GET", url)
                else:
                    assert await core.request_json("GET", url) == OK
        group.cancel_scope.cancel()
