"""The fake Convai Chat History API answers as the vendor documents say."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from backscroll.sandbox import CONVAI_API_KEY, CONVAI_CHARACTER_ID, ConvaiQuirks, Sandbox
from documented import CONVAI_DETAILS, CONVAI_LIST

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.anyio

LIST = "/convai/character/chatHistory/list"
DETAILS = "/convai/character/chatHistory/details"
DELETE = "/convai/character/chatHistory/delete"
KEY = {"CONVAI-API-KEY": CONVAI_API_KEY}
DOCUMENTED_SESSIONS = CONVAI_LIST
DOCUMENTED_DETAILS = CONVAI_DETAILS


async def post(client: httpx.AsyncClient, path: str, body: Any, **headers: str) -> httpx.Response:
    return await client.post(path, json=body, headers=headers or KEY)


# -- the documented samples, verbatim ---------------------------------------------------------


async def test_documented_python_list_sample(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The docs' `requests` sample for list (headers, json.dumps'd payload) gets all sessions."""
    headers = {"CONVAI-API-KEY": CONVAI_API_KEY, "Content-Type": "application/json"}
    payload = {"charID": CONVAI_CHARACTER_ID, "limit": "-1"}
    json_payload = json.dumps(payload)

    response = await client.post(LIST, headers=headers, content=json_payload)

    assert response.status_code == 200
    assert response.json() == sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]
    assert response.json()[:2] == DOCUMENTED_SESSIONS


async def test_documented_python_details_sample(client: httpx.AsyncClient) -> None:
    """The docs' `requests` sample for details answers the documented interaction list."""
    headers = {"CONVAI-API-KEY": CONVAI_API_KEY, "Content-Type": "application/json"}
    payload = {"charID": CONVAI_CHARACTER_ID, "sessionID": "8c123456789011111222223333344455"}

    response = await client.post(DETAILS, headers=headers, content=json.dumps(payload))

    assert response.status_code == 200
    assert response.json() == DOCUMENTED_DETAILS


async def test_documented_details_curl_really_calls_list(client: httpx.AsyncClient) -> None:
    """The docs' details curl posts to /list (a doc slip): without limit it lists every session."""
    body = '{"charID": "%s", "sessionID": "8c123456789011111222223333344455"}' % CONVAI_CHARACTER_ID  # noqa: UP031

    response = await client.post(
        LIST, content=body, headers={**KEY, "Content-Type": "application/json"}
    )

    assert response.status_code == 200
    assert response.json()[:2] == DOCUMENTED_SESSIONS


async def test_documented_python_delete_sample(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The docs' delete sample (trailing comma list) answers SUCCESSFULLY DELETED."""
    session_id = "c1234567890aba1111222233334447862"
    payload = {"charID": CONVAI_CHARACTER_ID, "sessionIDs": [session_id]}
    headers = {"CONVAI-API-KEY": CONVAI_API_KEY, "Content-Type": "application/json"}

    response = await client.post(DELETE, headers=headers, content=json.dumps(payload))

    assert response.status_code == 200
    assert response.json() == {"status": "SUCCESSFULLY DELETED"}
    assert session_id not in sandbox.data.convai_interactions


# -- list ------------------------------------------------------------------------------------


async def test_list_is_newest_first_with_day_first_dates(client: httpx.AsyncClient) -> None:
    """Sessions come newest first; date is DD-MM-YYYY, time HH:MM:SS, ids 32 hex chars."""
    sessions = (await post(client, LIST, {"charID": CONVAI_CHARACTER_ID, "limit": "-1"})).json()

    moments = [
        datetime.strptime(f"{s['date']} {s['time']}", "%d-%m-%Y %H:%M:%S")  # noqa: DTZ007
        for s in sessions
    ]
    assert moments == sorted(moments, reverse=True)
    # The documented ids are kept verbatim (one of them has 33 characters).
    generated = sessions[len(DOCUMENTED_SESSIONS) :]
    assert all(re.fullmatch(r"[0-9a-f]{32}", s["sessionID"]) for s in generated)
    assert {s["is_added_to_memory"] for s in sessions} == {True, False}


@pytest.mark.parametrize("limit", ["2", 2, " 2 "])
async def test_list_limit_caps_the_sessions(client: httpx.AsyncClient, limit: object) -> None:
    """A positive limit, string (as documented) or number, answers at most that many."""
    response = await post(client, LIST, {"charID": CONVAI_CHARACTER_ID, "limit": limit})

    assert response.json() == DOCUMENTED_SESSIONS


@pytest.mark.parametrize("limit", ["-1", -1])
async def test_list_minus_one_is_all(
    client: httpx.AsyncClient, sandbox: Sandbox, limit: object
) -> None:
    """A limit of "-1" (or -1) answers every session."""
    response = await post(client, LIST, {"charID": CONVAI_CHARACTER_ID, "limit": limit})

    assert len(response.json()) == len(sandbox.data.convai_sessions[CONVAI_CHARACTER_ID])


@pytest.mark.parametrize("limit", ["0", "abc", "", "1.5", "-2", 1.5, None, True, []])
async def test_list_rejects_other_limits(client: httpx.AsyncClient, limit: object) -> None:
    """Any other limit is a 400 with an ERROR body."""
    response = await post(client, LIST, {"charID": CONVAI_CHARACTER_ID, "limit": limit})

    assert response.status_code == 400
    assert response.json()["ERROR"].startswith("Invalid limit")


async def test_list_of_a_character_without_sessions_is_empty(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """A known character without sessions answers an empty list."""
    sandbox.data.add_convai_character("empty-character")

    response = await post(client, LIST, {"charID": "empty-character", "limit": "-1"})

    assert response.status_code == 200
    assert response.json() == []


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LIST, DETAILS, DELETE])
@pytest.mark.parametrize("headers", [{"CONVAI-API-KEY": "wrong"}, {"X-Other": "1"}])
async def test_wrong_or_missing_key_is_401(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    """A wrong or missing key answers 401 with the documented body, on every endpoint."""
    response = await post(client, path, {"charID": CONVAI_CHARACTER_ID}, **headers)

    assert response.status_code == 401
    assert response.json() == {"ERROR": "Invalid API key provided."}


@pytest.mark.parametrize("path", [LIST, DETAILS, DELETE])
@pytest.mark.parametrize("body", [{"charID": "nobody"}, {}, {"charID": 7}])
async def test_unknown_character_is_400(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    """An unknown or missing charID answers 400 Invalid character ID."""
    response = await post(client, path, {**body, "limit": "-1", "sessionID": "x", "sessionIDs": []})

    assert response.status_code == 400
    assert response.json() == {"ERROR": "Invalid character ID."}


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b"\xff"])
async def test_a_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, content: bytes
) -> None:
    """A body that is not a JSON object answers 400 with an ERROR body."""
    response = await client.post(LIST, content=content, headers=KEY)

    assert response.status_code == 400
    assert "ERROR" in response.json()


async def test_details_of_an_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    """Details of a session the character does not have answer 404 Session not found."""
    response = await post(client, DETAILS, {"charID": CONVAI_CHARACTER_ID, "sessionID": "0" * 32})

    assert response.status_code == 404
    assert response.json() == {"ERROR": "Session not found."}


async def test_details_of_another_characters_session_is_404(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """A session is only found through the character it belongs to."""
    sandbox.data.add_convai_character("other")
    session_id = sandbox.data.add_convai_session("other", interactions=2)

    response = await post(client, DETAILS, {"charID": CONVAI_CHARACTER_ID, "sessionID": session_id})

    assert response.status_code == 404


@pytest.mark.parametrize("session_id", [None, "", 5])
async def test_details_needs_a_session_id(client: httpx.AsyncClient, session_id: object) -> None:
    """A missing or non-string sessionID answers 400."""
    response = await post(client, DETAILS, {"charID": CONVAI_CHARACTER_ID, "sessionID": session_id})

    assert response.status_code == 400
    assert response.json() == {"ERROR": "Invalid session ID."}


async def test_errors_with_200_quirk(sandbox: Sandbox) -> None:
    """With errors_with_200, every ERROR body comes with status 200, as Convai sometimes does."""
    sandbox.convai_quirks = ConvaiQuirks(errors_with_200=True)
    async with sandbox.client() as client:
        unauthorised = await post(
            client, LIST, {"charID": CONVAI_CHARACTER_ID}, **{"CONVAI-API-KEY": "x"}
        )
        missing = await post(client, DETAILS, {"charID": CONVAI_CHARACTER_ID, "sessionID": "nope"})

    assert (unauthorised.status_code, unauthorised.json()) == (
        200,
        {"ERROR": "Invalid API key provided."},
    )
    assert (missing.status_code, missing.json()) == (200, {"ERROR": "Session not found."})


# -- details and delete ----------------------------------------------------------------------


async def test_details_are_the_ground_truth(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """Details answer a session's interactions exactly as the ground truth holds them."""
    for session_id, interactions in sandbox.data.convai_interactions.items():
        body = {"charID": CONVAI_CHARACTER_ID, "sessionID": session_id}
        assert (await post(client, DETAILS, body)).json() == interactions


async def test_interactions_have_the_documented_shape(sandbox: Sandbox) -> None:
    """Naive microsecond timestamps, User/Character pairs, trigger-only ones and a Narrator."""
    interactions = [i for s in sandbox.data.convai_interactions.values() for i in s]
    speakers = {e["speaker"] for i in interactions for e in i["interaction"]}

    for interaction in interactions:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", interaction["timestamp"])
        assert isinstance(interaction["is_trigger_input"], bool)
    triggers = [i for i in interactions if i["is_trigger_input"]]
    assert triggers
    assert all(e["speaker"] != "User" for i in triggers for e in i["interaction"])
    assert speakers == {"User", "Character", "Narrator"}


async def test_delete_removes_sessions_for_good(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Deleted sessions vanish from list and details; unknown ids in the request are ignored."""
    sessions = sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]
    doomed = [sessions[0]["sessionID"], sessions[3]["sessionID"]]

    response = await post(
        client, DELETE, {"charID": CONVAI_CHARACTER_ID, "sessionIDs": [*doomed, "f" * 32]}
    )

    assert response.json() == {"status": "SUCCESSFULLY DELETED"}
    listed = (await post(client, LIST, {"charID": CONVAI_CHARACTER_ID, "limit": "-1"})).json()
    assert not {s["sessionID"] for s in listed} & set(doomed)
    for session_id in doomed:
        body = {"charID": CONVAI_CHARACTER_ID, "sessionID": session_id}
        assert (await post(client, DETAILS, body)).status_code == 404


@pytest.mark.parametrize("ids", [None, "abc", [1, 2], {"a": 1}])
async def test_delete_needs_a_list_of_ids(client: httpx.AsyncClient, ids: object) -> None:
    """A sessionIDs that is not a list of strings answers 400."""
    response = await post(client, DELETE, {"charID": CONVAI_CHARACTER_ID, "sessionIDs": ids})

    assert response.status_code == 400
    assert response.json()["ERROR"].startswith("Invalid sessionIDs")


async def test_only_post_is_allowed(client: httpx.AsyncClient) -> None:
    """The endpoints are POST only, as documented."""
    response = await client.get(LIST, headers=KEY)

    assert response.status_code == 405
