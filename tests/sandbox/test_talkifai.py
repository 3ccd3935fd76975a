"""The fake Talkifai message history answers as the vendor documents say."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from backscroll.sandbox import TALKIFAI_TOKEN, Sandbox, TalkifaiQuirks, session_token
from documented import TALKIFAI_PAGE

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.anyio

DOCS_ID = "chat_abc123_user_1705312800000"
AUTH = {"Authorization": f"Bearer {TALKIFAI_TOKEN}"}
DOCUMENTED_RESPONSE = TALKIFAI_PAGE


def path(conversation_id: str) -> str:
    return f"/talkifai/v1/chat/sessions/{conversation_id}/messages"


def largest(sandbox: Sandbox) -> str:
    return max(sandbox.data.talkifai, key=lambda c: len(sandbox.data.talkifai[c]))


async def get(
    client: httpx.AsyncClient, conversation_id: str, query: str = "", token: str = TALKIFAI_TOKEN
) -> httpx.Response:
    url = path(conversation_id) + (f"?{query}" if query else "")
    return await client.get(url, headers={"Authorization": f"Bearer {token}"})


# -- the documented samples ------------------------------------------------------------------


async def test_documented_example_request(client: httpx.AsyncClient) -> None:
    """The documented GET ...?limit=20&offset=0 answers the documented response, verbatim."""
    response = await client.get(
        "/talkifai/v1/chat/sessions/chat_abc123_user_1705312800000/messages?limit=20&offset=0",
        headers=AUTH,
    )

    assert response.status_code == 200
    assert response.json() == DOCUMENTED_RESPONSE


async def test_documented_curl_sample(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The documented curl (chat_abc123, limit=20) answers its first twenty messages."""
    response = await client.get(
        "/talkifai/v1/chat/sessions/chat_abc123/messages?limit=20", headers=AUTH
    )

    assert response.json() == {"messages": sandbox.data.talkifai["chat_abc123"][:20], "count": 20}


async def test_documented_pages_of_fifty(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The documented paging (limit=50, offset 0 then 50) walks the conversation in order."""
    conversation_id = largest(sandbox)
    records = sandbox.data.talkifai[conversation_id]

    first = (await get(client, conversation_id, "limit=50&offset=0")).json()
    second = (await get(client, conversation_id, "limit=50&offset=50")).json()

    assert first["messages"] + second["messages"] == records[:100]


async def test_documented_last_n_messages_trick(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """limit=20&offset=9999 answers the last twenty messages, as the docs promise."""
    conversation_id = largest(sandbox)

    response = await get(client, conversation_id, "limit=20&offset=9999")

    assert response.json()["messages"] == sandbox.data.talkifai[conversation_id][-20:]
    assert response.json()["count"] == 20


# -- paging ----------------------------------------------------------------------------------


async def test_defaults_are_limit_50_offset_0(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """Without parameters the first fifty messages come back."""
    conversation_id = largest(sandbox)

    body = (await get(client, conversation_id)).json()

    assert body["messages"] == sandbox.data.talkifai[conversation_id][:50]


async def test_limit_is_silently_capped_at_100(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """A limit above 100 answers 100 messages and no error."""
    conversation_id = largest(sandbox)

    body = (await get(client, conversation_id, "limit=1000")).json()

    assert body["count"] == 100
    assert body["messages"] == sandbox.data.talkifai[conversation_id][:100]


@pytest.mark.parametrize("offset", [0, 1, 49, 98, 99])
async def test_offset_skips_messages(
    client: httpx.AsyncClient, sandbox: Sandbox, offset: int
) -> None:
    """An offset skips that many messages; a short final page is just short."""
    records = sandbox.data.talkifai[largest(sandbox)]

    body = (
        await get(client, largest(sandbox), f"limit=100&offset={len(records) - 100 + offset}")
    ).json()

    assert body["messages"] == records[len(records) - 100 + offset :]
    assert body["count"] == 100 - offset


@pytest.mark.parametrize("past", [0, 1, 9999])
async def test_offset_at_or_past_the_end_answers_the_last_page(
    client: httpx.AsyncClient, sandbox: Sandbox, past: int
) -> None:
    """An offset at or past the end answers the last `limit` messages."""
    records = sandbox.data.talkifai[largest(sandbox)]

    body = (await get(client, largest(sandbox), f"limit=7&offset={len(records) + past}")).json()

    assert body["messages"] == records[-7:]


async def test_empty_conversation_answers_no_messages(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """An empty conversation answers an empty page at any offset."""
    empty = next(c for c, records in sandbox.data.talkifai.items() if not records)

    for query in ("", "offset=0", "offset=9999"):
        assert (await get(client, empty, query)).json() == {"messages": [], "count": 0}


async def test_records_have_the_documented_shape(sandbox: Sandbox) -> None:
    """Roles user/assistant, ISO timestamps with +00:00, token counts only on assistants."""
    for records in sandbox.data.talkifai.values():
        for record in records:
            assert set(record) == {"role", "content", "timestamp", "token_count"}
            assert record["role"] in {"user", "assistant"}
            assert record["timestamp"].endswith("+00:00")
            if record["role"] == "user":
                assert record["token_count"] is None
            else:
                assert record["token_count"] is None or isinstance(record["token_count"], int)


async def test_timestamps_are_chronological_with_bursts(sandbox: Sandbox) -> None:
    """Timestamps never go back, and many messages share their second with others."""
    records = sandbox.data.talkifai[largest(sandbox)]
    moments = [datetime.fromisoformat(r["timestamp"]) for r in records]

    assert moments == sorted(moments)
    shared = len(moments) - len(set(moments))
    assert shared > len(moments) // 10


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": TALKIFAI_TOKEN},
        {"Authorization": "Bearer "},
    ],
)
async def test_bad_token_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """A missing, unknown or non-bearer token answers 401 Invalid token."""
    response = await client.get(path(DOCS_ID), headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}


async def test_session_token_reads_its_own_conversation(client: httpx.AsyncClient) -> None:
    """A per-conversation session token reads that conversation."""
    response = await get(client, DOCS_ID, token=session_token(DOCS_ID))

    assert response.json() == DOCUMENTED_RESPONSE


async def test_session_token_of_another_conversation_is_403(client: httpx.AsyncClient) -> None:
    """A session token used for another conversation answers the documented 403."""
    response = await get(client, "chat_abc123", token=session_token(DOCS_ID))

    assert response.status_code == 403
    assert response.json() == {"detail": "Conversation ID does not match session token"}


async def test_session_token_of_no_conversation_is_401(client: httpx.AsyncClient) -> None:
    """A session token that names no conversation is just an invalid token."""
    response = await get(client, "chat_missing", token=session_token("chat_missing"))

    assert response.status_code == 401


async def test_unknown_conversation_is_404(client: httpx.AsyncClient) -> None:
    """An unknown conversation answers the documented 404."""
    response = await get(client, "chat_nope")

    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found or expired"}


@pytest.mark.parametrize(
    ("query", "loc", "kind"),
    [
        ("limit=abc", "limit", "int_parsing"),
        ("limit=0", "limit", "greater_than_equal"),
        ("limit=-5", "limit", "greater_than_equal"),
        ("offset=-1", "offset", "greater_than_equal"),
        ("offset=1.5", "offset", "int_parsing"),
        ("limit=", "limit", "int_parsing"),
    ],
)
async def test_bad_limit_or_offset_is_422(
    client: httpx.AsyncClient, query: str, loc: str, kind: str
) -> None:
    """A malformed limit or offset answers 422 with FastAPI's detail list."""
    response = await get(client, DOCS_ID, query)

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", loc]
    assert problem["type"] == kind


# -- ids that look like paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation_id", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("..", "%2E%2E"),
        ("../../cursor/v1/chat/history", "..%2F..%2Fcursor%2Fv1%2Fchat%2Fhistory"),
        ("x?y#z", "x%3Fy%23z"),
        ("über 50%", "%C3%BCber%2050%25"),
    ],
)
async def test_percent_encoded_ids_reach_the_conversation(
    client: httpx.AsyncClient, sandbox: Sandbox, conversation_id: str, encoded: str
) -> None:
    """An id with / .. ? # or % in it, percent-encoded, reads that conversation and no other."""
    records = sandbox.data.extend_talkifai(conversation_id, 3)

    response = await client.get(path(encoded), headers=AUTH)

    assert response.status_code == 200
    assert response.json()["messages"] == records


async def test_an_unencoded_slash_is_not_an_id(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """A raw / in the id place is a different path: 404, never conversation "a/b"."""
    sandbox.data.extend_talkifai("a/b", 3)

    response = await client.get(path("a/b"), headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


# -- quirks ----------------------------------------------------------------------------------


async def test_max_limit_quirk(sandbox: Sandbox) -> None:
    """max_limit changes the silent cap."""
    sandbox.talkifai_quirks = TalkifaiQuirks(max_limit=30)
    async with sandbox.client() as client:
        body = (await get(client, largest(sandbox), "limit=100")).json()

    assert body["count"] == 30


async def test_past_end_empty_quirk(sandbox: Sandbox) -> None:
    """past_end="empty" answers an empty page past the end instead of the last page."""
    sandbox.talkifai_quirks = TalkifaiQuirks(past_end="empty")
    async with sandbox.client() as client:
        body = (await get(client, largest(sandbox), "limit=20&offset=9999")).json()

    assert body == {"messages": [], "count": 0}


async def test_ignore_offset_quirk(sandbox: Sandbox) -> None:
    """ignore_offset answers the first page whatever the offset."""
    sandbox.talkifai_quirks = TalkifaiQuirks(ignore_offset=True)
    records = sandbox.data.talkifai[largest(sandbox)]
    async with sandbox.client() as client:
        body = (await get(client, largest(sandbox), "limit=10&offset=50")).json()

    assert body["messages"] == records[:10]


@pytest.mark.parametrize(
    ("past_end", "status", "first"), [("first_page", 200, 0), ("error", 400, None)]
)
async def test_past_end_quirks(
    sandbox: Sandbox, past_end: str, status: int, first: int | None
) -> None:
    """past_end="first_page" answers the first page past the end; "error" a 400."""
    sandbox.talkifai_quirks = TalkifaiQuirks(past_end=past_end)  # type: ignore[arg-type]
    records = sandbox.data.talkifai[largest(sandbox)]
    async with sandbox.client() as client:
        response = await get(client, largest(sandbox), "limit=10&offset=9999")

    assert response.status_code == status
    if first is not None:
        assert response.json()["messages"] == records[:10]


async def test_ignore_offset_last_page_quirk(sandbox: Sandbox) -> None:
    """ignore_offset="last_page" answers the "last N" page whatever the offset."""
    sandbox.talkifai_quirks = TalkifaiQuirks(ignore_offset="last_page")
    records = sandbox.data.talkifai[largest(sandbox)]
    async with sandbox.client() as client:
        body = (await get(client, largest(sandbox), "limit=10&offset=0")).json()

    assert body["messages"] == records[-10:]


async def test_delete_every_quirk(sandbox: Sandbox) -> None:
    """delete_every=2: every second request first deletes the oldest message, data too."""
    sandbox.talkifai_quirks = TalkifaiQuirks(delete_every=2)
    records = list(sandbox.data.talkifai[largest(sandbox)])
    async with sandbox.client() as client:
        first = (await get(client, largest(sandbox), "limit=5&offset=0")).json()
        second = (await get(client, largest(sandbox), "limit=5&offset=0")).json()

    assert first["messages"] == records[:5]
    assert second["messages"] == records[1:6]
    assert sandbox.data.talkifai[largest(sandbox)] == records[1:]


async def test_repeat_page_every_quirk(sandbox: Sandbox) -> None:
    """repeat_page_every=3: every third request for a conversation repeats the previous answer."""
    sandbox.talkifai_quirks = TalkifaiQuirks(repeat_page_every=3)
    records = sandbox.data.talkifai[largest(sandbox)]
    async with sandbox.client() as client:
        pages = [
            (await get(client, largest(sandbox), f"limit=10&offset={offset}")).json()["messages"]
            for offset in (0, 10, 20, 30, 40, 50)
        ]

    assert pages == [
        records[0:10],
        records[10:20],
        records[10:20],
        records[30:40],
        records[40:50],
        records[40:50],
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"max_limit": 0},
        {"past_end": "wrap"},
        {"repeat_page_every": 1},
        {"repeat_page_every": True},
        {"ignore_offset": "middle"},
        {"delete_every": 0},
    ],
)
def test_bad_quirks_are_refused(options: dict[str, object]) -> None:
    """Unusable quirk values raise ConfigurationError at construction."""
    from backscroll.errors import ConfigurationError  # noqa: PLC0415

    with pytest.raises(ConfigurationError):
        TalkifaiQuirks(**options)  # type: ignore[arg-type]
