"""
The ``speed`` extra, in one place: orjson for JSON and aiohttp under httpx, when installed.

``pip install 'backscroll[speed]'`` adds three packages; without them nothing here changes
what the core does, and nothing else in backscroll imports them:

- **orjson** decodes every page (`loads`) and encodes every sink row (`dumps_row`). It is
  stricter than the standard library, so whatever it refuses goes to the standard library,
  which decides: NaN and infinities, integers past 64 bits, lone surrogates, a byte-order
  mark, UTF-16 bodies. One thing orjson does not refuse but changes, an integer past 64
  bits read as a float, is kept from it by sending any run of 19 or more digits to the
  standard library. So `loads` gives exactly what `json.loads` gives, or raises the same
  `ValueError`. `dumps_row` writes compact JSON (no spaces after ``,`` and ``:``) and
  orjson's float notation (``1e-7``, not ``1e-07``): the same values, other bytes. A
  non-finite float, which orjson would write as ``null``, goes to the standard library.
- **sniffio**: httpcore asks it which event loop runs, and without it retries a failed
  import on every lock it creates (encode/httpcore#1103).
- **httpx-aiohttp** (by an httpx maintainer): an httpx transport that sends through
  aiohttp, whose HTTP/1.1 client costs about a third of httpcore's CPU per request.
  `default_transport` uses it on asyncio only; on trio, httpx's own transport. A caller's
  ``http_client`` is used as given.

Why a library and not our own transport: httpx-aiohttp already maps aiohttp's errors onto
httpx's, streams the body and honours httpx's timeouts, in one small, typed module.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import TYPE_CHECKING, Any, Final

import httpx

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

__all__ = ["default_transport", "dumps_row", "loads", "speed_installed"]


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_orjson: Final = _optional("orjson")
_sniffio: Final = _optional("sniffio")
_httpx_aiohttp: Final = _optional("httpx_aiohttp") if _sniffio is not None else None

# One encoder for every row: json.dumps builds a new one per call whenever an option
# differs from its defaults, which costs more than encoding a short message.
_encode: Final = json.JSONEncoder(ensure_ascii=False).encode
# A run of 19 digits may be an integer orjson would read as a float (past 64 bits). Found
# by mapping every digit to "0" and anything else to " ", then searching for 19 zeros:
# both in C, a twentieth of what a regular expression takes on a page.
_DIGITS: Final = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))  # noqa: PLR2004
_LONG_RUN: Final = b"0" * 19


def speed_installed() -> dict[str, bool]:
    """Which parts of the ``speed`` extra this process uses."""
    return {
        "orjson": _orjson is not None,
        "sniffio": _sniffio is not None,
        "httpx-aiohttp": _httpx_aiohttp is not None,
    }


def loads(body: bytes) -> Any:
    """
    Decode a JSON body: what `json.loads` gives, or the same `ValueError`.

    Raises:
        ValueError: *body* is not JSON.
        RecursionError: *body* is nested deeper than the standard library's parser goes.
    """
    if _orjson is not None and _LONG_RUN not in body.translate(_DIGITS):
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass  # the standard library accepts more (NaN, a BOM, UTF-16), or raises
    return json.loads(body)


def dumps_row(data: Any) -> bytes:
    r"""
    One JSON document in UTF-8, lossless: non-ASCII as is, ``\u`` escapes only when needed.

    The standard library's text is ``json.dumps(data, ensure_ascii=False)``; orjson's is
    the same values, compact. A string holding a lone surrogate (which UTF-8 cannot carry)
    makes the document fall back to ASCII with ``\u`` escapes.
    """
    if _orjson is not None:
        try:
            text: bytes = _orjson.dumps(data)
        except TypeError:
            pass  # an integer past 64 bits, a lone surrogate: the standard library's
        else:
            if b"null" not in text or _finite(data):
                return text
    try:
        return _encode(data).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


def _finite(value: object) -> bool:
    # orjson writes NaN and the infinities as null; the standard library keeps them.
    kind = type(value)
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    if kind is dict:
        return all(_finite(item) for item in value.values())  # type: ignore[attr-defined]
    if kind is list:
        return all(_finite(item) for item in value)  # type: ignore[attr-defined]
    return True


class _ByEventLoop(httpx.AsyncBaseTransport):
    """aiohttp's transport on asyncio, httpx's own elsewhere; each made on first use."""

    def __init__(self, aiohttp_transport: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._make_aiohttp = aiohttp_transport
        self._aiohttp: httpx.AsyncBaseTransport | None = None
        self._httpx: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _sniffio is not None and _sniffio.current_async_library() == "asyncio":
            if self._aiohttp is None:
                self._aiohttp = self._make_aiohttp()
            return await self._aiohttp.handle_async_request(request)
        if self._httpx is None:
            self._httpx = httpx.AsyncHTTPTransport()
        return await self._httpx.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._aiohttp, self._httpx):
            if transport is not None:
                await transport.aclose()


def default_transport() -> httpx.AsyncBaseTransport | None:
    """
    The transport for a client backscroll creates: ``None`` (httpx's) without the extra.

    With httpx-aiohttp installed, a transport that sends through aiohttp on asyncio and
    through httpx's own transport on trio. Proxies from the environment still go through
    httpx's proxy transports, which `httpx.AsyncClient` mounts beside this one.
    """
    if _httpx_aiohttp is None:
        return None
    return _ByEventLoop(_httpx_aiohttp.AiohttpTransport)
