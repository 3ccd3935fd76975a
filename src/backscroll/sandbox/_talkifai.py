"""
The fake Talkifai message history, under ``/talkifai``.

As documented: ``GET /v1/chat/sessions/{conversation_id}/messages?limit=&offset=`` with
``Authorization: Bearer <token>``; ``limit`` defaults to 50 and is silently capped at 100,
``offset`` defaults to 0; the answer is ``{"messages": [...], "count": <returned>}``,
oldest first; an offset at or past the end answers with the *last* ``limit`` messages (the
documents' "last N messages" trick, ``offset=9999``). Errors are ``{"detail": "..."}``:
401 ``Invalid token``, 403 ``Conversation ID does not match session token``, 404
``Session not found or expired``; a malformed ``limit`` or ``offset`` is a 422 in
FastAPI's shape.

Tokens: `MASTER_TOKEN` reads every conversation; ``sess_<conversation_id>`` reads only its
own conversation (another one is a 403), like the per-session tokens of the real API.

The conversation id is taken from the *raw* path and percent-decoded once, so an id with
``/`` or ``..`` in it (sent as ``a%2Fb``, ``%2E%2E``) reaches this route as that id and can
never reach another route.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote

import attrs
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backscroll.errors import ConfigurationError
from backscroll.sandbox._fake import RoutedFake
from backscroll.sandbox._faults import check_every, check_positive
from backscroll.sandbox._store import typed_store
from backscroll.sandbox._talkifai_data import TalkifaiStore

if TYPE_CHECKING:
    from starlette.requests import Request

    from backscroll.sandbox._app import Sandbox

__all__ = [
    "MASTER_TOKEN",
    "PREFIX",
    "ROUTES",
    "TalkifaiFake",
    "TalkifaiQuirks",
    "error_response",
    "routes",
    "session_token",
]

#: The bearer token that reads every conversation.
MASTER_TOKEN: Final = "sandbox-talkifai-token"  # noqa: S105 - public by design
PREFIX: Final = "/talkifai"
ROUTES: Final = ("messages",)
DEFAULT_LIMIT: Final = 50

_SESSIONS: Final = f"{PREFIX}/v1/chat/sessions/"
_MESSAGES: Final = "/messages"
_STATUS_TEXT: Final = {
    429: "Rate limit exceeded",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def session_token(conversation_id: str) -> str:
    """The per-conversation session token the sandbox accepts for *conversation_id*."""
    return f"sess_{conversation_id}"


@attrs.frozen(kw_only=True)
class TalkifaiQuirks:
    """
    Switchable Talkifai behaviour; the defaults are the documented ones.

    Each is one reading of what the document leaves open.

    Attributes:
        max_limit: The silent cap on ``limit`` (documented: 100; a real vendor may cap
            lower).
        past_end: What an offset at or past the end answers: ``"last_page"`` (documented:
            the last ``limit`` messages), ``"empty"``, ``"first_page"``, or ``"error"`` (a
            400 ``{"detail": "Offset out of range"}``).
        repeat_page_every: Every n-th request for a conversation answers with a stale
            page: the page before the one asked for, at the same size, as a cache keyed
            on the wrong offset would (``None``: never).
        ignore_offset: ``offset`` is ignored: ``True`` or ``"first_page"`` answers every
            request as if ``offset=0``, ``"last_page"`` with the last ``limit`` messages
            (the documented "last N" answer, whatever the offset).
        delete_every: Every n-th request for a conversation first deletes its oldest
            message, from `SandboxData` too, as a user clearing history while it is read
            (``None``: never).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``past_end`` ``"first_page"`` and ``"error"``, ``ignore_offset="last_page"``,
       ``delete_every``.
    """

    max_limit: int = 100
    past_end: Literal["last_page", "empty", "first_page", "error"] = "last_page"
    repeat_page_every: int | None = None
    ignore_offset: bool | Literal["first_page", "last_page"] = False
    delete_every: int | None = None

    def __attrs_post_init__(self) -> None:
        check_positive(self.max_limit, "TalkifaiQuirks(max_limit=...)")
        if self.past_end not in {"last_page", "empty", "first_page", "error"}:
            msg = (
                "TalkifaiQuirks(past_end=...) must be 'last_page', 'empty', 'first_page' "
                f"or 'error', got {self.past_end!r}"
            )
            raise ConfigurationError(msg)
        if self.ignore_offset not in {False, True, "first_page", "last_page"}:
            msg = (
                "TalkifaiQuirks(ignore_offset=...) must be False, True, 'first_page' or "
                f"'last_page', got {self.ignore_offset!r}"
            )
            raise ConfigurationError(msg)
        check_every(self.repeat_page_every, "TalkifaiQuirks(repeat_page_every=...)")
        check_every(self.delete_every, "TalkifaiQuirks(delete_every=...)")


def error_response(status: int) -> Response:
    """An injected error status, worded as Talkifai (FastAPI) words errors."""
    return JSONResponse({"detail": _STATUS_TEXT.get(status, "Error")}, status)


def _detail(status: int, detail: Any, **headers: str) -> Response:
    return JSONResponse({"detail": detail}, status, headers=headers or None)


def _query_int(request: Request, name: str, default: int, minimum: int) -> int | dict[str, Any]:
    """The parameter's value, or FastAPI's 422 error item for it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        return {
            "type": "int_parsing",
            "loc": ["query", name],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": raw,
        }
    value = int(raw)
    if value < minimum:
        return {
            "type": "greater_than_equal",
            "loc": ["query", name],
            "msg": f"Input should be greater than or equal to {minimum}",
            "input": raw,
            "ctx": {"ge": minimum},
        }
    return value


def conversation_id_of(request: Request) -> str | None:
    """
    The conversation id as sent: one raw path segment, percent-decoded once.

    ``None`` when the raw path has an unencoded ``/`` in that place (not this route).
    """
    raw_path: bytes | None = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    if not (path.startswith(_SESSIONS) and path.endswith(_MESSAGES)):
        return None
    segment = path[len(_SESSIONS) : -len(_MESSAGES)]
    if not segment or "/" in segment:
        return None
    if not raw_path:
        return segment
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None


class _Endpoint:
    """The messages endpoint, bound to the fake (its store and quirks)."""

    def __init__(self, fake: TalkifaiFake) -> None:
        self.fake = fake
        self.requests: dict[str, int] = {}  # per conversation, for ``delete_every``

    def refusal(self, request: Request, conversation_id: str) -> Response | None:
        """The 401 or 403 this request's token earns, if any."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        invalid = _detail(401, "Invalid token", www_authenticate="Bearer")
        if scheme.lower() != "bearer" or not token:
            return invalid
        if token == MASTER_TOKEN:
            return None
        owner = token.removeprefix("sess_") if token.startswith("sess_") else None
        if owner is None or not self.fake.store.holds(owner):
            return invalid
        if owner != conversation_id:
            return _detail(403, "Conversation ID does not match session token")
        return None

    async def messages(self, request: Request) -> Response:
        conversation_id = conversation_id_of(request)
        if conversation_id is None:
            return _detail(404, "Not Found")
        refusal = self.refusal(request, conversation_id)
        if refusal is not None:
            return refusal
        limit = _query_int(request, "limit", DEFAULT_LIMIT, 1)
        offset = _query_int(request, "offset", 0, 0)
        if not isinstance(limit, int) or not isinstance(offset, int):
            return _detail(422, [p for p in (limit, offset) if isinstance(p, dict)])
        records = self.fake.store.conversations.get(conversation_id)
        if records is None:
            return _detail(404, "Session not found or expired")
        quirks = self.fake.quirks
        count = self.requests[conversation_id] = self.requests.get(conversation_id, 0) + 1
        if quirks.delete_every and count % quirks.delete_every == 0 and records:
            del records[0]
        limit = min(limit, quirks.max_limit)
        page = _page(records, offset, limit, quirks)
        if page is None:
            return _detail(400, "Offset out of range")
        body = {"messages": page, "count": len(page)}
        stale = None
        if offset:
            # What a cache keyed on the wrong offset holds: the page before, same size.
            before = records[max(0, offset - limit) : offset]
            stale = {"messages": before, "count": len(before)}
        key = ("talkifai", conversation_id)
        return JSONResponse(self.fake.sandbox.stale_or(key, quirks.repeat_page_every, body, stale))


def _page(
    records: list[dict[str, Any]], offset: int, limit: int, quirks: TalkifaiQuirks
) -> list[dict[str, Any]] | None:
    """The records an offset answers under *quirks*; ``None`` for an error status."""
    if quirks.ignore_offset in {True, "first_page"}:
        offset = 0
    if quirks.ignore_offset == "last_page":
        return records[-limit:]
    if offset < len(records) or not offset:  # offset=0 is the documented default request
        return records[offset : offset + limit]
    if quirks.past_end == "error":
        return None
    if quirks.past_end == "first_page":
        return records[:limit]
    return records[-limit:] if quirks.past_end == "last_page" else []


def routes(fake: TalkifaiFake) -> list[Route]:
    """The messages endpoint, bound to *fake*."""
    path = f"{_SESSIONS}{{conversation_id:path}}{_MESSAGES}"
    return [Route(path, _Endpoint(fake).messages, methods=["GET"])]


def classify(path: str) -> str | None:
    """The route name of a Talkifai path, or ``None``."""
    if path.startswith(_SESSIONS) and path.endswith(_MESSAGES):
        return "messages"
    return None


class TalkifaiFake(RoutedFake):
    """
    The fake Talkifai API as the sandbox sees it (see `backscroll.sandbox.SandboxFake`).

    Attributes:
        store: Its conversations (the sandbox's seeded ones).
        quirks: The behaviour in force (limits, past-the-end answer, repeats); replace it
            between requests.
    """

    prefix: Final = PREFIX
    api_root: Final = "/talkifai"
    route_names: Final = ROUTES

    def __init__(self, sandbox: Sandbox, *, quirks: TalkifaiQuirks | None = None) -> None:
        super().__init__(sandbox, routes=routes, classify=classify, error_response=error_response)
        self.store = typed_store(sandbox.data.stores, "talkifai", TalkifaiStore)
        self.quirks = quirks or TalkifaiQuirks()

    def provider_options(self) -> dict[str, str]:
        """The provider keywords the fake accepts."""
        return {"token": MASTER_TOKEN}
