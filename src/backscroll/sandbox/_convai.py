"""
The fake Convai Chat History API, under ``/convai``.

As documented: every endpoint is a ``POST`` with a JSON body and the key in
``CONVAI-API-KEY``; ``list`` takes ``limit`` as a string (``"-1"`` for all, a number is
accepted too) and answers newest first; ``details`` answers a session's interactions;
``delete`` answers ``{"status": "SUCCESSFULLY DELETED"}`` and the sessions are gone.
Errors are ``{"ERROR": "..."}`` (the `ConvaiQuirks.errors_with_200` quirk sends them with
status 200, as Convai sometimes does).

Where the documents are silent the sandbox chose: an unknown character is 400 ``Invalid
character ID.``, an unknown session on ``details`` is 404 ``Session not found.``, and
deleting an unknown session id is not an error (so a retried delete succeeds).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

import attrs
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backscroll.sandbox._convai_data import CONVAI_CHARACTER_ID, ConvaiStore
from backscroll.sandbox._fake import RoutedFake
from backscroll.sandbox._store import typed_store

if TYPE_CHECKING:
    from starlette.requests import Request

    from backscroll.sandbox._app import Sandbox

__all__ = [
    "API_KEY",
    "PREFIX",
    "ROUTES",
    "ConvaiFake",
    "ConvaiQuirks",
    "error_response",
    "routes",
]

#: The API key the fake Convai accepts.
API_KEY: Final = "sandbox-convai-key"
PREFIX: Final = "/convai"
ROUTES: Final = ("list", "details", "delete")

_INVALID_KEY: Final = "Invalid API key provided."
_STATUS_TEXT: Final = {
    429: "Rate limit exceeded. Please try again later.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
}


@attrs.frozen(kw_only=True)
class ConvaiQuirks:
    """
    Switchable Convai misbehaviour (all off by default).

    Attributes:
        errors_with_200: Send ``{"ERROR": ...}`` bodies with status 200.

    .. versionadded:: 0.1.0
    """

    errors_with_200: bool = False


def error_response(status: int) -> Response:
    """An injected error status, worded as Convai words errors."""
    return JSONResponse({"ERROR": _STATUS_TEXT.get(status, "Something went wrong.")}, status)


class _Refusal(Exception):  # noqa: N818 - internal control flow, caught in this module
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class _Endpoints:
    """The three endpoints, bound to the fake (its store and quirks)."""

    def __init__(self, fake: ConvaiFake) -> None:
        self.fake = fake

    def refuse(self, error: _Refusal) -> Response:
        status = 200 if self.fake.quirks.errors_with_200 else error.status
        return JSONResponse({"ERROR": error.text}, status)

    async def read(self, request: Request) -> tuple[dict[str, Any], str]:
        """The checked request body and the character it names."""
        if request.headers.get("convai-api-key") != API_KEY:
            raise _Refusal(401, _INVALID_KEY)
        try:
            body = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Refusal(400, "Invalid request body: expected JSON.") from None
        if not isinstance(body, dict):
            raise _Refusal(400, "Invalid request body: expected a JSON object.")
        character_id = body.get("charID")
        if not isinstance(character_id, str) or character_id not in self.fake.store.sessions:
            raise _Refusal(400, "Invalid character ID.")
        return body, character_id

    async def list_sessions(self, request: Request) -> Response:
        try:
            body, character_id = await self.read(request)
            limit = _limit(body.get("limit", "-1"))
        except _Refusal as error:
            return self.refuse(error)
        sessions = self.fake.store.sessions[character_id]
        return JSONResponse(sessions if limit is None else sessions[:limit])

    async def details(self, request: Request) -> Response:
        try:
            body, character_id = await self.read(request)
            session_id = self.session_of(body, character_id)
        except _Refusal as error:
            return self.refuse(error)
        return JSONResponse(self.fake.store.interactions[session_id])

    def session_of(self, body: dict[str, Any], character_id: str) -> str:
        session_id = body.get("sessionID")
        if not isinstance(session_id, str) or not session_id:
            raise _Refusal(400, "Invalid session ID.")
        if self.fake.store.session_owner(session_id) != character_id:
            raise _Refusal(404, "Session not found.")
        return session_id

    async def delete(self, request: Request) -> Response:
        try:
            body, character_id = await self.read(request)
            ids = _session_ids(body)
        except _Refusal as error:
            return self.refuse(error)
        self.fake.store.delete_sessions(character_id, ids)
        return JSONResponse({"status": "SUCCESSFULLY DELETED"})


def routes(fake: ConvaiFake) -> list[Route]:
    """The three endpoints, bound to *fake*."""
    endpoints = _Endpoints(fake)
    base = f"{PREFIX}/character/chatHistory"
    return [
        Route(f"{base}/list", endpoints.list_sessions, methods=["POST"]),
        Route(f"{base}/details", endpoints.details, methods=["POST"]),
        Route(f"{base}/delete", endpoints.delete, methods=["POST"]),
    ]


def _session_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("sessionIDs")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _Refusal(400, "Invalid sessionIDs: expected a list of session ids.")
    return ids


def _limit(value: object) -> int | None:
    """``"-1"`` (or -1) is all, a positive number is at most that many, else 400."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value == -1:
            return None
        if value > 0:
            return value
    shown = json.dumps(value)
    raise _Refusal(400, f'Invalid limit {shown}: use "-1" for all sessions or a positive number.')


def classify(path: str) -> str | None:
    """The route name of a Convai path, or ``None``."""
    for route in ROUTES:
        if path == f"{PREFIX}/character/chatHistory/{route}":
            return route
    return None


class ConvaiFake(RoutedFake):
    """
    The fake Convai API as the sandbox sees it (see `backscroll.sandbox.SandboxFake`).

    Attributes:
        store: Its characters, sessions and interactions (the sandbox's seeded ones).
        quirks: The misbehaviour in force; replace it between requests.
    """

    prefix: Final = PREFIX
    api_root: Final = "/convai"
    route_names: Final = ROUTES

    def __init__(self, sandbox: Sandbox, *, quirks: ConvaiQuirks | None = None) -> None:
        super().__init__(sandbox, routes=routes, classify=classify, error_response=error_response)
        self.store = typed_store(sandbox.data.stores, "convai", ConvaiStore)
        self.quirks = quirks or ConvaiQuirks()

    def provider_options(self) -> dict[str, str]:
        """The provider keywords the fake accepts."""
        return {"api_key": API_KEY, "character_id": CONVAI_CHARACTER_ID}
