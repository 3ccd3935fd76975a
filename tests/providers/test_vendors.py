"""Each provider reads its vendor's documented samples verbatim and maps its errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import backscroll
from backscroll import (
    AuthenticationError,
    BadRequestError,
    ConvaiProvider,
    CursorProvider,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    ResponseFormatError,
    Role,
    ServerError,
    TalkifaiProvider,
)
from documented import (
    CONVAI_DELETE,
    CONVAI_DETAILS,
    CONVAI_ERROR,
    CONVAI_LIST,
    CURSOR_PAGE,
    TALKIFAI_PAGE,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    """An httpx client whose every request goes to *handler* (and is kept in *seen*)."""

    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record))


def answer(body: Any, status: int = 200) -> Handler:
    return lambda _request: httpx.Response(status, json=body)


def by_offset(body: Any) -> Handler:
    """Talkifai honouring ``offset`` and ``limit`` over the messages of *body*."""

    def handle(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        page = body["messages"][offset : offset + limit]
        return httpx.Response(200, json={"messages": page, "count": len(page)})

    return handle


# -- Convai --------------------------------------------------------------------------------


async def test_convai_lists_the_documented_sessions() -> None:
    """The documented list sample gives two sessions with day-first dates read as UTC."""
    seen: list[httpx.Request] = []
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="char-1", http_client=client(answer(CONVAI_LIST), seen)
    ) as provider:
        sessions = [c async for c in provider.conversations()]
    assert [s.id for s in sessions] == [s["sessionID"] for s in CONVAI_LIST]
    assert sessions[0].created_at == datetime(2024, 9, 25, 20, 52, 57, tzinfo=UTC)
    assert sessions[0].metadata == {"is_added_to_memory": False}
    assert sessions[0].raw == CONVAI_LIST[0]
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/character/chatHistory/list")
    assert request.headers["CONVAI-API-KEY"] == "cv-key-1234"
    assert json.loads(request.content) == {"charID": "char-1", "limit": "-1"}


async def test_convai_limit_is_sent_as_a_string() -> None:
    """A limit goes to Convai as a string, and no more sessions than asked are yielded."""
    seen: list[httpx.Request] = []
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(CONVAI_LIST), seen)
    ) as provider:
        sessions = [c async for c in provider.conversations(limit=1)]
    assert json.loads(seen[0].content)["limit"] == "1"
    assert len(sessions) == 1


async def test_convai_flattens_the_documented_interaction() -> None:
    """One interaction of two speaker entries becomes a user and an assistant message."""
    seen: list[httpx.Request] = []
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(CONVAI_DETAILS), seen)
    ) as provider:
        messages = [m async for m in provider.messages("sess-1")]
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    assert messages[0].content == "Hi there"
    at = datetime(2024, 9, 25, 19, 54, 59, 124733, tzinfo=UTC)
    assert all(m.created_at == at for m in messages)
    assert all(m.metadata == {"is_trigger_input": False} for m in messages)
    assert all(m.conversation_id == "sess-1" and m.provider == "convai" for m in messages)
    assert len({m.id for m in messages}) == 2
    assert seen[0].url.path == "/character/chatHistory/details"
    assert json.loads(seen[0].content) == {"charID": "c", "sessionID": "sess-1"}


async def test_convai_naive_timestamps_read_in_the_given_zone() -> None:
    """With timezone="Europe/Berlin", Convai's naive times are Berlin times, stored as UTC."""
    async with ConvaiProvider(
        api_key="cv-key-1234",
        character_id="c",
        timezone="Europe/Berlin",
        http_client=client(answer(CONVAI_DETAILS)),
    ) as provider:
        messages = [m async for m in provider.messages("s")]
    assert messages[0].created_at == datetime(2024, 9, 25, 17, 54, 59, 124733, tzinfo=UTC)


async def test_convai_ids_are_stable_across_fetches() -> None:
    """Reading the same session twice gives the same derived ids."""
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(CONVAI_DETAILS))
    ) as provider:
        first = [m.id async for m in provider.messages("s")]
        second = [m.id async for m in provider.messages("s")]
    assert first == second


async def test_convai_unknown_speaker_is_unknown_role_with_raw_kept() -> None:
    """A speaker other than User/Character maps to Role.UNKNOWN; raw keeps the original."""
    details = [
        {
            "timestamp": "2024-09-25 19:54:59",
            "interaction": [{"speaker": "Narrator", "message": "…"}],
        }
    ]
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(details))
    ) as provider:
        (message,) = [m async for m in provider.messages("s")]
    assert message.role is Role.UNKNOWN
    assert message.raw is not None
    assert message.raw["entry"]["speaker"] == "Narrator"


async def test_convai_deletes_with_session_ids() -> None:
    """delete_conversations posts the documented body to /delete."""
    seen: list[httpx.Request] = []
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(CONVAI_DELETE), seen)
    ) as provider:
        await provider.delete_conversations(["a", "b"])
    assert seen[0].url.path == "/character/chatHistory/delete"
    assert json.loads(seen[0].content) == {"charID": "c", "sessionIDs": ["a", "b"]}


@pytest.mark.parametrize("status", [401, 200])
async def test_convai_error_body_is_an_authentication_error(status: int) -> None:
    """The documented {"ERROR": ...} body means a bad key, with status 401 or even 200."""
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(CONVAI_ERROR, status))
    ) as provider:
        with pytest.raises(AuthenticationError, match="Invalid API key provided") as info:
            [c async for c in provider.conversations()]
    assert info.value.status_code == status  # the status Convai sent, not an invented one


async def test_convai_delete_that_does_not_say_deleted_is_an_error() -> None:
    """A delete answered without the documented success status raises, naming what came."""
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer({"status": "QUEUED"}))
    ) as provider:
        with pytest.raises(ResponseFormatError, match="delete response"):
            await provider.delete_conversations(["a"])


async def test_a_credential_of_the_wrong_type_is_not_shown() -> None:
    """An api_key given as bytes is refused by type name, its value never in the message."""
    with pytest.raises(backscroll.ConfigurationError) as info:
        ConvaiProvider(api_key=b"sk_live_SECRETSECRET", character_id="c")  # type: ignore[arg-type]
    assert "SECRET" not in str(info.value)
    assert "bytes" in str(info.value)


async def test_a_closed_provider_refuses_even_with_the_callers_client() -> None:
    """After aclose(), a provider on a caller's (still open) client refuses to send."""
    http_client = client(by_offset(TALKIFAI_PAGE))
    provider = TalkifaiProvider(token="tk-secret-1", http_client=http_client)
    await provider.aclose()
    assert not http_client.is_closed
    with pytest.raises(backscroll.ProviderClosedError):
        [m async for m in provider.messages("c")]
    await http_client.aclose()


async def test_a_long_echoed_value_is_never_shown_cut_in_two() -> None:
    """A misshapen field quoting a long credential shows its size, not a cut excerpt."""
    key = "sk_live_" + "0123456789" * 8
    record = {"id": "m1", "text": "hi", "sender_type": "user", "created_at": "x" * 30 + key}
    body = {"status": "success", "data": {"messages": [record]}}
    async with CursorProvider(api_key=key, http_client=client(answer(body))) as provider:
        with pytest.raises(ResponseFormatError) as info:
            [m async for m in provider.messages("c")]
    assert "sk_live_0123" not in str(info.value)


async def test_convai_day_first_date_that_is_not_a_date_is_a_format_error() -> None:
    """A session date that is not DD-MM-YYYY fails naming the field."""
    body = [{"sessionID": "s", "date": "2024-09-25", "time": "20:52:57"}]
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(body))
    ) as provider:
        with pytest.raises(ResponseFormatError, match=r"sessions\[0\]\.date"):
            [c async for c in provider.conversations()]


# -- Talkifai ------------------------------------------------------------------------------


async def test_talkifai_reads_the_documented_page() -> None:
    """The documented five-message page is read verbatim, token counts included."""
    seen: list[httpx.Request] = []
    async with TalkifaiProvider(
        token="tk-secret-1", http_client=client(by_offset(TALKIFAI_PAGE), seen)
    ) as provider:
        messages = [m async for m in provider.messages("chat_abc123")]
    assert [m.content for m in messages] == [r["content"] for r in TALKIFAI_PAGE["messages"]]
    assert [m.role for m in messages] == [Role.ASSISTANT, Role.USER] * 2 + [Role.ASSISTANT]
    assert [m.token_count for m in messages] == [None, None, 45, None, 120]
    assert messages[0].created_at == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    request = seen[0]
    assert request.url.path == "/v1/chat/sessions/chat_abc123/messages"
    assert request.url.params["limit"] == "100"
    assert request.url.params["offset"] == "0"
    assert request.headers["Authorization"] == "Bearer tk-secret-1"
    # A short first page is confirmed by one request at its last record: a vendor that
    # capped limit= below 100 would answer more there.
    assert [r.url.params["offset"] for r in seen] == ["0", "4"]


async def test_talkifai_page_size_is_clamped_to_the_vendor_maximum() -> None:
    """page_size=500 asks for 100, Talkifai's documented maximum."""
    seen: list[httpx.Request] = []
    async with TalkifaiProvider(
        token="tk-secret-1", http_client=client(by_offset(TALKIFAI_PAGE), seen)
    ) as provider:
        [m async for m in provider.messages("c", page_size=500)]
    assert seen[0].url.params["limit"] == "100"


async def test_talkifai_string_token_counts_are_numbers() -> None:
    """A token count sent as a string ("45") is read as the integer 45."""
    page = {"messages": [dict(TALKIFAI_PAGE["messages"][2], token_count="45")], "count": "1"}
    async with TalkifaiProvider(token="tk-secret-1", http_client=client(answer(page))) as provider:
        (message,) = [m async for m in provider.messages("c")]
    assert message.token_count == 45


async def test_talkifai_token_callable_gets_the_conversation_id() -> None:
    """A token callable is asked for each conversation's own session token."""
    seen: list[httpx.Request] = []
    asked: list[str] = []

    def token(conversation_id: str) -> str:
        asked.append(conversation_id)
        return f"sess-{conversation_id}"

    async with TalkifaiProvider(
        token=token, http_client=client(by_offset(TALKIFAI_PAGE), seen)
    ) as provider:
        [m async for m in provider.messages("c42")]
    assert set(asked) == {"c42"}
    assert seen[0].headers["Authorization"] == "Bearer sess-c42"


async def test_talkifai_token_callable_that_raises_is_a_configuration_error() -> None:
    """A token callable that fails (a dict lookup's KeyError) is a ConfigurationError."""
    tokens = {"known": "sess-known"}
    async with TalkifaiProvider(
        token=lambda conversation_id: tokens[conversation_id],
        http_client=client(by_offset(TALKIFAI_PAGE)),
    ) as provider:
        with pytest.raises(backscroll.ConfigurationError, match="token callable failed"):
            [m async for m in provider.messages("unknown")]


@pytest.mark.parametrize(
    ("status", "detail", "error"),
    [
        (401, "Invalid token", AuthenticationError),
        (403, "Conversation ID does not match session token", PermissionDeniedError),
        (404, "Session not found or expired", NotFoundError),
    ],
)
async def test_talkifai_documented_errors(status: int, detail: str, error: type[Exception]) -> None:
    """Each documented {"detail": ...} error maps to its exception, quoting the detail."""
    async with TalkifaiProvider(
        token="tk-secret-1", max_retries=0, http_client=client(answer({"detail": detail}, status))
    ) as provider:
        with pytest.raises(error, match=detail):
            [m async for m in provider.messages("c")]


async def test_talkifai_messages_not_a_list_is_a_format_error() -> None:
    """A body whose messages is not a list names the field."""
    async with TalkifaiProvider(
        token="tk-secret-1", http_client=client(answer({"messages": {}, "count": 0}))
    ) as provider:
        with pytest.raises(ResponseFormatError, match=r"messages should be a list"):
            [m async for m in provider.messages("c")]


# -- the cursor API ------------------------------------------------------------------------


async def test_cursor_reads_the_documented_page() -> None:
    """The documented page is read with ids, senders, metadata and UTC times."""
    page = dict(CURSOR_PAGE, pagination={"limit": 20, "next_cursor": None, "has_more": False})
    seen: list[httpx.Request] = []
    async with CursorProvider(api_key="sk-test-5678", http_client=client(answer(page), seen)) as p:
        messages = [m async for m in p.messages("con_9s2kd81")]
    assert [m.id for m in messages] == ["msg_92kd82", "msg_18dk03"]
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    assert messages[0].sender_id == "usr_82hd92"
    assert messages[1].metadata == {"model": "gpt-4o-mini", "latency_ms": 743}
    assert messages[0].created_at == datetime(2026, 3, 15, 13, 59, 11, tzinfo=UTC)
    params = seen[0].url.params
    assert seen[0].url.path == "/v1/chat/history"
    assert params["conversation_id"] == "con_9s2kd81"
    assert params["include_meta"] == "true"
    assert params["after"] == "1970-01-01T00:00:00Z"  # oldest first, not the newest page
    assert "before" not in params
    assert seen[0].headers["Authorization"] == "Bearer sk-test-5678"
    assert seen[0].headers["X-Request-Id"]


async def test_cursor_newest_first_uses_before_and_no_cursor_first() -> None:
    """order="desc" starts at the vendor's default newest page and pages back with before."""
    seen: list[httpx.Request] = []
    last = {"status": "success", "data": {"messages": []}, "pagination": {"has_more": False}}

    def handler(request: httpx.Request) -> httpx.Response:
        if "before" in request.url.params:
            return httpx.Response(200, json=last)
        newest = CURSOR_PAGE["data"]["messages"][-int(request.url.params["limit"]) :]
        return httpx.Response(200, json={**CURSOR_PAGE, "data": {"messages": newest}})

    async with CursorProvider(
        api_key="sk-test-5678", http_client=client(handler, seen)
    ) as provider:
        messages = [m async for m in provider.messages("con_9s2kd81", order="desc")]
    assert [m.id for m in messages] == ["msg_18dk03", "msg_92kd82"]
    assert "before" not in seen[0].url.params
    assert "after" not in seen[0].url.params
    # has_more: the default page is checked to be the newest by a one-message probe.
    assert seen[1].url.params["limit"] == "1"
    assert "before" not in seen[1].url.params
    assert seen[2].url.params["before"] == "2026-03-15T13:59:12Z"  # a second past the oldest


async def test_cursor_has_more_as_a_string_is_read() -> None:
    """has_more "false" (a string) ends paging like false."""
    page = dict(CURSOR_PAGE, pagination={"limit": "20", "has_more": "false"})
    seen: list[httpx.Request] = []
    async with CursorProvider(api_key="sk-test-5678", http_client=client(answer(page), seen)) as p:
        assert len([m async for m in p.messages("c")]) == 2
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [
        (400, "Invalid query parameter: before and after cannot both be set.", BadRequestError),
        (401, "Missing or invalid Authorization header.", AuthenticationError),
        (404, "Conversation not found: con_9s2kd81.", NotFoundError),
        (500, "Unexpected server error. Please try again later.", ServerError),
    ],
)
async def test_cursor_documented_errors(status: int, text: str, error: type[Exception]) -> None:
    """Each documented error envelope maps to its exception, quoting the vendor's message."""
    body = {"status": "error", "message": text, "data": None}
    async with CursorProvider(
        api_key="sk-test-5678", max_retries=0, http_client=client(answer(body, status))
    ) as provider:
        with pytest.raises(error, match=text.replace(".", r"\.")):
            [m async for m in provider.messages("con_9s2kd81")]


async def test_cursor_error_status_with_200_is_an_error() -> None:
    """An envelope saying status "error" is an APIStatusError even with HTTP 200."""
    body = {"status": "error", "message": "Something broke.", "data": None}
    async with CursorProvider(api_key="sk-test-5678", http_client=client(answer(body))) as p:
        with pytest.raises(backscroll.APIStatusError, match="Something broke"):
            [m async for m in p.messages("c")]


async def test_cursor_burst_larger_than_the_largest_page_raises() -> None:
    """More messages in one second than the largest page (100) are refused, not looped over."""
    burst = [
        {
            "id": f"msg_{i:03}",
            "sender_type": "user",
            "sender_id": "u",
            "text": str(i),
            "created_at": "2026-03-15T13:59:11Z",
        }
        for i in range(130)
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limit = min(int(request.url.params["limit"]), 100)
        after = request.url.params["after"]
        page = [m for m in burst if m["created_at"] > after.replace("Z", "")][:limit]
        body = {"status": "success", "message": "", "data": {"messages": page}}
        body["pagination"] = {"limit": limit, "has_more": True}
        return httpx.Response(200, json=body)

    async with CursorProvider(
        api_key="sk-test-5678", http_client=client(handler, seen)
    ) as provider:
        with pytest.raises(PaginationError, match="requests in a row"):
            [m async for m in provider.messages("c", page_size=10)]
    assert len(seen) < 20


async def test_a_closed_provider_says_so() -> None:
    """Iterating a provider after aclose() raises ProviderClosedError, not httpx's RuntimeError."""
    provider = TalkifaiProvider(token="tk-secret-1")
    await provider.aclose()
    with pytest.raises(backscroll.ProviderClosedError, match="create a new one"):
        [m async for m in provider.messages("c")]


async def test_derived_ids_never_change() -> None:
    """Derived ids are pinned: a checkpoint or a sink written by any release must match."""
    async with TalkifaiProvider(
        token="tk-secret-1", http_client=client(by_offset(TALKIFAI_PAGE))
    ) as talkifai:
        (first, *_) = [m async for m in talkifai.messages("chat_abc123")]
    assert first.id == "3164a83cda9e7572acbd4cf3"
    twice = [
        {
            "timestamp": "2024-09-25 19:54:59.124733",
            "interaction": [
                {"speaker": "User", "message": "Hi there"},
                {"speaker": "User", "message": "Hi there"},
            ],
        }
    ]
    async with ConvaiProvider(
        api_key="cv-key-1234", character_id="c", http_client=client(answer(twice))
    ) as convai:
        ids = [m.id async for m in convai.messages("s")]
    assert ids == ["1dec4b0e94d1e93c600c60f9", "16bd1ed5f36f17ad7d62e932"]
