"""
The fake cursor-paged chat history API (the "example-ai" document), under ``/cursor``.

As documented: ``GET /v1/chat/history?conversation_id=&limit=&before=|after=&include_meta=``
with ``Authorization: Bearer <key>``; the envelope ``{"status", "message", "data",
"pagination"}``; ``limit`` defaults to 20 and is silently capped at 100; ``before`` and
``after`` are exclusive ISO timestamps and mutually exclusive; pages are newest first by
default; ``metadata`` only with ``include_meta=true``. Errors use the same envelope with
``"status": "error"`` and ``"data": null``.

Which messages a page holds: with ``after``, the *oldest* ``limit`` messages strictly after
it; with ``before`` or neither, the *newest* ``limit`` messages strictly before it.
``has_more`` says whether more than ``limit`` messages matched. Where the document is
silent (which N a cursor selects, inclusive bounds, timestamp precision, the default
page), `CursorQuirks` switches to the other readings. ``next_cursor`` is the
timestamp of the page's last message in the paging direction: the naive exclusive cursor
that silently skips the rest of a burst sharing that second. Clients must not depend on it,
and the sandbox serves it that way on purpose.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backscroll.errors import ConfigurationError
from backscroll.sandbox._cursor_data import CursorStore
from backscroll.sandbox._fake import RoutedFake
from backscroll.sandbox._faults import check_every, check_positive
from backscroll.sandbox._store import typed_store

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from starlette.requests import Request

    from backscroll.sandbox._app import Sandbox

__all__ = [
    "API_KEY",
    "DOCS_API_KEY",
    "PREFIX",
    "ROUTES",
    "CursorFake",
    "CursorQuirks",
    "error_response",
    "routes",
]

#: The bearer key the fake API accepts.
API_KEY: Final = "sk_test_sandbox"
#: The key in the vendor document's examples, accepted too so they run verbatim.
DOCS_API_KEY: Final = "sk_test_51_fakeapikey123456"
PREFIX: Final = "/cursor"
ROUTES: Final = ("history",)
DEFAULT_LIMIT: Final = 20

_PATH: Final = f"{PREFIX}/v1/chat/history"
_STATUS_TEXT: Final = {
    429: "Too many requests. Please slow down.",
    500: "Unexpected server error. Please try again later.",
    502: "Bad gateway. Please try again later.",
    503: "Service temporarily unavailable. Please try again later.",
}
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})


@attrs.frozen(kw_only=True)
class CursorQuirks:
    """
    Switchable cursor-API behaviour; the defaults are the documented ones.

    Attributes:
        max_limit: The silent cap on ``limit`` (documented: 100).
        page_order: Order within a page: ``"desc"`` (documented default, newest first) or
            ``"asc"`` (as the document's example page shows).
        stuck_cursor: ``next_cursor`` repeats the cursor of the request, so a client that
            follows it asks for the same page forever.
        empty_page_has_more: ``has_more`` is always true, even on the empty page past the
            end.
        repeat_page_every: Every n-th request for a conversation answers with that
            conversation's previous answer again (``None``: never).
        ignore_cursor: ``before``/``after`` are ignored: every request gets the default page.
        after_selects: Which ``limit`` messages ``after=X`` answers: ``"nearest"`` (the
            oldest after X, the reading that pages) or ``"farthest"`` (the newest after X,
            what ``ORDER BY created_at DESC LIMIT n`` gives).
        before_selects: Which ``limit`` messages ``before=Y`` answers: ``"nearest"`` (the
            newest before Y) or ``"farthest"`` (the oldest before Y).
        inclusive: ``before``/``after`` include a message exactly at the cursor (``<=``,
            ``>=``) instead of excluding it.
        timestamp_precision: ``"s"`` (as the document's examples), ``"ms"`` or ``"us"``:
            timestamps are served with that many digits, messages that share a second in
            the data spread over it (two by two, so some still share a timestamp), and
            cursors compare at full precision. `served` gives the records as served.
        default_page: What a request without a cursor answers: the ``"newest"``
            ``limit`` messages or the ``"oldest"``.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``after_selects``, ``before_selects``, ``inclusive``, ``timestamp_precision``,
       ``default_page``.
    """

    max_limit: int = 100
    page_order: Literal["desc", "asc"] = "desc"
    stuck_cursor: bool = False
    empty_page_has_more: bool = False
    repeat_page_every: int | None = None
    ignore_cursor: bool = False
    after_selects: Literal["nearest", "farthest"] = "nearest"
    before_selects: Literal["nearest", "farthest"] = "nearest"
    inclusive: bool = False
    timestamp_precision: Literal["s", "ms", "us"] = "s"
    default_page: Literal["newest", "oldest"] = "newest"

    def __attrs_post_init__(self) -> None:
        check_positive(self.max_limit, "CursorQuirks(max_limit=...)")
        for name, allowed in (
            ("page_order", ("asc", "desc")),
            ("after_selects", ("nearest", "farthest")),
            ("before_selects", ("nearest", "farthest")),
            ("timestamp_precision", ("s", "ms", "us")),
            ("default_page", ("newest", "oldest")),
        ):
            value = getattr(self, name)
            if value not in allowed:
                msg = f"CursorQuirks({name}=...) must be one of {allowed}, got {value!r}"
                raise ConfigurationError(msg)
        check_every(self.repeat_page_every, "CursorQuirks(repeat_page_every=...)")

    def served(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """
        *records* (oldest first, as in `SandboxData.cursor`) as these quirks serve them.

        Only ``created_at`` changes, and only with a finer `timestamp_precision`: the
        ground truth to compare a read with.
        """
        if self.timestamp_precision == "s":
            return [dict(r) for r in records]
        milli = self.timestamp_precision == "ms"
        spec = "milliseconds" if milli else "microseconds"
        out: list[dict[str, Any]] = []
        rank, second = 0, None
        for record in records:
            moment = _created(record)
            rank = rank + 1 if moment == second else 0
            second = moment
            # Two by two over the second, so bursts still share some timestamps.
            pair = rank // 2
            offset = timedelta(microseconds=3000 * (pair + 1) if milli else 3001 * pair + 1)
            stamp = (moment + offset).replace(tzinfo=None).isoformat(timespec=spec) + "Z"
            out.append({**record, "created_at": stamp})
        return out


def _error(status: int, message: str, request: Request | None = None) -> Response:
    headers = {}
    if request is not None and "x-request-id" in request.headers:
        headers["X-Request-Id"] = request.headers["x-request-id"]
    body = {"status": "error", "message": message, "data": None}
    return JSONResponse(body, status, headers=headers or None)


def error_response(status: int) -> Response:
    """An injected error status, in the API's error envelope."""
    return _error(status, _STATUS_TEXT.get(status, "Unexpected server error."))


class _Invalid(Exception):  # noqa: N818 - internal control flow, caught in this module
    pass


def _timestamp(name: str, value: str) -> datetime:
    for candidate in (value, value.replace(" ", "+")):
        # A "+" sent unencoded arrives as a space: read "…T14:00:00 01:00" as an offset.
        try:
            moment = datetime.fromisoformat(candidate.strip())
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    msg = f"Invalid query parameter: {name} must be an ISO 8601 timestamp."
    raise _Invalid(msg)


@attrs.frozen
class _Query:
    conversation_id: str
    limit: int
    before: datetime | None
    after: datetime | None
    cursor: str | None
    include_meta: bool


def _query(params: Mapping[str, str], default_limit: int, max_limit: int) -> _Query:
    conversation_id = params.get("conversation_id", "")
    if not conversation_id:
        msg = "Invalid query parameter: conversation_id is required."
        raise _Invalid(msg)
    raw_limit = params.get("limit")
    limit = default_limit
    if raw_limit is not None:
        text = raw_limit.strip()
        if not text.lstrip("+").isdigit() or int(text) < 1:
            msg = "Invalid query parameter: limit must be a positive integer."
            raise _Invalid(msg)
        limit = int(text)
    raw_before, raw_after = params.get("before"), params.get("after")
    if raw_before is not None and raw_after is not None:
        msg = "Invalid query parameter: before and after cannot both be set."
        raise _Invalid(msg)
    before = _timestamp("before", raw_before) if raw_before is not None else None
    after = _timestamp("after", raw_after) if raw_after is not None else None
    meta = params.get("include_meta", "false").strip().lower()
    if meta not in _TRUE | _FALSE:
        msg = "Invalid query parameter: include_meta must be true or false."
        raise _Invalid(msg)
    return _Query(
        conversation_id=conversation_id,
        limit=min(limit, max_limit),
        before=before,
        after=after,
        cursor=raw_before if raw_before is not None else raw_after,
        include_meta=meta in _TRUE,
    )


def select(
    records: Sequence[Mapping[str, Any]],
    *,
    limit: int,
    before: datetime | None,
    after: datetime | None,
    quirks: CursorQuirks | None = None,
) -> tuple[list[Mapping[str, Any]], bool]:
    """
    The page's records (oldest first) and whether more than *limit* matched.

    Documented reading: with *after*, the oldest *limit* strictly after it; otherwise the
    newest *limit* strictly before *before* (or of all). *quirks* switch the readings.
    """
    quirks = quirks or CursorQuirks()
    if after is not None:
        if quirks.inclusive:
            matching = [r for r in records if _created(r) >= after]
        else:
            matching = [r for r in records if _created(r) > after]
        oldest = quirks.after_selects == "nearest"
    elif before is not None:
        if quirks.inclusive:
            matching = [r for r in records if _created(r) <= before]
        else:
            matching = [r for r in records if _created(r) < before]
        oldest = quirks.before_selects == "farthest"
    else:
        matching = list(records)
        oldest = quirks.default_page == "oldest"
    page = matching[:limit] if oldest else matching[-limit:]
    return page, len(matching) > limit


def _created(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"]).astimezone(UTC)


def routes(fake: CursorFake) -> list[Route]:
    """The history endpoint, bound to *fake* (its store and quirks)."""

    async def history(request: Request) -> Response:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in {API_KEY, DOCS_API_KEY}:
            return _error(401, "Missing or invalid Authorization header.", request)
        quirks = fake.quirks
        try:
            query = _query(request.query_params, DEFAULT_LIMIT, quirks.max_limit)
        except _Invalid as invalid:
            return _error(400, str(invalid), request)
        stored = fake.store.conversations.get(query.conversation_id)
        if stored is None:
            return _error(404, f"Conversation not found: {query.conversation_id}.", request)
        records = quirks.served(stored) if quirks.timestamp_precision != "s" else stored
        before, after = query.before, query.after
        if quirks.ignore_cursor:
            before = after = None
        page, has_more = select(
            records, limit=query.limit, before=before, after=after, quirks=quirks
        )
        next_cursor = None
        if page:
            edge = page[-1] if after is not None else page[0]
            next_cursor = edge["created_at"]
        if quirks.stuck_cursor and query.cursor is not None:
            next_cursor = query.cursor
        if quirks.empty_page_has_more:
            has_more = True
        ordered = list(page) if quirks.page_order == "asc" else list(reversed(page))
        messages = [
            dict(r) if query.include_meta else {k: v for k, v in r.items() if k != "metadata"}
            for r in ordered
        ]
        body = {
            "status": "success",
            "message": "Chat history retrieved successfully.",
            "data": {"conversation_id": query.conversation_id, "messages": messages},
            "pagination": {"limit": query.limit, "next_cursor": next_cursor, "has_more": has_more},
        }
        stale_key = ("cursor", query.conversation_id)
        body = fake.sandbox.stale_or(stale_key, quirks.repeat_page_every, body)
        headers = {}
        if "x-request-id" in request.headers:
            headers["X-Request-Id"] = request.headers["x-request-id"]
        return JSONResponse(body, headers=headers or None)

    return [Route(_PATH, history, methods=["GET"])]


def classify(path: str) -> str | None:
    """The route name of a cursor-API path, or ``None``."""
    return "history" if path == _PATH else None


class CursorFake(RoutedFake):
    """
    The fake cursor-paged API as the sandbox sees it (see `backscroll.sandbox.SandboxFake`).

    Attributes:
        store: Its conversations (the sandbox's seeded ones).
        quirks: The behaviour in force (limits, page order, cursor misbehaviour); replace
            it between requests.
    """

    prefix: Final = PREFIX
    api_root: Final = "/cursor/v1"
    route_names: Final = ROUTES

    def __init__(self, sandbox: Sandbox, *, quirks: CursorQuirks | None = None) -> None:
        super().__init__(sandbox, routes=routes, classify=classify, error_response=error_response)
        self.store = typed_store(sandbox.data.stores, "cursor", CursorStore)
        self.quirks = quirks or CursorQuirks()

    def provider_options(self) -> dict[str, str]:
        """The provider keywords the fake accepts."""
        return {"api_key": API_KEY}
