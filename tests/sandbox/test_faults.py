"""Each injected fault is observable, and a fault plan replays the same way every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import backscroll.testing
from backscroll import errors
from backscroll.sandbox import (
    CONVAI_API_KEY,
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    TALKIFAI_TOKEN,
    Faults,
    Outcome,
    Sandbox,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio

CURSOR = "/cursor/v1/chat/history?conversation_id=con_9s2kd81"
CURSOR_AUTH = {"Authorization": f"Bearer {CURSOR_API_KEY}"}
TALKIFAI = "/talkifai/v1/chat/sessions/chat_abc123/messages"
TALKIFAI_AUTH = {"Authorization": f"Bearer {TALKIFAI_TOKEN}"}
CONVAI_LIST = "/convai/character/chatHistory/list"
CONVAI_DELETE = "/convai/character/chatHistory/delete"
CONVAI_AUTH = {"CONVAI-API-KEY": CONVAI_API_KEY}


def only(**shares: Any) -> Faults:
    """A plan where every request gets the one fault given (and no waiting)."""
    return Faults(retry_after=0, slow_delay=0, **shares)


def index_of(faults: Faults, target: str, wanted: Callable[[Outcome], bool]) -> int:
    """The number of the first request to *target* whose outcome is *wanted*."""
    return next(i for i in range(1000) if wanted(faults.outcome(target, i)))


async def test_no_faults_without_a_plan(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """A sandbox without faults answers every request normally and records it."""
    response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert response.status_code == 200
    [record] = sandbox.requests
    assert (record.vendor, record.route, record.status, record.fault) == (
        "cursor",
        "history",
        200,
        "ok",
    )


# -- error statuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "url", "headers", "body"),
    [
        (
            "cursor",
            CURSOR,
            CURSOR_AUTH,
            {
                "status": "error",
                "message": "Unexpected server error. Please try again later.",
                "data": None,
            },
        ),
        ("talkifai", TALKIFAI, TALKIFAI_AUTH, {"detail": "Internal Server Error"}),
    ],
)
async def test_a_500_is_worded_as_the_vendor_words_errors(
    sandbox: Sandbox, target: str, url: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    """An injected 500 carries the vendor's own error body (the cursor API's as documented)."""
    sandbox.set_faults(target, only(rate=1, statuses={500: 1}))
    async with sandbox.client() as client:
        response = await client.get(url, headers=headers)

    assert response.status_code == 500
    assert response.json() == body
    assert "retry-after" not in response.headers


async def test_convai_errors_are_error_bodies(sandbox: Sandbox) -> None:
    """An injected Convai error is an {"ERROR": ...} body."""
    sandbox.set_faults("convai", only(rate=1, statuses={503: 1}))
    async with sandbox.client() as client:
        response = await client.post(
            CONVAI_LIST, json={"charID": CONVAI_CHARACTER_ID}, headers=CONVAI_AUTH
        )

    assert response.status_code == 503
    assert set(response.json()) == {"ERROR"}


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds(sandbox: Sandbox, status: int) -> None:
    """429 and 503 announce Retry-After in seconds."""
    sandbox.set_faults("cursor", Faults(rate=1, statuses={status: 1}, retry_after=2))
    async with sandbox.client() as client:
        response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert response.status_code == status
    assert response.headers["retry-after"] == "2"


async def test_retry_after_as_an_http_date(sandbox: Sandbox) -> None:
    """Retry-After can be an HTTP-date, rounded up to whole seconds from now."""
    faults = Faults(rate=1, statuses={429: 1}, retry_after=1.5, retry_after_format="http-date")
    sandbox.set_faults("talkifai", faults)
    before = datetime.now(UTC).replace(microsecond=0)
    async with sandbox.client() as client:
        response = await client.get(TALKIFAI, headers=TALKIFAI_AUTH)

    when = parsedate_to_datetime(response.headers["retry-after"])
    assert response.status_code == 429
    assert when.tzinfo is not None
    assert (when - before).total_seconds() >= 2


async def test_retry_after_can_be_left_out(sandbox: Sandbox) -> None:
    """retry_after=None sends no Retry-After at all."""
    sandbox.set_faults("cursor", Faults(rate=1, statuses={429: 1}, retry_after=None))
    async with sandbox.client() as client:
        response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert "retry-after" not in response.headers


async def test_statuses_follow_their_weights(sandbox: Sandbox) -> None:
    """Every status of the plan shows up, and only those."""
    sandbox.set_faults("cursor", only(rate=1, statuses={429: 1, 500: 1, 502: 1, 503: 1}))
    async with sandbox.client() as client:
        statuses = {(await client.get(CURSOR, headers=CURSOR_AUTH)).status_code for _ in range(60)}

    assert statuses == {429, 500, 502, 503}


# -- broken bodies ---------------------------------------------------------------------------


async def test_truncated_json(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """A truncate fault cuts the JSON body in half, with a Content-Length that matches the cut."""
    whole = (await client.get(CURSOR, headers=CURSOR_AUTH)).content
    sandbox.set_faults("cursor", only(truncate=1))

    response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert response.status_code == 200
    assert response.content == whole[: len(whole) // 2]
    assert response.headers["content-length"] == str(len(whole) // 2)
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_html_error_page_with_200(sandbox: Sandbox) -> None:
    """An html fault answers an HTML error page with status 200, as a misconfigured proxy does."""
    sandbox.set_faults("talkifai", only(html=1))
    async with sandbox.client() as client:
        response = await client.get(TALKIFAI, headers=TALKIFAI_AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


async def test_wrong_content_type(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """wrong_content_type serves the right JSON labelled text/html."""
    whole = (await client.get(CURSOR, headers=CURSOR_AUTH)).json()
    sandbox.set_faults("cursor", only(wrong_content_type=1))

    response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.json() == whole


async def test_slow_body_arrives_whole_in_pieces(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    """A slow fault sends the body in slow_chunks pieces with a pause between each."""
    whole = (await client.get(CURSOR, headers=CURSOR_AUTH)).content
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    sandbox.fault_sleep = sleep
    sandbox.set_faults("cursor", Faults(slow=1, slow_chunks=5, slow_delay=0.25))

    response = await client.get(CURSOR, headers=CURSOR_AUTH)

    assert response.content == whole
    assert pauses == [0.25] * 4


async def test_latency_delays_every_request(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """Latency waits that long before each answer of the target, and only there."""
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    sandbox.fault_sleep = sleep
    sandbox.set_faults("cursor", Faults(latency=0.75))

    await client.get(CURSOR, headers=CURSOR_AUTH)
    await client.get(CURSOR, headers=CURSOR_AUTH)
    await client.get(TALKIFAI, headers=TALKIFAI_AUTH)

    assert pauses == [0.75, 0.75]


async def test_fault_sleep_and_clock_are_constructor_options() -> None:
    """Sandbox(fault_sleep=, fault_clock=) install the fault layer's sleep and quota clock."""
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    def clock() -> float:
        return 42.0

    sandbox = Sandbox(seed=0, fault_sleep=sleep, fault_clock=clock)
    sandbox.set_faults("cursor", Faults(latency=0.5))
    async with sandbox.client() as client:
        await client.get(CURSOR, headers=CURSOR_AUTH)

    assert pauses == [0.5]
    assert sandbox.fault_sleep is sleep
    assert sandbox.fault_clock is clock


# -- dropped connections ---------------------------------------------------------------------


async def test_drop_before_is_a_connect_error_and_nothing_happens(sandbox: Sandbox) -> None:
    """A drop before the request is processed raises ConnectError; the delete did not happen."""
    faults = Faults(drop=1, seed=3)
    index = index_of(faults, "convai/delete", lambda o: o.before)
    sandbox.set_faults("convai/delete", faults)
    session_id = sandbox.data.convai_sessions[CONVAI_CHARACTER_ID][0]["sessionID"]
    body = {"charID": CONVAI_CHARACTER_ID, "sessionIDs": [session_id]}
    async with sandbox.client() as client:
        for _ in range(index):
            with pytest.raises(httpx.ReadError):
                await client.post(
                    CONVAI_DELETE, json={**body, "sessionIDs": []}, headers=CONVAI_AUTH
                )
        with pytest.raises(httpx.ConnectError, match="fault injection"):
            await client.post(CONVAI_DELETE, json=body, headers=CONVAI_AUTH)

    assert session_id in sandbox.data.convai_interactions


async def test_drop_mid_body_is_a_read_error_after_the_work(sandbox: Sandbox) -> None:
    """A drop mid-response raises ReadError, but the server did the work (the delete)."""
    faults = Faults(drop=1, seed=3)
    index = index_of(faults, "convai/delete", lambda o: not o.before)
    sandbox.set_faults("convai/delete", faults)
    session_id = sandbox.data.convai_sessions[CONVAI_CHARACTER_ID][0]["sessionID"]
    async with sandbox.client() as client:
        for _ in range(index):
            with pytest.raises(httpx.ConnectError):
                await client.post(
                    CONVAI_DELETE,
                    json={"charID": CONVAI_CHARACTER_ID, "sessionIDs": []},
                    headers=CONVAI_AUTH,
                )
        with pytest.raises(httpx.ReadError, match="fault injection"):
            await client.post(
                CONVAI_DELETE,
                json={"charID": CONVAI_CHARACTER_ID, "sessionIDs": [session_id]},
                headers=CONVAI_AUTH,
            )

    assert session_id not in sandbox.data.convai_interactions


# -- the plan --------------------------------------------------------------------------------


def test_a_plan_replays_identically() -> None:
    """The same seed gives the same outcomes for the same requests; another seed does not."""
    plan = Faults(rate=0.2, statuses={429: 1, 500: 1, 503: 1}, drop=0.05, seed=1)
    again = Faults(rate=0.2, statuses={429: 1, 500: 1, 503: 1}, drop=0.05, seed=1)
    other = Faults(rate=0.2, statuses={429: 1, 500: 1, 503: 1}, drop=0.05, seed=2)

    outcomes = [plan.outcome("cursor", i) for i in range(500)]

    assert outcomes == [again.outcome("cursor", i) for i in range(500)]
    assert outcomes != [other.outcome("cursor", i) for i in range(500)]
    assert outcomes != [plan.outcome("talkifai", i) for i in range(500)]


def test_shares_are_roughly_kept() -> None:
    """Over many requests each fault shows up about as often as its share says."""
    plan = Faults(rate=0.2, drop=0.1, truncate=0.1, html=0.05, seed=7)
    kinds = [plan.outcome("cursor", i).kind for i in range(4000)]

    assert 0.17 < kinds.count("status") / 4000 < 0.23
    assert 0.08 < kinds.count("drop") / 4000 < 0.12
    assert 0.08 < kinds.count("truncate") / 4000 < 0.12
    assert 0.03 < kinds.count("html") / 4000 < 0.07
    assert 0.52 < kinds.count("ok") / 4000 < 0.58


async def test_the_same_plan_answers_the_same_way_twice() -> None:
    """Two sandboxes with the same plan answer the same request sequence identically."""

    async def run() -> list[tuple[int, bytes]]:
        sandbox = Sandbox(faults={"cursor": only(rate=0.3, truncate=0.2, html=0.1, seed=5)})
        async with sandbox.client() as client:
            return [
                ((r := await client.get(CURSOR, headers=CURSOR_AUTH)).status_code, r.content)
                for _ in range(40)
            ]

    assert await run() == await run()


async def test_a_routes_plan_beats_its_vendors(sandbox: Sandbox) -> None:
    """A plan for "convai/list" applies there; the "convai" plan covers the other routes."""
    sandbox.set_faults("convai", only(rate=1, statuses={500: 1}))
    sandbox.set_faults("convai/list", only(rate=1, statuses={429: 1}))
    async with sandbox.client() as client:
        listed = await client.post(
            CONVAI_LIST, json={"charID": CONVAI_CHARACTER_ID}, headers=CONVAI_AUTH
        )
        deleted = await client.post(
            CONVAI_DELETE, json={"charID": CONVAI_CHARACTER_ID}, headers=CONVAI_AUTH
        )

    assert (listed.status_code, deleted.status_code) == (429, 500)
    assert set(sandbox.faults) == {"convai", "convai/list"}


async def test_faults_can_be_removed(sandbox: Sandbox) -> None:
    """set_faults(target, None) ends the faults there."""
    sandbox.set_faults("cursor", only(rate=1))
    sandbox.set_faults("cursor", None)
    async with sandbox.client() as client:
        assert (await client.get(CURSOR, headers=CURSOR_AUTH)).status_code == 200


async def test_unknown_paths_get_no_faults(sandbox: Sandbox) -> None:
    """Paths outside the vendor routes are never faulted (a plain 404)."""
    sandbox.set_faults("cursor", only(rate=1))
    async with sandbox.client() as client:
        response = await client.get("/cursor/v2/other")

    assert response.status_code == 404
    assert sandbox.requests[-1].fault == "ok"


@pytest.mark.parametrize("target", ["zendesk", "cursor/messages", "convai/", ""])
def test_unknown_targets_are_refused(sandbox: Sandbox, target: str) -> None:
    """A fault target that names no vendor or route raises ConfigurationError listing them."""
    with pytest.raises(errors.ConfigurationError, match="convai/details"):
        sandbox.set_faults(target, Faults())


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 1.5},
        {"rate": -0.1},
        {"rate": "0.5"},
        {"rate": 0.6, "drop": 0.6},
        {"statuses": {200: 1}},
        {"statuses": {429: -1}},
        {"statuses": {429: 0}},
        {"latency": -1},
        {"retry_after": "soon"},
        {"retry_after_format": "minutes"},
        {"slow_chunks": 0},
    ],
)
def test_bad_plans_are_refused(options: dict[str, Any]) -> None:
    """An unusable plan raises ConfigurationError (a ValueError) at construction."""
    with pytest.raises(errors.ConfigurationError):
        Faults(**options)


def test_faults_must_be_faults(sandbox: Sandbox) -> None:
    """Anything but a Faults plan is refused."""
    with pytest.raises(errors.ConfigurationError, match="Faults"):
        sandbox.set_faults("cursor", {"rate": 1})  # type: ignore[arg-type]


# -- providers under faults ------------------------------------------------------------------


async def test_providers_read_through_a_rough_network(sandbox: Sandbox) -> None:
    """With errors, 429s, 503s and drops on every vendor, retries read everything exactly once."""
    plan = Faults(rate=0.2, statuses={429: 1, 500: 1, 503: 1}, drop=0.1, retry_after=0, seed=1)
    for target in ("convai", "talkifai", "cursor"):
        sandbox.set_faults(target, plan)

    async with (
        sandbox.convai(max_retries=20) as convai,
        sandbox.talkifai(max_retries=20) as talkifai,
        sandbox.cursor(max_retries=20) as cursor,
    ):
        backscroll.testing.set_testing(True)  # no waits; reset by the autouse fixture
        sessions = [c.id async for c in convai.conversations()]
        talkifai_read = [m.content async for m in talkifai.messages("chat_abc123", page_size=10)]
        cursor_read = [m.id async for m in cursor.messages("con_9s2kd81", page_size=10)]

    assert sessions == [s["sessionID"] for s in sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]]
    assert talkifai_read == [r["content"] for r in sandbox.data.talkifai["chat_abc123"]]
    assert sorted(cursor_read) == sorted(r["id"] for r in sandbox.data.cursor["con_9s2kd81"])
    faulted = [r.fault for r in sandbox.requests if r.fault != "ok"]
    assert "drop" in faulted
    assert "status" in faulted
    assert talkifai.retries + cursor.retries + convai.retries == len(faulted)


async def test_a_provider_reports_a_truncated_body(sandbox: Sandbox) -> None:
    """A truncated answer surfaces as ResponseFormatError, not a crash."""
    sandbox.set_faults("talkifai", only(truncate=1))
    async with sandbox.talkifai() as provider:
        with pytest.raises(errors.ResponseFormatError, match="not JSON"):
            [m async for m in provider.messages("chat_abc123")]


async def test_a_provider_reports_an_html_page(sandbox: Sandbox) -> None:
    """An HTML error page with status 200 surfaces as ResponseFormatError."""
    sandbox.set_faults("cursor", only(html=1))
    async with sandbox.cursor() as provider:
        with pytest.raises(errors.ResponseFormatError):
            [m async for m in provider.messages("con_9s2kd81")]


async def test_a_provider_reads_json_labelled_html(sandbox: Sandbox) -> None:
    """JSON served with the wrong content type is still read."""
    sandbox.set_faults("cursor", only(wrong_content_type=1))
    async with sandbox.cursor() as provider:
        messages = [m async for m in provider.messages("con_9s2kd81")]

    assert len(messages) == len(sandbox.data.cursor["con_9s2kd81"])
