"""The fake tokenchat API for backscroll's sandbox: seeded data, opaque tokens, quirks."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backscroll import Message, Role
from backscroll.sandbox import RecordStore, Sandbox

if TYPE_CHECKING:
    from starlette.requests import Request

API_KEY: Final = "sandbox-tokenchat-key"
PREFIX: Final = "/tokenchat"
_PATH: Final = f"{PREFIX}/v1/conversations/{{conversation_id}}/messages"
_START: Final = datetime(2024, 3, 1, tzinfo=UTC)
_KEYS: Final = ("id", "author", "text", "sent_at")
_AUTHORS: Final = {Role.USER: "human", Role.ASSISTANT: "bot"}


@attrs.frozen(kw_only=True)
class TokenChatQuirks:
    """What a token API gets wrong: overlapping pages, stale answers."""

    overlap: bool = False  # each page repeats the last message of the one before
    stale_every: int | None = None  # every n-th request gets the previous answer again


class TokenChatStore(RecordStore):
    """Conversations of ``{id, author, text, sent_at}`` records, oldest first."""

    time_field, text_field = "sent_at", "text"

    def record_of(self, message: Message) -> dict[str, Any]:
        """A message as tokenchat sends one (add_messages refuses one without a time)."""
        author = _AUTHORS.get(message.role, message.role.value)
        sent = (message.id, author, message.content, _stamp(message.created_at or _START))
        return dict(zip(_KEYS, sent, strict=True))


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class TokenChatFake:
    """Conversations ``tc_<n>``, one per size, with bursts of messages sharing a second."""

    prefix: Final = PREFIX
    api_root: Final = f"{PREFIX}/v1"
    route_names: Final = ("messages",)

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        sizes: tuple[int, ...] = (0, 1, 49, 50, 51, 130),
        burst_rate: float = 0.3,
        quirks: TokenChatQuirks | None = None,
    ) -> None:
        self.quirks = quirks or TokenChatQuirks()
        self.store = TokenChatStore("tokenchat")
        self._requests, self._last = 0, cast("dict[str, Any] | None", None)
        rng = random.Random(f"tokenchat-{sandbox.data.seed}")  # noqa: S311 - test data
        for index, size in enumerate(sizes):
            moment, records = _START + timedelta(days=index), []
            for n in range(size):
                moment += timedelta(seconds=0 if rng.random() < burst_rate else rng.randint(1, 90))
                values = (f"m{index}-{n}", "human" if n % 2 == 0 else "bot", f"#{n} of tc_{index}")
                records.append(dict(zip(_KEYS, (*values, _stamp(moment)), strict=True)))
            self.store.conversations[f"tc_{index}"] = records

    def routes(self) -> list[Route]:
        """The one endpoint."""
        return [Route(_PATH, self._messages, methods=["GET"])]

    def classify(self, path: str) -> str | None:
        """``messages`` for the endpoint's paths."""
        return "messages" if path.startswith(f"{PREFIX}/v1/conversations/") else None

    def error_response(self, status: int) -> Response:
        """Tokenchat words every error as ``{"error": {"message": ...}}``."""
        return JSONResponse({"error": {"message": f"status {status}"}}, status)

    def provider_options(self) -> dict[str, str]:
        """The key the fake accepts."""
        return {"api_key": API_KEY}

    async def _messages(self, request: Request) -> Response:
        authorised = request.headers.get("x-api-key") == API_KEY
        records = self.store.conversations.get(request.path_params["conversation_id"])
        if not authorised or records is None:
            return self.error_response(404 if authorised else 401)
        self._requests += 1
        if self.quirks.stale_every and self._last and self._requests % self.quirks.stale_every == 0:
            return JSONResponse(self._last)
        query = request.query_params
        order, size = query.get("order", "asc"), min(int(query.get("page_size", "20")), 50)
        ordered = records if order == "asc" else records[::-1]
        token = query.get("page_token")
        position = int(base64.urlsafe_b64decode(token)) if token else 0
        start = max(0, position - 1) if self.quirks.overlap and position else position
        end = position + size
        following = base64.urlsafe_b64encode(b"%d" % end).decode() if end < len(ordered) else None
        self._last = {"messages": ordered[start:end], "next_page_token": following}
        return JSONResponse(self._last)
