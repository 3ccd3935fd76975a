"""The fake cursor-paged chat history API answers as its document says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from backscroll.errors import ConfigurationError
from backscroll.sandbox import CURSOR_API_KEY, CursorQuirks, Sandbox
from documented import CURSOR_PAGE

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.anyio

HISTORY = "/cursor/v1/chat/history"
AUTH = {"Authorization": f"Bearer {CURSOR_API_KEY}"}
DOCS_KEY = {"Authorization": "Bearer sk_test_51_fakeapikey123456"}
DOCUMENTED_MESSAGES = CURSOR_PAGE["data"]["messages"]


def largest(sandbox: Sandbox) -> str:
    return max(sandbox.data.cursor, key=lambda c: len(sandbox.data.cursor[c]))


def at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"])


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as served without include_meta."""
    return [{k: v for k, v in r.items() if k != "metadata"} for r in records]


async def history(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(HISTORY, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the documented samples ------------------------------------------------------------------


async def test_documented_example_request(client: httpx.AsyncClient) -> None:
    """The documented curl (before=14:22:11Z, limit=20, the docs' key) answers the envelope."""
    response = await client.get(
        "/cursor/v1/chat/history?conversation_id=con_9s2kd81&limit=20&before=2026-03-15T14:22:11Z",
        headers={**DOCS_KEY, "Content-Type": "application/json"},
    )

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "success"
    assert body["message"] == "Chat history retrieved successfully."
    assert body["data"]["conversation_id"] == "con_9s2kd81"
    messages = body["data"]["messages"]
    assert len(messages) == 20
    # Newest first, as the notes say; the documented two are the newest.
    assert messages[:2] == plain(DOCUMENTED_MESSAGES[::-1])
    oldest = messages[-1]["created_at"]
    assert body["pagination"] == {"limit": 20, "next_cursor": oldest, "has_more": True}


async def test_documented_second_curl_sample(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The documented limit=50 request answers the newest fifty (here: all 47)."""
    response = await client.get(
        "/cursor/v1/chat/history?conversation_id=con_9s2kd81&limit=50",
        headers={**DOCS_KEY, "Content-Type": "application/json"},
    )

    body = response.json()
    assert body["data"]["messages"] == plain(sandbox.data.cursor["con_9s2kd81"][::-1])
    assert body["pagination"]["has_more"] is False


async def test_include_meta_adds_the_documented_metadata(client: httpx.AsyncClient) -> None:
    """include_meta=true serves metadata (user: channel/attachments; ai: model/latency_ms)."""
    body = await history(client, conversation_id="con_9s2kd81", limit="2", include_meta="true")

    assert body["data"]["messages"] == DOCUMENTED_MESSAGES[::-1]


@pytest.mark.parametrize("value", ["false", "False", "0"])
async def test_metadata_is_left_out_by_default(client: httpx.AsyncClient, value: str) -> None:
    """Without include_meta=true no message carries metadata."""
    default = await history(client, conversation_id="con_9s2kd81")
    explicit = await history(client, conversation_id="con_9s2kd81", include_meta=value)

    for body in (default, explicit):
        assert all("metadata" not in m for m in body["data"]["messages"])


async def test_metadata_shapes(sandbox: Sandbox) -> None:
    """Users carry channel/attachments, the AI model/latency_ms; ids and senders as documented."""
    for records in sandbox.data.cursor.values():
        for record in records:
            assert list(record) == [
                "id",
                "sender_type",
                "sender_id",
                "text",
                "metadata",
                "created_at",
            ]
            assert record["id"].startswith("msg_")
            if record["sender_type"] == "user":
                assert set(record["metadata"]) == {"channel", "attachments"}
            elif record["sender_type"] == "ai":
                assert set(record["metadata"]) == {"model", "latency_ms"}
            else:
                assert record["sender_type"] == "system"
        assert len({r["id"] for r in records}) == len(records)


# -- selection -------------------------------------------------------------------------------


async def test_default_page_is_the_newest_20_newest_first(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """No cursor: the newest 20, newest first, has_more when there are more."""
    records = sandbox.data.cursor[largest(sandbox)]

    body = await history(client, conversation_id=largest(sandbox))

    assert body["data"]["messages"] == plain(records[-20:][::-1])
    assert body["pagination"] == {
        "limit": 20,
        "next_cursor": records[-20]["created_at"],
        "has_more": True,
    }


async def test_limit_is_silently_capped_at_100(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """A limit above 100 serves 100 and reports limit 100."""
    body = await history(client, conversation_id=largest(sandbox), limit="5000")

    assert len(body["data"]["messages"]) == 100
    assert body["pagination"]["limit"] == 100


async def test_after_is_exclusive_and_takes_the_oldest(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """after=T answers the oldest `limit` messages strictly after T."""
    records = sandbox.data.cursor[largest(sandbox)]
    cursor = records[30]["created_at"]
    later = [r for r in records if at(r) > at(records[30])]

    body = await history(client, conversation_id=largest(sandbox), after=cursor, limit="10")

    assert body["data"]["messages"] == plain(later[:10][::-1])
    assert body["pagination"]["next_cursor"] == later[9]["created_at"]
    assert body["pagination"]["has_more"] is True


async def test_before_is_exclusive_and_takes_the_newest(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """before=T answers the newest `limit` messages strictly before T."""
    records = sandbox.data.cursor[largest(sandbox)]
    earlier = [r for r in records if at(r) < at(records[200])]

    body = await history(
        client, conversation_id=largest(sandbox), before=records[200]["created_at"], limit="10"
    )

    assert body["data"]["messages"] == plain(earlier[-10:][::-1])
    assert body["pagination"]["next_cursor"] == earlier[-10]["created_at"]


@pytest.mark.parametrize(
    "written",
    [
        "2026-03-15T13:59:11Z",
        "2026-03-15T13:59:11+00:00",
        "2026-03-15T14:59:11+01:00",
        "2026-03-15T13:59:11",
    ],
)
async def test_timestamps_in_any_iso_spelling(client: httpx.AsyncClient, written: str) -> None:
    """Z, +00:00, other offsets and naive (read as UTC) name the same moment."""
    body = await history(client, conversation_id="con_9s2kd81", after=written, limit="5")

    assert [m["id"] for m in body["data"]["messages"]] == ["msg_18dk03"]
    assert body["pagination"]["has_more"] is False


async def test_has_more_is_false_at_the_end(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The last page in either direction says has_more false."""
    records = sandbox.data.cursor[largest(sandbox)]
    start = stamp(at(records[0]) - timedelta(seconds=1))
    end = stamp(at(records[-1]) + timedelta(seconds=1))

    everything_after = await history(
        client, conversation_id=largest(sandbox), after=start, limit="100"
    )
    nothing_after = await history(client, conversation_id=largest(sandbox), after=end)
    nothing_before = await history(client, conversation_id=largest(sandbox), before=start)

    assert everything_after["pagination"]["has_more"] is True
    assert nothing_after["data"]["messages"] == []
    assert nothing_after["pagination"] == {"limit": 20, "next_cursor": None, "has_more": False}
    assert nothing_before["pagination"]["has_more"] is False


async def test_naive_next_cursor_skips_burst_siblings(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Following next_cursor naively loses messages that share its second: clients must not."""
    conversation_id = largest(sandbox)
    seen: list[str] = []
    params = {"conversation_id": conversation_id, "limit": "7"}
    while True:
        body = await history(client, **params)
        seen += [m["id"] for m in body["data"]["messages"]]
        if not body["pagination"]["has_more"]:
            break
        params["before"] = body["pagination"]["next_cursor"]

    assert len(seen) == len(set(seen))
    assert len(seen) < len(sandbox.data.cursor[conversation_id])


async def test_empty_conversation(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """An empty conversation answers no messages and no more."""
    empty = next(c for c, records in sandbox.data.cursor.items() if not records)

    body = await history(client, conversation_id=empty)

    assert body["data"] == {"conversation_id": empty, "messages": []}
    assert body["pagination"] == {"limit": 20, "next_cursor": None, "has_more": False}


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    """A client-supplied X-Request-Id comes back on the answer."""
    response = await client.get(
        HISTORY,
        params={"conversation_id": "con_9s2kd81"},
        headers={**AUTH, "X-Request-Id": "req_1"},
    )

    assert response.headers["x-request-id"] == "req_1"


# -- errors ----------------------------------------------------------------------------------


async def test_before_and_after_together_is_the_documented_400(client: httpx.AsyncClient) -> None:
    """Both cursors answer 400 with the documented body."""
    response = await client.get(
        HISTORY,
        params={
            "conversation_id": "con_9s2kd81",
            "before": "2026-03-15T14:00:00Z",
            "after": "2026-03-15T13:00:00Z",
        },
        headers=AUTH,
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Invalid query parameter: before and after cannot both be set.",
        "data": None,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"before": "yesterday"}, "Invalid query parameter: before must be an ISO 8601 timestamp."),
        ({"after": "2026-13-01"}, "Invalid query parameter: after must be an ISO 8601 timestamp."),
        ({"limit": "0"}, "Invalid query parameter: limit must be a positive integer."),
        ({"limit": "ten"}, "Invalid query parameter: limit must be a positive integer."),
        ({"include_meta": "maybe"}, "Invalid query parameter: include_meta must be true or false."),
        ({"conversation_id": ""}, "Invalid query parameter: conversation_id is required."),
    ],
)
async def test_bad_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    """A malformed parameter answers 400 in the error envelope."""
    response = await client.get(
        HISTORY, params={"conversation_id": "con_9s2kd81", **params}, headers=AUTH
    )

    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": message, "data": None}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": CURSOR_API_KEY}]
)
async def test_bad_key_is_the_documented_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A missing or wrong key answers the documented 401."""
    response = await client.get(HISTORY, params={"conversation_id": "con_9s2kd81"}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {
        "status": "error",
        "message": "Missing or invalid Authorization header.",
        "data": None,
    }


async def test_unknown_conversation_is_the_documented_404(client: httpx.AsyncClient) -> None:
    """An unknown conversation answers the documented 404 naming it."""
    response = await client.get(HISTORY, params={"conversation_id": "con_missing"}, headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "Conversation not found: con_missing.",
        "data": None,
    }


# -- quirks ----------------------------------------------------------------------------------


async def test_page_order_asc_quirk(sandbox: Sandbox) -> None:
    """page_order="asc" serves each page oldest first, as the document's example shows."""
    sandbox.cursor_quirks = CursorQuirks(page_order="asc")
    async with sandbox.client() as client:
        body = await history(client, conversation_id="con_9s2kd81", limit="2")

    assert body["data"]["messages"] == plain(DOCUMENTED_MESSAGES)


async def test_max_limit_quirk(sandbox: Sandbox) -> None:
    """max_limit changes the silent cap."""
    sandbox.cursor_quirks = CursorQuirks(max_limit=10)
    async with sandbox.client() as client:
        body = await history(client, conversation_id=largest(sandbox), limit="50")

    assert len(body["data"]["messages"]) == 10
    assert body["pagination"]["limit"] == 10


async def test_stuck_cursor_quirk(sandbox: Sandbox) -> None:
    """stuck_cursor answers next_cursor equal to the request's cursor: the same one twice."""
    sandbox.cursor_quirks = CursorQuirks(stuck_cursor=True)
    async with sandbox.client() as client:
        first = await history(client, conversation_id=largest(sandbox))
        cursor = first["pagination"]["next_cursor"]
        second = await history(client, conversation_id=largest(sandbox), before=cursor)

    assert second["pagination"]["next_cursor"] == cursor
    assert second["data"]["messages"] != first["data"]["messages"]


async def test_empty_page_has_more_quirk(sandbox: Sandbox) -> None:
    """empty_page_has_more: the empty page past the end still says has_more true."""
    sandbox.cursor_quirks = CursorQuirks(empty_page_has_more=True)
    records = sandbox.data.cursor["con_9s2kd81"]
    async with sandbox.client() as client:
        last = await history(client, conversation_id="con_9s2kd81", limit="100")
        beyond = await history(
            client, conversation_id="con_9s2kd81", before=records[0]["created_at"]
        )

    assert len(last["data"]["messages"]) == len(records)
    assert last["pagination"]["has_more"] is True
    assert beyond["data"]["messages"] == []
    assert beyond["pagination"]["has_more"] is True


async def test_repeat_page_every_quirk(sandbox: Sandbox) -> None:
    """repeat_page_every=2: every second request for a conversation repeats the previous answer."""
    sandbox.cursor_quirks = CursorQuirks(repeat_page_every=2)
    conversation_id = largest(sandbox)
    async with sandbox.client() as client:
        first = await history(client, conversation_id=conversation_id, limit="5")
        second = await history(
            client,
            conversation_id=conversation_id,
            limit="5",
            before=first["pagination"]["next_cursor"],
        )
        third = await history(
            client,
            conversation_id=conversation_id,
            limit="5",
            before=first["pagination"]["next_cursor"],
        )

    assert second == first
    assert third != first


async def test_ignore_cursor_quirk(sandbox: Sandbox) -> None:
    """ignore_cursor answers the newest page whatever the cursor."""
    sandbox.cursor_quirks = CursorQuirks(ignore_cursor=True)
    conversation_id = largest(sandbox)
    async with sandbox.client() as client:
        newest = await history(client, conversation_id=conversation_id)
        after = await history(client, conversation_id=conversation_id, after="2000-01-01T00:00:00Z")

    assert after["data"] == newest["data"]


async def test_after_selects_farthest_quirk(sandbox: Sandbox) -> None:
    """after_selects="farthest": after=X answers the newest N after X, not the oldest."""
    sandbox.cursor_quirks = CursorQuirks(after_selects="farthest")
    records = sandbox.data.cursor[largest(sandbox)]
    async with sandbox.client() as client:
        body = await history(
            client, conversation_id=largest(sandbox), limit="5", after="2000-01-01T00:00:00Z"
        )

    assert [m["id"] for m in body["data"]["messages"]] == [r["id"] for r in records[-5:][::-1]]
    assert body["pagination"]["has_more"] is True


async def test_before_selects_farthest_quirk(sandbox: Sandbox) -> None:
    """before_selects="farthest": before=Y answers the oldest N before Y, not the newest."""
    sandbox.cursor_quirks = CursorQuirks(before_selects="farthest")
    records = sandbox.data.cursor[largest(sandbox)]
    async with sandbox.client() as client:
        body = await history(
            client, conversation_id=largest(sandbox), limit="5", before="2999-01-01T00:00:00Z"
        )

    assert [m["id"] for m in body["data"]["messages"]] == [r["id"] for r in records[:5][::-1]]


async def test_inclusive_quirk(sandbox: Sandbox) -> None:
    """inclusive: a message exactly at the cursor is part of the answer, on either side."""
    sandbox.cursor_quirks = CursorQuirks(inclusive=True)
    records = sandbox.data.cursor[largest(sandbox)]
    middle = records[len(records) // 2]
    async with sandbox.client() as client:
        after = await history(
            client, conversation_id=largest(sandbox), after=middle["created_at"], limit="100"
        )
        before = await history(
            client, conversation_id=largest(sandbox), before=middle["created_at"], limit="100"
        )

    assert middle["id"] in {m["id"] for m in after["data"]["messages"]}
    assert middle["id"] in {m["id"] for m in before["data"]["messages"]}


@pytest.mark.parametrize(("precision", "digits"), [("ms", 3), ("us", 6)])
async def test_timestamp_precision_quirk(sandbox: Sandbox, precision: str, digits: int) -> None:
    """timestamp_precision serves that many digits, as CursorQuirks.served() says."""
    quirks = CursorQuirks(timestamp_precision=precision)  # type: ignore[arg-type]
    sandbox.cursor_quirks = quirks
    records = sandbox.data.cursor[largest(sandbox)]
    async with sandbox.client() as client:
        body = await history(client, conversation_id=largest(sandbox), limit="100")

    served = {r["id"]: r["created_at"] for r in quirks.served(records)}
    stamps = [m["created_at"] for m in body["data"]["messages"]]
    assert [served[m["id"]] for m in body["data"]["messages"]] == stamps
    assert all(len(s.rpartition(".")[2]) == digits + 1 for s in stamps)  # digits and "Z"


async def test_default_page_oldest_quirk(sandbox: Sandbox) -> None:
    """default_page="oldest": without a cursor, the oldest N come."""
    sandbox.cursor_quirks = CursorQuirks(default_page="oldest")
    records = sandbox.data.cursor[largest(sandbox)]
    async with sandbox.client() as client:
        body = await history(client, conversation_id=largest(sandbox), limit="5")

    assert [m["id"] for m in body["data"]["messages"]] == [r["id"] for r in records[:5][::-1]]


@pytest.mark.parametrize(
    "options",
    [
        {"max_limit": 0},
        {"page_order": "random"},
        {"repeat_page_every": 0},
        {"after_selects": "middle"},
        {"timestamp_precision": "ns"},
        {"default_page": "random"},
    ],
)
def test_bad_quirks_are_refused(options: dict[str, object]) -> None:
    """Unusable quirk values raise ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        CursorQuirks(**options)  # type: ignore[arg-type]


def test_timestamps_are_utc_seconds(sandbox: Sandbox) -> None:
    """created_at is UTC with a Z, one-second resolution, never going back."""
    for records in sandbox.data.cursor.values():
        moments = [at(r) for r in records]
        assert moments == sorted(moments)
        assert all(r["created_at"].endswith("Z") for r in records)
        assert all(m.tzinfo == UTC and m.microsecond == 0 for m in moments)
