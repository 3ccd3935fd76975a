"""The in-process transport: the sandbox app through httpx, sockets and all simulated."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from backscroll.sandbox._fault_layer import IN_PROCESS, ConnectionDropped

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """
    An httpx transport that runs the sandbox app in-process, sockets and all simulated.

    It delegates to `httpx.ASGITransport` and turns a dropped connection into what a
    socket would give: `httpx.ConnectError` when nothing was sent, `httpx.ReadError` when
    the answer broke off.

    .. versionadded:: 0.1.0
    """

    def __init__(self, app: ASGIApp) -> None:
        async def in_process(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions[IN_PROCESS] = {}
            await app({**scope, "extensions": extensions}, receive, send)

        self._asgi = httpx.ASGITransport(app=in_process)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* to the app; a dropped connection raises like a socket would."""
        try:
            return await self._asgi.handle_async_request(request)
        except ConnectionDropped as exc:
            if exc.before:
                msg = "[sandbox] connection refused (fault injection)"
                raise httpx.ConnectError(msg, request=request) from None
            msg = "[sandbox] peer closed the connection mid-response (fault injection)"
            raise httpx.ReadError(msg, request=request) from None

    async def aclose(self) -> None:
        """Close the underlying ASGI transport."""
        await self._asgi.aclose()
