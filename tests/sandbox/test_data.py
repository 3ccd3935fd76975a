"""The seeded ground truth: deterministic, realistic, configurable, and growable."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import httpx
import pytest

from backscroll import errors
from backscroll.sandbox import (
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    Sandbox,
    SandboxData,
    create_app,
)

pytestmark = pytest.mark.anyio


def dump(sandbox: Sandbox) -> str:
    return json.dumps(sandbox.data.snapshot(), sort_keys=True)


def test_same_seed_same_bytes() -> None:
    """The same seed gives byte-identical data."""
    assert dump(Sandbox(seed=42)) == dump(Sandbox(seed=42))


def test_other_seed_other_data() -> None:
    """Another seed gives other conversations (the documented examples aside)."""
    assert dump(Sandbox(seed=1)) != dump(Sandbox(seed=2))


async def test_same_seed_same_answers() -> None:
    """Two sandboxes with one seed answer the same request with the same bytes."""
    bodies = []
    for _ in range(2):
        sandbox = Sandbox(seed=9)
        conversation_id = list(sandbox.data.cursor)[-1]
        async with sandbox.client() as client:
            response = await client.get(
                "/cursor/v1/chat/history",
                params={"conversation_id": conversation_id, "include_meta": "true"},
                headers={"Authorization": f"Bearer {CURSOR_API_KEY}"},
            )
        bodies.append(response.content)

    assert bodies[0] == bodies[1]


def test_sizes_are_configurable() -> None:
    """Each vendor generates one conversation per configured size, beside the documented ones."""
    sandbox = Sandbox(convai_sizes=(3,), talkifai_sizes=(0, 250), cursor_sizes=(5, 6, 7))

    assert sorted(len(s) for s in sandbox.data.convai_interactions.values()) == [1, 3, 3]
    talkifai = {c: len(r) for c, r in sandbox.data.talkifai.items()}
    assert sorted(talkifai.values()) == [0, 5, 42, 250]
    assert sorted(len(r) for r in sandbox.data.cursor.values()) == [5, 6, 7, 47]


def test_default_sizes_straddle_page_limits() -> None:
    """By default there are empty, tiny, page-boundary and long conversations."""
    sandbox = Sandbox()
    talkifai = {len(r) for r in sandbox.data.talkifai.values()}
    cursor = {len(r) for r in sandbox.data.cursor.values()}

    assert {0, 1, 50, 99, 100, 101, 200}.issubset(talkifai)
    assert max(talkifai) > 300
    assert {0, 1, 20, 100, 101, 200}.issubset(cursor)


def test_bursts_share_a_second() -> None:
    """Several messages often share one second: bursts of 2 to max_burst."""
    sandbox = Sandbox(max_burst=8)
    longest = max(sandbox.data.cursor.values(), key=len)
    bursts = Counter(r["created_at"] for r in longest)

    sizes = [n for n in bursts.values() if n > 1]
    assert len(sizes) > 20
    assert max(sizes) <= 8
    assert max(sizes) >= 5


def test_no_bursts_when_switched_off() -> None:
    """burst_rate=0 gives every message its own second."""
    sandbox = Sandbox(burst_rate=0.0)
    for records in sandbox.data.cursor.values():
        stamps = [r["created_at"] for r in records]
        assert len(set(stamps)) == len(stamps)


def test_every_message_is_distinct() -> None:
    """No two messages of a conversation have the same text."""
    sandbox = Sandbox()
    for records in sandbox.data.talkifai.values():
        assert len({r["content"] for r in records}) == len(records)
    for records in sandbox.data.cursor.values():
        assert len({r["text"] for r in records}) == len(records)


def test_extend_talkifai_continues_the_clock() -> None:
    """New Talkifai messages come after the last one, and growing is deterministic too."""
    first, second = Sandbox(), Sandbox()
    conversation_id = "chat_abc123"
    last = datetime.fromisoformat(first.data.talkifai[conversation_id][-1]["timestamp"])

    added = first.data.extend_talkifai(conversation_id, 30)

    assert first.data.talkifai[conversation_id][-30:] == added
    assert datetime.fromisoformat(added[0]["timestamp"]) > last
    assert added == second.data.extend_talkifai(conversation_id, 30)


def test_extend_creates_conversations() -> None:
    """Extending an unknown conversation creates it."""
    data = SandboxData()

    talkifai = data.extend_talkifai("chat_new", 4)
    cursor = data.extend_cursor("con_new", 4)

    assert data.talkifai["chat_new"] == talkifai
    assert data.cursor["con_new"] == cursor
    assert len({r["id"] for r in cursor}) == 4


def test_extend_cursor_continues_the_clock() -> None:
    """New cursor-API messages come after the last one, with fresh ids."""
    data = SandboxData()
    before = list(data.cursor["con_9s2kd81"])

    added = data.extend_cursor("con_9s2kd81", 25)

    assert added[0]["created_at"] > before[-1]["created_at"]
    assert not {r["id"] for r in added} & {r["id"] for r in before}


def test_convai_sessions_grow() -> None:
    """A new session is the newest; interactions are appended to a session."""
    data = SandboxData()
    session_id = data.add_convai_session(interactions=2)
    extra = data.extend_convai(session_id, 3)

    assert data.convai_sessions[CONVAI_CHARACTER_ID][0]["sessionID"] == session_id
    assert data.convai_interactions[session_id][-3:] == extra
    assert len(data.convai_interactions[session_id]) == 5
    assert data.convai_session_owner(session_id) == CONVAI_CHARACTER_ID


def test_extending_an_unknown_convai_session_is_refused() -> None:
    """Convai interactions need an existing session."""
    with pytest.raises(errors.ConfigurationError, match="no convai session"):
        SandboxData().extend_convai("nope")


@pytest.mark.parametrize(
    "options",
    [
        {"talkifai_sizes": (-1,)},
        {"cursor_sizes": "12"},
        {"convai_sizes": (1.5,)},
        {"burst_rate": 2},
        {"max_burst": 0},
    ],
)
def test_bad_sizes_are_refused(options: dict[str, object]) -> None:
    """Unusable data options raise ConfigurationError."""
    with pytest.raises(errors.ConfigurationError):
        SandboxData(**options)  # type: ignore[arg-type]


def test_count_must_be_a_count() -> None:
    """Extending by a negative or non-integer count is refused."""
    with pytest.raises(errors.ConfigurationError):
        SandboxData().extend_talkifai("chat_abc123", -1)


async def test_create_app_exposes_its_sandbox() -> None:
    """create_app returns the ASGI app with its Sandbox on app.state.sandbox."""
    app = create_app(seed=3, cursor_sizes=(4,))
    sandbox = app.state.sandbox

    assert isinstance(sandbox, Sandbox)
    assert sandbox.app is app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.get(
            "/cursor/v1/chat/history",
            params={"conversation_id": "con_9s2kd81"},
            headers={"Authorization": f"Bearer {CURSOR_API_KEY}"},
        )
    assert response.status_code == 200


def test_reprs_say_what_is_inside() -> None:
    """The reprs give the seed and the sizes, not the data."""
    sandbox = Sandbox(seed=5)

    assert repr(sandbox) == "<Sandbox seed=5 faults=[]>"
    assert repr(sandbox.data).startswith("<SandboxData seed=5: 7 convai sessions")


@pytest.mark.parametrize("seed", range(40))
def test_cursor_conversations_are_oldest_first_for_any_seed(seed: int) -> None:
    """Every cursor-API conversation's records are in time order, the documented one too."""
    data = SandboxData(seed=seed)
    for records in data.cursor.values():
        stamps = [r["created_at"] for r in records]
        assert stamps == sorted(stamps)
