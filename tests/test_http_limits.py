"""The size cap on response bodies, and what counts as a readable success body."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx
import httpx2
import pytest

from backscroll import errors
from backscroll._http import HTTPCore

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
CAP = 64 * 1024
CHUNK = 1024
Handler = Callable[[httpx.Request], httpx.Response]


def make_core(handler: Handler, *, max_response_bytes: int = CAP) -> HTTPCore:
    """An HTTPCore without retries on a MockTransport."""
    return HTTPCore(
        provider="talkifai",
        base_url=BASE,
        credential_hint="pass token=",
        http_client=http.AsyncClient(transport=http.MockTransport(handler)),
        max_retries=0,
        max_response_bytes=max_response_bytes,
    )


class EndlessBody:
    """A streamed body of *total* bytes that counts how much of it was pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in CHUNK-sized pieces, counting each."""
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield b" " * CHUNK


async def test_a_body_over_the_cap_fails_without_being_read_whole() -> None:
    """A 100 MB streamed body stops with ResponseFormatError just past the cap."""
    body = EndlessBody(100 * 1024 * 1024)
    core = make_core(lambda _: http.Response(200, content=body.stream()))
    with pytest.raises(errors.ResponseFormatError, match=f"larger than {CAP} bytes"):
        await core.request_json("GET", URL)
    assert CAP < body.pulled <= CAP + 2 * CHUNK


async def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    """A Content-Length over the cap fails before a single byte of the body is pulled."""
    body = EndlessBody(100 * 1024 * 1024)
    core = make_core(
        lambda _: http.Response(
            200, content=body.stream(), headers={"Content-Length": str(body.total)}
        )
    )
    with pytest.raises(errors.ResponseFormatError, match="max_response_bytes"):
        await core.request_json("GET", URL)
    assert body.pulled == 0


async def test_a_body_just_under_the_cap_is_read() -> None:
    """A JSON body of exactly the cap is accepted."""
    payload = json.dumps({"pad": "x" * (CAP - 11)}).encode()
    assert len(payload) == CAP
    core = make_core(lambda _: http.Response(200, content=payload))
    assert await core.request_json("GET", URL) == {"pad": "x" * (CAP - 11)}


async def test_a_gzip_body_is_decoded() -> None:
    """A gzip-encoded JSON body is decoded transparently."""
    data = {"messages": [{"role": "user", "content": "hi"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        return http.Response(
            200,
            content=gzip.compress(json.dumps(data).encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    assert await make_core(handler).request_json("GET", URL) == data


async def test_a_gzip_bomb_is_cut_off_by_its_decoded_size() -> None:
    """A small gzip body that inflates past the cap fails: decoded bytes are counted."""
    bomb = gzip.compress(b"[" + b" " * (50 * CAP) + b"]")
    assert len(bomb) < CAP

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(bomb), 256):
            yield bomb[start : start + 256]

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        return http.Response(
            200,
            content=stream(),
            headers={"Content-Encoding": "gzip", "Content-Length": str(len(bomb))},
        )

    with pytest.raises(errors.ResponseFormatError, match="larger than"):
        await make_core(handler).request_json("GET", URL)


async def test_a_corrupt_gzip_body_is_a_response_format_error() -> None:
    """A body that claims gzip but is not says so."""

    async def stream() -> AsyncIterator[bytes]:
        yield b"this is not gzip"

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        return http.Response(200, content=stream(), headers={"Content-Encoding": "gzip"})

    with pytest.raises(errors.ResponseFormatError, match="does not decode as gzip"):
        await make_core(handler).request_json("GET", URL)


@pytest.mark.parametrize(
    ("content", "content_type", "shown"),
    [
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html", "<!DOCTYPE html>"),
        (b'{"messages": [{"role": "us', "application/json", '{"messages"'),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "PNG"),
        (b"OK", "text/plain", "OK"),
    ],
    ids=["html", "truncated-json", "binary", "plain-text"],
)
async def test_a_success_body_that_is_not_json_is_a_response_format_error(
    content: bytes, content_type: str, shown: str
) -> None:
    """A 200 whose body is not JSON says so, with the content type and how the body starts."""
    core = make_core(
        lambda _: http.Response(200, content=content, headers={"Content-Type": content_type})
    )
    with pytest.raises(errors.ResponseFormatError) as info:
        await core.request_json("GET", URL)
    message = str(info.value)
    assert "not JSON" in message
    assert content_type in message
    assert shown in message
    assert "GET /v1/chat/sessions/c1/messages" in message


async def test_an_empty_success_body_says_it_was_empty() -> None:
    """A 200 with no body at all is a ResponseFormatError calling the body empty."""
    core = make_core(lambda _: http.Response(200))
    with pytest.raises(errors.ResponseFormatError, match="empty"):
        await core.request_json("GET", URL)


async def test_json_with_a_wrong_content_type_is_still_read() -> None:
    """Vendors mislabel JSON; the body decides, not the Content-Type header."""
    core = make_core(
        lambda _: http.Response(200, content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    )
    assert await core.request_json("GET", URL) == {"a": 1}


async def test_a_preview_is_short() -> None:
    """The quoted start of an unexpected body is short, however long the body."""
    core = make_core(lambda _: http.Response(200, text="<html>" + "x" * 50_000))
    with pytest.raises(errors.ResponseFormatError) as info:
        await core.request_json("GET", URL)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["nested-too-deep", "integer-too-long"],
)
async def test_json_python_cannot_hold_is_a_response_format_error(content: bytes) -> None:
    """Nesting deeper than the parser's stack, or a 5000-digit number, is a format error."""
    core = make_core(lambda _: http.Response(200, content=content), max_response_bytes=10**6)
    with pytest.raises(errors.ResponseFormatError, match="not JSON"):
        await core.request_json("GET", URL)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1000", True])
def test_max_response_bytes_must_be_a_positive_integer(bad: object) -> None:
    """A cap of zero, negative, fractional, string or boolean is a ConfigurationError."""
    with pytest.raises(errors.ConfigurationError, match="max_response_bytes"):
        HTTPCore(
            provider="p",
            base_url=BASE,
            credential_hint="",
            max_response_bytes=bad,  # type: ignore[arg-type]
        )
