"""How the HTTP core maps statuses onto errors, quoting the vendor's own words."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import pytest

from backscroll import ConvaiProvider, CursorProvider, TalkifaiProvider, errors
from backscroll._http import DEFAULT_ERROR_KEYS, HTTPCore

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


BASE = "https://api.example-ai.com/v1"
URL = BASE + "/chat/history"
Handler = Callable[[httpx.Request], httpx.Response]


def make_core(
    handler: Handler,
    *,
    send_request_id: bool = False,
    client: httpx.AsyncClient | None = None,
    error_keys: tuple[str, ...] = DEFAULT_ERROR_KEYS,
) -> HTTPCore:
    """An HTTPCore without retries on a MockTransport."""
    return HTTPCore(
        error_keys=error_keys,
        provider="cursor",
        base_url=BASE,
        credential_hint="pass api_key= or set EXAMPLE_AI_API_KEY",
        http_client=client or http.AsyncClient(transport=http.MockTransport(handler)),
        max_retries=0,
        send_request_id=send_request_id,
    )


async def fail_with(response: httpx.Response, **kwargs: Any) -> errors.APIStatusError:
    core = make_core(lambda _: response, **kwargs)
    with pytest.raises(errors.APIStatusError) as info:
        await core.request_json("GET", URL, params={"conversation_id": "con_1"})
    return info.value


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (504, errors.ServerError),
        (408, errors.APIStatusError),
        (409, errors.APIStatusError),
        (418, errors.APIStatusError),
        (422, errors.APIStatusError),
    ],
)
async def test_status_maps_to_its_error_class(status: int, cls: type[Exception]) -> None:
    """Each status raises exactly its documented class, with status_code and provider set."""
    exc = await fail_with(http.Response(status, json={"detail": "nope"}))
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.provider == "cursor"
    assert f"cursor answered {status}" in str(exc)


@pytest.mark.parametrize(
    ("keys", "body", "text"),
    [
        (
            ConvaiProvider.error_keys,
            {"ERROR": "Invalid API key provided."},
            "Invalid API key provided.",
        ),
        (
            TalkifaiProvider.error_keys,
            {"detail": "Session not found or expired"},
            "Session not found or expired",
        ),
        (
            CursorProvider.error_keys,
            {"status": "error", "message": "Conversation not found: con_9s2kd81.", "data": None},
            "Conversation not found: con_9s2kd81.",
        ),
        (DEFAULT_ERROR_KEYS, {"error": "quota exceeded"}, "quota exceeded"),
    ],
    ids=["convai", "talkifai", "cursor", "error"],
)
async def test_vendor_error_text_is_quoted(
    keys: tuple[str, ...], body: dict[str, Any], text: str
) -> None:
    """The vendor's own error text, under the keys its provider declares, is quoted."""
    exc = await fail_with(http.Response(404, json=body), error_keys=keys)
    assert text in str(exc)
    assert exc.vendor_message == text


async def test_structured_vendor_error_is_quoted_as_json() -> None:
    """A validation error given as a list of objects is quoted as compact JSON."""
    detail = [{"loc": ["query", "limit"], "msg": "must be <= 100"}]
    exc = await fail_with(http.Response(400, json={"detail": detail}))
    assert exc.vendor_message == json.dumps(detail)
    assert "must be <= 100" in str(exc)


async def test_a_non_json_error_body_is_quoted_as_text() -> None:
    """An HTML error page from a proxy is quoted (its start) as text."""
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    exc = await fail_with(http.Response(502, text=page, headers={"Content-Type": "text/html"}))
    assert type(exc) is errors.ServerError
    assert "502 Bad Gateway" in str(exc)


async def test_a_long_vendor_text_is_cut_short() -> None:
    """A vendor text of 100 kB is quoted in part, so messages stay readable."""
    exc = await fail_with(http.Response(500, json={"message": "x" * 100_000}))
    assert exc.vendor_message is not None
    assert len(exc.vendor_message) <= 300
    assert len(str(exc)) < 1000


async def test_an_empty_error_body_still_reports_the_status() -> None:
    """Without any body the status and reason phrase make the message."""
    exc = await fail_with(http.Response(503))
    assert exc.vendor_message is None
    assert "503 Service Unavailable" in str(exc)


async def test_a_huge_undecodable_error_body_still_reports_the_status() -> None:
    """An error body over the size cap or in a broken encoding does not hide the status."""

    async def garbage() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"\x00garbage" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        return http.Response(500, content=garbage(), headers={"Content-Encoding": "gzip"})

    core = make_core(handler)
    core.max_response_bytes = 1000
    with pytest.raises(errors.ServerError, match="500"):
        await core.request_json("GET", URL)


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "EXAMPLE_AI_API_KEY"),
        (403, "plan or scope"),
        (404, "Check the id"),
        (429, "lower concurrency"),
        (500, "try again later"),
        (400, "parameters"),
    ],
)
async def test_message_says_what_to_do(status: int, hint: str) -> None:
    """Each status's message ends with advice on what to do next."""
    exc = await fail_with(http.Response(status))
    assert hint in str(exc)


async def test_message_names_the_method_and_path() -> None:
    """The message says which request failed (method and path, without the query)."""
    exc = await fail_with(http.Response(404))
    assert "GET /v1/chat/history" in str(exc)
    assert "con_1" not in str(exc)


@pytest.mark.parametrize("header", ["X-Request-Id", "Request-Id"])
async def test_request_id_comes_from_the_response(header: str) -> None:
    """The vendor's request id header becomes request_id and is named in the message."""
    exc = await fail_with(http.Response(500, headers={header: "req_vendor_42"}))
    assert exc.request_id == "req_vendor_42"
    assert "req_vendor_42" in str(exc)


async def test_request_id_falls_back_to_the_one_sent() -> None:
    """Without a vendor request id, the X-Request-Id the core sent is reported."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["X-Request-Id"])
        return http.Response(500)

    core = make_core(handler, send_request_id=True)
    with pytest.raises(errors.ServerError) as info:
        await core.request_json("GET", URL)
    assert sent[0].startswith("req_")
    assert info.value.request_id == sent[0]
    assert sent[0] in str(info.value)


async def test_request_id_is_none_when_nobody_set_one() -> None:
    """Without any request id, request_id is None."""
    exc = await fail_with(http.Response(404))
    assert exc.request_id is None


async def test_a_request_id_is_sent_fresh_on_each_request() -> None:
    """Two requests carry two different X-Request-Id values."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["X-Request-Id"])
        return http.Response(200, json={})

    core = make_core(handler, send_request_id=True)
    await core.request_json("GET", URL)
    await core.request_json("GET", URL)
    assert len(set(sent)) == 2


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("follow", [False, True], ids=["client-default", "client-follows"])
async def test_redirect_is_an_error_and_not_followed(status: int, follow: bool) -> None:
    """A 3xx raises APIStatusError and no request goes to the Location, whatever the client."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return http.Response(status, headers={"Location": "https://evil.example/steal"})

    client = http.AsyncClient(transport=http.MockTransport(handler), follow_redirects=follow)
    core = make_core(handler, client=client)
    with pytest.raises(errors.APIStatusError) as info:
        await core.request_json("GET", URL)
    assert type(info.value) is errors.APIStatusError
    assert info.value.status_code == status
    assert "Redirects are not followed" in str(info.value)
    assert [str(url) for url in seen] == [URL]
