"""
The ``speed`` extra changes costs, never results: same values decoded, same values stored.

Run by ``nox -s speed`` with the extra installed, and by the ``tests`` session without it:
each test that needs a package of the extra skips where it is missing, and the fallback
tests force the standard library path either way.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sqlite3
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backscroll import _speed
from backscroll._converter import to_dict
from backscroll.providers import CursorProvider, TalkifaiProvider
from backscroll.sandbox import CURSOR_API_KEY, TALKIFAI_TOKEN, Sandbox
from backscroll.sinks import JsonlSink, SqliteSink

if TYPE_CHECKING:
    from pathlib import Path

    from backscroll import Message

ORJSON = importlib.util.find_spec("orjson") is not None
AIOHTTP = importlib.util.find_spec("httpx_aiohttp") is not None and (
    importlib.util.find_spec("sniffio") is not None
)
needs_orjson = pytest.mark.skipif(not ORJSON, reason="the speed extra (orjson) is not installed")
needs_aiohttp = pytest.mark.skipif(
    not AIOHTTP, reason="the speed extra (httpx-aiohttp, sniffio) is not installed"
)

# Any JSON value the standard library reads: large integers and every float included.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


@pytest.fixture
def stdlib_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the extra were not installed."""
    monkeypatch.setattr(_speed, "_orjson", None)
    monkeypatch.setattr(_speed, "_httpx_aiohttp", None)


@given(json_values)
def test_loads_gives_what_the_standard_library_gives(value: Any) -> None:
    """Any body the standard library writes decodes to the same value, types included."""
    for ascii_only in (True, False):
        body = json.dumps(value, ensure_ascii=ascii_only).encode()
        assert repr(_speed.loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b"NaN",
        b"[Infinity, -Infinity]",
        b"18446744073709551616",
        b"-9223372036854775809",
        b'{"id": 12345678901234567890123}',
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        b"1e400",
        b"-0",
    ],
    ids=repr,
)
def test_loads_takes_what_orjson_refuses_from_the_standard_library(body: bytes) -> None:
    """NaN, big integers, lone surrogates, a BOM, UTF-16: decoded exactly as json.loads does."""
    assert repr(_speed.loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"", b"<html>", b"[1,]", b"\xff"], ids=repr)
def test_loads_refuses_what_the_standard_library_refuses(body: bytes) -> None:
    """A body that is not JSON raises ValueError, whichever parser ran first."""
    with pytest.raises(ValueError):  # noqa: PT011 - json.loads's own error, no message to match
        _speed.loads(body)


@given(json_values)
def test_dumps_row_is_lossless(value: Any) -> None:
    """Every row decodes to the value it was made from."""
    assert json.loads(_speed.dumps_row(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        {"a": math.nan},
        [math.inf, -math.inf],
        {"n": 2**70},
        {"text": "lone \ud800 surrogate"},
    ],
    ids=repr,
)
def test_dumps_row_keeps_what_orjson_cannot_write(value: Any) -> None:
    """NaN and infinities (orjson writes null), big integers and lone surrogates survive."""
    back = json.loads(_speed.dumps_row(value))
    assert repr(back) == repr(value)


@pytest.mark.usefixtures("stdlib_only")
def test_without_the_extra_rows_are_the_standard_librarys_bytes() -> None:
    """Without orjson a row is exactly ``json.dumps(value, ensure_ascii=False)`` in UTF-8."""
    value = {"content": "héllo ✓", "n": [1, 2.5, None], "x": 1e-7}
    assert _speed.dumps_row(value) == json.dumps(value, ensure_ascii=False).encode()
    assert _speed.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}


@pytest.mark.usefixtures("stdlib_only")
def test_without_the_extra_the_client_keeps_httpx_transport() -> None:
    """Without httpx-aiohttp backscroll's own client gets httpx's default transport."""
    assert _speed.default_transport() is None


@needs_orjson
def test_the_extra_writes_compact_rows_of_the_same_values() -> None:
    """With orjson a row is compact JSON: other bytes, the same values (documented)."""
    value = {"content": "héllo ✓", "n": [1, 2.5, None]}
    row = _speed.dumps_row(value)
    assert row == b'{"content":"h\xc3\xa9llo \xe2\x9c\x93","n":[1,2.5,null]}'
    assert json.loads(row) == value


async def _messages(sandbox: Sandbox) -> list[Message]:
    messages: list[Message] = []
    for conversation_id in sandbox.data.cursor:
        async with sandbox.cursor() as provider:
            messages += [m async for m in provider.messages(conversation_id)]
    return messages


@pytest.mark.anyio
@pytest.mark.parametrize("sink_kind", ["jsonl", "sqlite"])
async def test_sinks_store_the_same_values_with_and_without_orjson(
    sink_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each stored row decodes to the same `to_dict` form whichever encoder wrote it."""
    messages = await _messages(Sandbox(seed=5, cursor_sizes=(60,)))
    stored: list[list[Any]] = []
    for run, orjson in enumerate((_speed._orjson, None)):
        monkeypatch.setattr(_speed, "_orjson", orjson)
        path = tmp_path / f"run{run}.{sink_kind}"
        if sink_kind == "jsonl":
            async with JsonlSink(path) as jsonl:
                await jsonl.write(messages)
            rows = path.read_bytes().splitlines()
        else:
            async with SqliteSink(path) as sqlite:
                await sqlite.write(messages)
            with sqlite3.connect(path) as connection:
                rows = [r[0] for r in connection.execute("SELECT data FROM messages ORDER BY id")]
            connection.close()
        stored.append(sorted((json.loads(row) for row in rows), key=lambda d: d["id"]))
    expected = sorted((to_dict(m) for m in messages), key=lambda d: d["id"])
    assert stored[0] == stored[1] == json.loads(json.dumps(expected))


@needs_aiohttp
@pytest.mark.anyio
@pytest.mark.parametrize("vendor", ["talkifai", "cursor"])
async def test_providers_read_the_same_messages_through_either_transport(
    vendor: str, anyio_backend: tuple[str, dict[str, object]]
) -> None:
    """Over loopback, aiohttp on asyncio and httpx's own on trio read the same; both closed."""
    sandbox = Sandbox(seed=7, talkifai_sizes=(230,), cursor_sizes=(230,))
    history = getattr(sandbox.data, vendor)
    conversation_id = next(k for k, v in history.items() if len(v) == 230)
    async with sandbox.serving() as url:
        provider: TalkifaiProvider | CursorProvider
        if vendor == "talkifai":
            provider = TalkifaiProvider(token=TALKIFAI_TOKEN, base_url=f"{url}/talkifai")
        else:
            provider = CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{url}/cursor/v1")
        async with provider:
            got = [m async for m in provider.messages(conversation_id)]
            transport = provider._http._client._transport
            assert isinstance(transport, _speed._ByEventLoop)
            used_aiohttp = transport._aiohttp is not None
            used_httpx = transport._httpx is not None
        if used_aiohttp:  # closing the provider closed aiohttp's session
            assert transport._aiohttp is not None
            assert transport._aiohttp.client.closed  # type: ignore[attr-defined]
        async with getattr(sandbox, vendor)() as reference:
            expected = [m async for m in reference.messages(conversation_id)]
    assert got == expected
    assert len(got) == 230
    assert (used_aiohttp, used_httpx) == (
        (True, False) if anyio_backend[0] == "asyncio" else (False, True)
    )


@needs_aiohttp
@pytest.mark.anyio
async def test_a_callers_client_is_used_as_given() -> None:
    """With the extra installed, an ``http_client`` passed in keeps its own transport."""
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json={"messages": []}))
    async with httpx.AsyncClient(transport=transport) as client:
        provider = TalkifaiProvider(token=TALKIFAI_TOKEN, http_client=client)
        async with provider:
            assert [m async for m in provider.messages("chat_1")] == []
            assert provider._http._client._transport is transport
