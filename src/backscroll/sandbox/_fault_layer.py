"""
The ASGI layer that carries a fault plan out, and records every request.

Latency, an error status (429 with ``Retry-After``, 5xx, a quota's 429), a dropped
connection, truncated JSON, an HTML error page with status 200, the wrong content type, or
a body trickling in.

A dropped connection cannot be expressed in ASGI: under uvicorn the layer starts the
response and raises mid-body, so uvicorn aborts the connection and the client sees a
protocol error. In-process, `backscroll.sandbox._transport.SandboxTransport` turns the same
exception into what a socket would have produced.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from starlette.responses import HTMLResponse

from backscroll.sandbox._fault_plan import Outcome, RequestRecord

if TYPE_CHECKING:
    import collections
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from backscroll.sandbox._fault_plan import FaultPlan, Faults, Target

__all__ = ["IN_PROCESS", "ConnectionDropped", "FaultLayer"]

IN_PROCESS: Final = "backscroll.sandbox.in_process"

_HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


class ConnectionDropped(Exception):  # noqa: N818 - it is an event, and never reaches a user
    """Raised inside the app to drop the connection (see the module docstring)."""

    def __init__(self, *, before: bool) -> None:
        super().__init__("backscroll sandbox: connection dropped on purpose (fault injection)")
        self.before = before


class _Captured:
    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> _Captured:
    captured = _Captured()
    parts: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    captured.body = b"".join(parts)
    return captured


def _with_headers(
    headers: list[tuple[bytes, bytes]], **replace: bytes
) -> list[tuple[bytes, bytes]]:
    names = {name.replace("_", "-").encode() for name in replace}
    kept = [(k, v) for k, v in headers if k.lower() not in names]
    return kept + [(name.replace("_", "-").encode(), value) for name, value in replace.items()]


class FaultLayer:
    """
    ASGI middleware that carries out the fault plan and records every request.

    Args:
        app: The app behind it.
        plan: The faults per vendor and route.
        classify: Which vendor route a path is (``None``: not a vendor route).
        log: Where each request is recorded.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        plan: FaultPlan,
        classify: Callable[[str], Target | None],
        log: collections.deque[RequestRecord],
    ) -> None:
        self.app = app
        self.plan = plan
        self.classify = classify
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = self.classify(scope["path"])
        drawn = self.plan.draw(target.vendor, target.route) if target else None
        outcome = drawn[1] if drawn else Outcome()
        status: list[int] = []

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            if drawn is None or target is None:
                await self.app(scope, receive, observed)
            else:
                faults = drawn[0]
                if faults.latency:
                    await self.plan.sleep(faults.latency)
                await self._carry_out(drawn, target, scope, receive, observed)
        finally:
            self.log.append(
                RequestRecord(
                    vendor=target.vendor if target else None,
                    route=target.route if target else None,
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status[0] if status else None,
                    fault=outcome.kind,
                )
            )

    async def _carry_out(  # noqa: C901 - one branch per kind of fault
        self,
        drawn: tuple[Faults, Outcome],
        target: Target,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        faults, outcome = drawn
        kind = outcome.kind
        if kind == "ok":
            await self.app(scope, receive, send)
            return
        if kind == "status":
            assert outcome.status is not None  # noqa: S101 - set with kind="status"
            response = target.error(outcome.status)
            hint = faults.retry_after_header()
            if hint is not None and outcome.status in _RETRY_AFTER_STATUSES:
                response.headers["Retry-After"] = hint
            await response(scope, receive, send)
            return
        if kind == "quota":
            response = target.error(429)
            assert outcome.retry_after is not None  # noqa: S101 - set with kind="quota"
            # Rounded up: a client that waits what it is told never lands in the window.
            response.headers["Retry-After"] = f"{math.ceil(outcome.retry_after * 1000) / 1000:g}"
            await response(scope, receive, send)
            return
        if kind == "html":
            await HTMLResponse(_HTML_PAGE, status_code=200)(scope, receive, send)
            return
        if kind == "drop":
            await self._drop(outcome, scope, receive, send)
            return
        captured = await _capture(self.app, scope, receive)
        body, headers = captured.body, captured.headers
        if kind == "truncate":
            body = body[: len(body) // 2]
            headers = _with_headers(headers, content_length=str(len(body)).encode())
        elif kind == "wrong_content_type":
            headers = _with_headers(headers, content_type=b"text/html; charset=utf-8")
        await send({"type": "http.response.start", "status": captured.status, "headers": headers})
        if kind != "slow" or not body:
            await send({"type": "http.response.body", "body": body})
            return
        size = max(1, math.ceil(len(body) / faults.slow_chunks))
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": not last})
            if not last:
                await self.plan.sleep(faults.slow_delay)

    async def _drop(self, outcome: Outcome, scope: Scope, receive: Receive, send: Send) -> None:
        in_process = IN_PROCESS in (scope.get("extensions") or {})
        if outcome.before:
            if in_process:
                raise ConnectionDropped(before=True)
            # On a socket the closest to "never answered" is headers and then nothing.
            headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            raise ConnectionDropped(before=False)
        captured = await _capture(self.app, scope, receive)
        await send(
            {"type": "http.response.start", "status": captured.status, "headers": captured.headers}
        )
        half = captured.body[: len(captured.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise ConnectionDropped(before=False)
