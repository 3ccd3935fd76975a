"""Credentials that cannot travel, base URLs that hold secrets, and echoed keys in any form."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from backscroll import ConvaiProvider, CursorProvider, TalkifaiProvider, errors
from backscroll._http import Redactor

pytestmark = pytest.mark.anyio

KEY = "sk_live/ab+cd=ef&gh<ij"
Build = Callable[..., Any]
PROVIDERS = [
    pytest.param(lambda key, **kw: CursorProvider(api_key=key, **kw), id="cursor"),
    pytest.param(lambda key, **kw: TalkifaiProvider(token=key, **kw), id="talkifai"),
    pytest.param(
        lambda key, **kw: ConvaiProvider(api_key=key, character_id="c", **kw), id="convai"
    ),
]
UNSENDABLE = [
    pytest.param("clé-secrète-1234", id="non-ascii"),
    pytest.param("key\ud800-surrogate", id="lone-surrogate"),
    pytest.param("key\x00-1234-nul", id="nul"),
    pytest.param("key\x1b[31m-1234", id="escape"),
    pytest.param("key-1234-abcd\n", id="trailing-newline"),
    pytest.param("key-1234\r\nX-Evil: 1", id="header-injection"),
    pytest.param(" key-1234-abcd", id="leading-space"),
    pytest.param("abc", id="too-short"),
]


@pytest.mark.parametrize("build", PROVIDERS)
@pytest.mark.parametrize("key", UNSENDABLE)
def test_a_credential_that_cannot_be_a_header_is_refused(build: Build, key: str) -> None:
    """A key no header can carry is a ConfigurationError at construction, never quoted."""
    with pytest.raises(errors.ConfigurationError, match="HTTP header") as info:
        build(key)
    shown = str(info.value) + repr(info.value)
    assert key not in shown
    assert key.strip()[:6] not in shown


@pytest.mark.parametrize("key", UNSENDABLE)
async def test_a_token_callable_returning_an_unsendable_token(key: str) -> None:
    """A token callable's bad answer is a ConfigurationError, never a UnicodeEncodeError."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    async with TalkifaiProvider(token=lambda _: key, http_client=client) as provider:
        with pytest.raises(errors.ConfigurationError) as info:
            [m async for m in provider.messages("c1")]
    assert key not in str(info.value)


@pytest.mark.parametrize("build", PROVIDERS)
@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.example.com/v1?token=supersecret123",
        "https://api.example.com/v1#supersecret123",
        "ftp://api.example.com/?token=supersecret123",
        "https://user:supersecret123@api.example.com/v1",
        "https://[bad/?token=supersecret123",
    ],
    ids=["query", "fragment", "scheme", "userinfo", "invalid"],
)
def test_a_base_url_secret_is_never_printed(build: Build, base_url: str) -> None:
    """A base_url holding a secret is refused without the secret in the message."""
    with pytest.raises(errors.ConfigurationError) as info:
        build("key-1234-abcd", base_url=base_url)
    assert "supersecret123" not in str(info.value)


ECHOES = {
    "plain": KEY,
    "percent-upper": quote(KEY, safe=""),
    "percent-lower": quote(KEY, safe="").lower(),
    "json": json.dumps(KEY)[1:-1],
    "json-slash": json.dumps(KEY)[1:-1].replace("/", "\\/"),
    "json-unicode": "".join(f"\\u{ord(c):04x}" for c in KEY),
    "json-unicode-upper": "".join(f"\\u{ord(c):04X}" for c in KEY),
    "json-html-safe": json.dumps(KEY)[1:-1].replace("<", "\\u003c").replace("&", "\\u0026"),
    "html": html.escape(KEY),
    "html-decimal": "".join(f"&#{ord(c)};" for c in KEY),
    "html-hex": "".join(f"&#x{ord(c):x};" for c in KEY),
    "form": quote(KEY, safe="").replace("%2B", "+"),
}


@pytest.mark.parametrize("form", ECHOES.values(), ids=ECHOES.keys())
def test_every_echoed_form_of_a_key_is_redacted(form: str) -> None:
    """The key is hidden in every form a vendor may echo it in."""
    assert Redactor([KEY])(f"vendor said <{form}>.") == "vendor said <[REDACTED]>."


@pytest.mark.parametrize("form", ECHOES.values(), ids=ECHOES.keys())
async def test_an_echoed_key_never_reaches_the_error(form: str) -> None:
    """A vendor's error page echoing the key, in any form, is quoted redacted."""
    body = f'{{"message": "bad key {form}"}}'.encode()
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(401, content=body))
    )
    async with CursorProvider(api_key=KEY, http_client=client, max_retries=0) as provider:
        with pytest.raises(errors.AuthenticationError) as info:
            [m async for m in provider.messages("c1")]
    assert form not in str(info.value)
    assert "[REDACTED]" in str(info.value)
