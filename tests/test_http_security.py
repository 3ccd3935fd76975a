"""Credentials stay hidden, hostile ids stay inside their path segment, and http:// is refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest

from backscroll import (
    ConvaiProvider,
    CursorProvider,
    TalkifaiProvider,
    errors,
)
from backscroll._http import HTTPCore, Redactor

if TYPE_CHECKING:
    from backscroll._provider import HTTPProvider

pytestmark = pytest.mark.anyio

# Random-looking, so that no fragment of them appears in a message by chance.
CONVAI_KEY = "cvk7f3a9c1e5b2d40688e1f"
TALKIFAI_TOKEN = "tkf_93be0c1d27a64f5e8b"
CALLABLE_TOKEN = "tkc_5d1e8a2f7c9b40e3a6"
CURSOR_KEY = "sk_test_51_c8e2a9f4d1b7"
Handler = Callable[[httpx.Request], httpx.Response]


def convai(handler: Handler) -> HTTPProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ConvaiProvider(
        api_key=CONVAI_KEY, character_id="char-1", http_client=client, max_retries=0
    )


def talkifai(handler: Handler) -> HTTPProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return TalkifaiProvider(token=TALKIFAI_TOKEN, http_client=client, max_retries=0)


def talkifai_callable(handler: Handler) -> HTTPProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return TalkifaiProvider(token=lambda _: CALLABLE_TOKEN, http_client=client, max_retries=0)


def cursor(handler: Handler) -> HTTPProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return CursorProvider(api_key=CURSOR_KEY, http_client=client, max_retries=0)


PROVIDERS = [
    pytest.param(convai, CONVAI_KEY, id="convai"),
    pytest.param(talkifai, TALKIFAI_TOKEN, id="talkifai"),
    pytest.param(talkifai_callable, CALLABLE_TOKEN, id="talkifai-callable"),
    pytest.param(cursor, CURSOR_KEY, id="cursor"),
]


def credential_of(request: httpx.Request) -> str:
    """The credential the provider sent, read back the way a vendor would."""
    if "CONVAI-API-KEY" in request.headers:
        return request.headers["CONVAI-API-KEY"]
    return request.headers["Authorization"].removeprefix("Bearer ")


def assert_hidden(text: str, secret: str) -> None:
    """Neither the secret nor any 8-character piece of it appears in *text*."""
    for start in range(len(secret) - 7):
        assert secret[start : start + 8] not in text, text


# Echoes of the credential, placed so that a cut at 80, 200 or 300 characters made before
# redacting would leave part of it behind.
ECHOES: list[tuple[str, Callable[[str], httpx.Response]]] = [
    ("convai-401", lambda s: httpx.Response(401, json={"ERROR": f"Invalid API key {s}"})),
    ("convai-200", lambda s: httpx.Response(200, json={"ERROR": f"Invalid API key {s}."})),
    ("talkifai-403", lambda s: httpx.Response(403, json={"detail": f"token {s} != session"})),
    (
        "cursor-404",
        lambda s: httpx.Response(
            404, json={"status": "error", "message": f"{'.' * 290}{s}", "data": None}
        ),
    ),
    (
        "cursor-200",
        lambda s: httpx.Response(200, json={"status": "error", "message": f"bad key {s}"}),
    ),
    ("list", lambda s: httpx.Response(422, json={"detail": [{"msg": "x" * 167, "input": s}]})),
    (
        "json-escaped",
        lambda s: httpx.Response(400, json={"error": {"header": f'Bearer "{s}"'}}),
    ),
    ("html-500", lambda s: httpx.Response(500, text=f"<html>{'-' * 184}{s}</html>")),
    ("html-200", lambda s: httpx.Response(200, text=f"<html><body>{'-' * 58}{s}</body></html>")),
    ("request-id", lambda s: httpx.Response(500, headers={"X-Request-Id": s})),
]


async def drain(provider: HTTPProvider, conversation_id: str = "conv-1") -> list[Any]:
    return [m async for m in provider.messages(conversation_id)]


@pytest.mark.parametrize(("make", "secret"), PROVIDERS)
@pytest.mark.parametrize(("echo", "answer"), ECHOES, ids=[e for e, _ in ECHOES])
async def test_echoed_credential_never_reaches_errors_or_logs(
    make: Callable[[Handler], HTTPProvider],
    secret: str,
    echo: str,
    answer: Callable[[str], httpx.Response],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A vendor error that quotes the credential is redacted in str, repr, attributes and logs."""
    del echo
    caplog.set_level(logging.DEBUG, logger="backscroll")
    provider = make(lambda request: answer(credential_of(request)))
    with pytest.raises(errors.BackscrollError) as info:
        await drain(provider)
    exc = info.value
    shown = [str(exc), repr(exc), repr(provider), caplog.text]
    if isinstance(exc, errors.APIStatusError):
        shown += [str(exc.vendor_message), str(exc.request_id)]
    for text in shown:
        assert_hidden(text, secret)
    assert caplog.records, "the request should have been logged"


@pytest.mark.parametrize(("make", "secret"), PROVIDERS)
async def test_credential_in_a_transport_error_is_redacted(
    make: Callable[[Handler], HTTPProvider], secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection error whose text holds the credential is redacted."""
    caplog.set_level(logging.DEBUG, logger="backscroll")

    def handler(request: httpx.Request) -> httpx.Response:
        msg = f"proxy refused Authorization: {credential_of(request)}"
        raise httpx.ConnectError(msg, request=request)

    with pytest.raises(errors.APIConnectionError) as info:
        await drain(make(handler))
    assert "[REDACTED]" in str(info.value)
    for text in (str(info.value), repr(info.value), caplog.text):
        assert_hidden(text, secret)


@pytest.mark.parametrize(("make", "secret"), PROVIDERS)
def test_repr_of_a_provider_hides_its_credential(
    make: Callable[[Handler], HTTPProvider], secret: str
) -> None:
    """repr() of a provider, its HTTP core and its redactor never show the credential."""
    provider = make(lambda _: httpx.Response(200))
    for text in (repr(provider), repr(provider._http), repr(provider._http.redact)):
        assert_hidden(text, secret)


async def test_redaction_is_what_hides_the_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With redaction switched off the same echo shows the key, so the tests above can fail."""

    def no_redaction(_redactor: object, text: str) -> str:
        return text

    monkeypatch.setattr("backscroll._http.Redactor.__call__", no_redaction)
    provider = cursor(lambda r: httpx.Response(401, json={"message": credential_of(r)}))
    with pytest.raises(errors.AuthenticationError) as info:
        await drain(provider)
    assert CURSOR_KEY in str(info.value)


async def test_each_request_is_logged_at_debug_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each attempt is one DEBUG line: provider, method, host, path, outcome, attempt."""
    caplog.set_level(logging.DEBUG, logger="backscroll")
    provider = talkifai(lambda _: httpx.Response(200, json={"messages": []}))
    await drain(provider, "conv-1")
    lines = [r.getMessage() for r in caplog.records if r.name == "backscroll"]
    assert len(lines) == 1
    assert lines[0].startswith(
        "talkifai GET api.talkifai.dev /v1/chat/sessions/conv-1/messages -> 200 (attempt 1/1,"
    )
    assert_hidden(caplog.text, TALKIFAI_TOKEN)


HOSTILE_IDS = [
    ("../../admin", "..%2F..%2Fadmin"),
    ("a/b?c", "a%2Fb%3Fc"),
    ("%2F", "%252F"),
    ("#frag", "%23frag"),
    ("a\r\nX-Injected: 1", "a%0D%0AX-Injected%3A%201"),
    ("café-☕", "caf%C3%A9-%E2%98%95"),
    (".", "%2E"),
    ("..", "%2E%2E"),
    ("a b", "a%20b"),
    ("?limit=1&offset=99", "%3Flimit%3D1%26offset%3D99"),
    ("@evil.example", "%40evil.example"),
    ("x" * 5000, "x" * 5000),
]


@pytest.mark.parametrize(
    ("conversation_id", "encoded"), HOSTILE_IDS, ids=[f"id{i}" for i in range(len(HOSTILE_IDS))]
)
async def test_hostile_talkifai_id_stays_inside_its_path_segment(
    conversation_id: str, encoded: str
) -> None:
    """A hostile id cannot change the host, the path around it, the query or the headers."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"messages": []})

    await drain(talkifai(handler), conversation_id)
    assert len(seen) == 1
    request = seen[0]
    assert (request.url.scheme, request.url.host, request.url.port) == (
        "https",
        "api.talkifai.dev",
        None,
    )
    raw_path, _, query = request.url.raw_path.partition(b"?")
    assert raw_path == b"/v1/chat/sessions/" + encoded.encode() + b"/messages"
    assert dict(request.url.params) == {"limit": "100", "offset": "0"}
    assert query == b"limit=100&offset=0"
    assert request.headers["Authorization"] == f"Bearer {TALKIFAI_TOKEN}"
    assert "x-injected" not in request.headers
    assert sorted(request.headers) == [
        "accept",
        "accept-encoding",
        "authorization",
        "connection",
        "host",
        "user-agent",
    ]


async def test_an_id_too_long_for_a_url_is_a_configuration_error() -> None:
    """An id past httpx's URL length limit is refused before any request is sent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"messages": []})

    with pytest.raises(errors.ConfigurationError, match="Check the ids"):
        await drain(talkifai(handler), "x" * 100_000)
    assert seen == []


async def test_a_hostile_cursor_id_stays_one_query_value() -> None:
    """An id full of query syntax is sent as the one conversation_id value, nothing more."""
    seen: list[httpx.Request] = []
    hostile = "con_1&limit=1&conversation_id=other#x"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"status": "success", "data": {"messages": []}, "pagination": {"has_more": False}},
        )

    await drain(cursor(handler), hostile)
    params = seen[0].url.params
    assert params.get_list("conversation_id") == [hostile]
    assert params.get_list("limit") == ["100"]
    assert seen[0].url.raw_path.startswith(b"/v1/chat/history?")


async def test_a_hostile_convai_id_stays_in_the_json_body() -> None:
    """Convai ids travel in the JSON body; the URL stays the documented endpoint."""
    seen: list[httpx.Request] = []
    hostile = "../../delete\r\nX-Evil: 1"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    await drain(convai(handler), hostile)
    assert seen[0].url == httpx.URL("https://api.convai.com/character/chatHistory/details")
    assert json.loads(seen[0].content) == {"charID": "char-1", "sessionID": hostile}


async def test_requests_never_leave_the_base_url() -> None:
    """A URL outside the base URL (another host, or a sibling path) is refused unsent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    core = HTTPCore(
        provider="cursor",
        base_url="https://api.example-ai.com/v1",
        credential_hint="",
        http_client=client,
    )
    for url in (
        "https://evil.example/v1/chat/history",
        "https://api.example-ai.com/v1evil/chat/history",
        "http://api.example-ai.com/v1/chat/history",
        "https://api.example-ai.com:8443/v1/chat/history",
    ):
        with pytest.raises(errors.ConfigurationError, match="refusing"):
            await core.request_json("GET", url, headers={"Authorization": "Bearer x"})
    assert seen == []


REMOTE_HTTP = [
    "http://api.convai.com",
    "http://10.0.0.1",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "http://evil.localhost",
    "http://[::ffff:8.8.8.8]",
]
LOOPBACK_HTTP = [
    "http://127.0.0.1:8000",
    "http://127.5.5.5",
    "http://localhost:8000",
    "http://LOCALHOST",
    "http://[::1]:9000",
]
CONSTRUCTORS: list[Callable[..., HTTPProvider]] = [
    lambda **kw: ConvaiProvider(api_key=CONVAI_KEY, character_id="c", **kw),
    lambda **kw: TalkifaiProvider(token=TALKIFAI_TOKEN, **kw),
    lambda **kw: CursorProvider(api_key=CURSOR_KEY, **kw),
]
CONSTRUCTOR_IDS = ["convai", "talkifai", "cursor"]


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=CONSTRUCTOR_IDS)
@pytest.mark.parametrize("base_url", REMOTE_HTTP)
def test_plain_http_to_a_remote_host_is_refused(
    make: Callable[..., HTTPProvider], base_url: str
) -> None:
    """http:// to a host that is not loopback is a ConfigurationError naming the way out."""
    with pytest.raises(errors.ConfigurationError, match="allow_insecure_http=True"):
        make(base_url=base_url)


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=CONSTRUCTOR_IDS)
def test_plain_http_to_a_remote_host_is_allowed_when_asked(
    make: Callable[..., HTTPProvider],
) -> None:
    """allow_insecure_http=True lets a non-loopback http:// base URL through."""
    assert make(base_url="http://api.convai.com", allow_insecure_http=True).base_url == (
        "http://api.convai.com"
    )


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=CONSTRUCTOR_IDS)
@pytest.mark.parametrize("base_url", LOOPBACK_HTTP)
def test_plain_http_to_loopback_is_allowed(
    make: Callable[..., HTTPProvider], base_url: str
) -> None:
    """http:// to 127.0.0.0/8, localhost or ::1 needs no opt-in."""
    assert make(base_url=base_url).base_url.startswith("http://")


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://api.convai.com",
        "api.convai.com",
        "https://",
        "https://api.convai.com/?debug=1",
        "https://api.convai.com/#x",
        "https://[::1",
    ],
)
def test_unusable_base_urls_are_refused(base_url: str) -> None:
    """A base URL without http(s) and a host, or with a query or fragment, is refused."""
    with pytest.raises(errors.ConfigurationError, match="base_url"):
        TalkifaiProvider(token=TALKIFAI_TOKEN, base_url=base_url)


def test_a_base_url_with_a_password_is_refused_without_showing_it() -> None:
    """user:password@ in a base URL is refused, and the password is not in the message."""
    with pytest.raises(errors.ConfigurationError, match="user name or password") as info:
        CursorProvider(api_key=CURSOR_KEY, base_url="https://me:hunter2secret@api.example.com")
    assert "hunter2secret" not in str(info.value)


async def test_credential_echoed_in_a_misshapen_success_body_is_redacted() -> None:
    """A 200 body of the wrong shape that quotes the key does not leak it through describe()."""
    provider = cursor(
        lambda r: httpx.Response(
            200, json={"status": "success", "data": f"bad key {credential_of(r)}"}
        )
    )
    with pytest.raises(errors.ResponseFormatError) as info:
        await drain(provider)
    assert_hidden(str(info.value), CURSOR_KEY)


def test_redactor_replaces_the_longer_of_overlapping_secrets_whole() -> None:
    """A secret that contains another is replaced whole, not left half visible."""
    redact = Redactor(["abcd", "abcd-efgh-ijkl"])
    assert redact("key abcd-efgh-ijkl and abcd") == "key [REDACTED] and [REDACTED]"


def test_redactor_hides_url_and_json_escaped_forms() -> None:
    """The URL-encoded and JSON-escaped forms of a secret are hidden too."""
    secret = 'to/k"en+é=='
    redact = Redactor([secret])
    for shown in (quote(secret, safe=""), json.dumps(secret)[1:-1], secret):
        assert redact(f"<{shown}>") == "<[REDACTED]>"


def test_redactor_ignores_secrets_too_short_to_hide_safely() -> None:
    """Secrets under four characters are not redacted (they would blank out ordinary text)."""
    assert Redactor(["abc", "", None])("abc") == "abc"  # type: ignore[list-item]


def test_redactor_excerpt_redacts_before_cutting() -> None:
    """excerpt() never leaves part of a secret that straddles the cut."""
    redact = Redactor(["s3cr3t-t0k3n-value"])
    text = "x" * 70 + "s3cr3t-t0k3n-value" + "y" * 100
    assert redact.excerpt(text, 80) == "x" * 70 + "[REDACTED"[:7] + "..."
