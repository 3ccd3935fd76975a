"""The seeded ground truth: deterministic, realistic, configurable, and growable."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backscroll import Message, Role, errors
from backscroll.sandbox import (
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    Sandbox,
    SandboxData,
    create_app,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from backscroll import ChatHistoryProvider

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


def test_a_misspelt_sandbox_option_is_refused_not_ignored() -> None:
    """Sandbox() refuses an option no fake takes, naming the ones they do take."""
    with pytest.raises(errors.ConfigurationError, match=r"cursr_sizes.*cursor_sizes"):
        Sandbox(cursr_sizes=(1,))  # type: ignore[call-arg]


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
    assert repr(sandbox.data).startswith("<SandboxData seed=5: 7 convai, 11 talkifai, 9 cursor")


@pytest.mark.parametrize("seed", range(40))
def test_cursor_conversations_are_oldest_first_for_any_seed(seed: int) -> None:
    """Every cursor-API conversation's records are in time order, the documented one too."""
    data = SandboxData(seed=seed)
    for records in data.cursor.values():
        stamps = [r["created_at"] for r in records]
        assert stamps == sorted(stamps)


# -- users' own history ----------------------------------------------------------------------


def empty_sandbox() -> Sandbox:
    """A sandbox with only the documented examples: room for a user's own history."""
    return Sandbox(convai_sizes=(), talkifai_sizes=(), cursor_sizes=())


T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def own(vendor: str, conversation_id: str = "mine", **fields: Any) -> Message:
    values: dict[str, Any] = {
        "id": "m1",
        "conversation_id": conversation_id,
        "role": Role.USER,
        "content": "hello",
        "created_at": T0,
        "provider": vendor,
    }
    values.update(fields)
    return Message(**values)


async def read_back(sandbox: Sandbox, vendor: str, conversation_id: str) -> list[Message]:
    opened: dict[str, Callable[[], AbstractAsyncContextManager[ChatHistoryProvider]]] = {
        "convai": sandbox.convai,
        "talkifai": sandbox.talkifai,
        "cursor": sandbox.cursor,
    }
    async with opened[vendor]() as provider:
        return [m async for m in provider.messages(conversation_id)]


def seen(message: Message, vendor: str) -> tuple[Any, ...]:
    """What a vendor keeps of a message: the id only where the vendor has ids."""
    kept = (message.role, message.content, message.created_at, dict(message.metadata))
    if vendor == "cursor":
        return (message.id, message.sender_id, *kept)
    if vendor == "talkifai":
        return (message.token_count, *kept)
    return kept


# Texts and times as a user's own messages have them: any text, sub-second times, bursts.
own_texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
own_times = st.integers(0, 3 * 86_400_000_000).map(lambda us: T0 + timedelta(microseconds=us))


def own_metadata(vendor: str) -> st.SearchStrategy[dict[str, Any]]:
    """Extras as each vendor has them (Convai always says whether a line was a trigger)."""
    if vendor == "convai":
        return st.fixed_dictionaries({"is_trigger_input": st.booleans()})
    if vendor == "cursor":
        return st.fixed_dictionaries({}, optional={"channel": st.sampled_from(["web", "ios"])})
    return st.just({}) | st.fixed_dictionaries({"mood": st.text(max_size=5)})


@st.composite
def own_conversations(draw: st.DrawFn, vendor: str) -> list[Message]:
    roles = [Role.USER, Role.ASSISTANT] + ([Role.SYSTEM] if vendor != "convai" else [])
    count = draw(st.integers(0, 45))
    times = sorted(draw(st.lists(own_times, min_size=count, max_size=count)))
    burst = draw(st.booleans())  # many messages sharing one time, across a page boundary
    ids = draw(
        st.lists(
            st.text("abcdef0123", min_size=6, max_size=6),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    return [
        own(
            vendor,
            id=f"msg_{ids[i]}",
            role=draw(st.sampled_from(roles)),
            content=draw(own_texts),
            created_at=times[0] if burst else times[i],
            sender_id=draw(st.none() | st.just("usr_1")) if vendor == "cursor" else None,
            token_count=draw(st.none() | st.integers(0, 999)) if vendor == "talkifai" else None,
            metadata=draw(own_metadata(vendor)),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("vendor", ["convai", "talkifai", "cursor"])
@given(data=st.data())
@settings(max_examples=25, deadline=None)
async def test_loaded_messages_read_back_as_given(vendor: str, data: st.DataObject) -> None:
    """Any messages loaded into a vendor's fake come back through its provider, in order."""
    messages = data.draw(own_conversations(vendor))
    sandbox = empty_sandbox()
    shuffled = data.draw(st.permutations(messages))
    assert sandbox.data.add_messages(shuffled) == (["mine"] if messages else [])
    if not messages:
        return
    back = await read_back(sandbox, vendor, "mine")
    # Equal times keep the order they were given in: compare as multisets within a time.
    assert [m.created_at for m in back] == sorted(m.created_at for m in messages if m.created_at)
    assert sorted(map(repr, (seen(m, vendor) for m in back))) == sorted(
        map(repr, (seen(m, vendor) for m in messages))
    )


async def test_messages_go_to_their_providers_fakes() -> None:
    """Without vendor=, each message goes to the fake named by its provider."""
    sandbox = empty_sandbox()
    loaded = sandbox.data.add_messages(
        [own("cursor", "c1"), own("talkifai", "t1"), own("convai", "s1")]
    )
    assert loaded == ["c1", "t1", "s1"]
    assert "c1" in sandbox.data.cursor
    assert "t1" in sandbox.data.talkifai
    assert sandbox.data.convai_session_owner("s1") == CONVAI_CHARACTER_ID
    for vendor, conversation_id in (("cursor", "c1"), ("talkifai", "t1"), ("convai", "s1")):
        assert [m.content for m in await read_back(sandbox, vendor, conversation_id)] == ["hello"]


async def test_vendor_moves_messages_from_another_vendor() -> None:
    """vendor="cursor" serves Convai messages from the cursor fake, roles mapped to its words."""
    sandbox = empty_sandbox()
    given_messages = [own("convai", role=Role.USER), own("convai", id="m2", role=Role.ASSISTANT)]
    sandbox.data.add_messages(given_messages, vendor="cursor")
    assert [r["sender_type"] for r in sandbox.data.cursor["mine"]] == ["user", "ai"]
    back = await read_back(sandbox, "cursor", "mine")
    assert [(m.provider, m.role) for m in back] == [
        ("cursor", Role.USER),
        ("cursor", Role.ASSISTANT),
    ]


async def test_a_convai_user_line_and_answer_share_one_interaction() -> None:
    """Messages of one time become one Convai interaction, as Convai groups them."""
    sandbox = empty_sandbox()
    sandbox.data.add_messages(
        [
            own("convai", content="Hi", metadata={"is_trigger_input": False}),
            own(
                "convai",
                role=Role.ASSISTANT,
                content="Hello!",
                metadata={"is_trigger_input": False},
            ),
        ]
    )
    [interaction] = sandbox.data.convai_interactions["mine"]
    assert interaction == {
        "timestamp": "2025-05-01 12:00:00.000000",
        "interaction": [
            {"speaker": "User", "message": "Hi"},
            {"speaker": "Character", "message": "Hello!"},
        ],
        "is_trigger_input": False,
    }


async def test_an_unknown_speaker_keeps_its_vendor_word() -> None:
    """A Role.UNKNOWN message read from Convai goes back with the speaker in its raw entry."""
    sandbox = Sandbox(seed=0)
    read = [
        m for s in sandbox.data.convai_interactions for m in await read_back(sandbox, "convai", s)
    ]
    narrated = next(m for m in read if m.role is Role.UNKNOWN)
    copy_of_it = empty_sandbox()
    copy_of_it.data.add_messages([narrated])
    [interaction] = copy_of_it.data.convai_interactions[narrated.conversation_id]
    assert interaction["interaction"][0]["speaker"] == "Narrator"


def test_a_message_without_a_time_is_refused() -> None:
    """Every vendor serves a time: created_at=None is a ConfigurationError that says so."""
    sandbox = empty_sandbox()
    with pytest.raises(errors.ConfigurationError, match="has no created_at"):
        sandbox.data.add_messages([own("cursor", created_at=None)])


def test_an_unknown_vendor_is_refused() -> None:
    """A provider without a fake (a JSONL export's, say) needs vendor=, and the error says so."""
    sandbox = empty_sandbox()
    with pytest.raises(errors.ConfigurationError, match="pass vendor= one of convai, talkifai"):
        sandbox.data.add_messages([own("jsonl")])
    with pytest.raises(errors.ConfigurationError, match="'slack' has no fake"):
        sandbox.data.add_records("slack", "c", [])


def test_older_messages_after_newer_are_refused_and_nothing_is_written() -> None:
    """Messages older than a conversation's last are refused; the call writes nothing at all."""
    sandbox = empty_sandbox()
    sandbox.data.add_messages([own("talkifai", created_at=T0)])
    before = sandbox.data.snapshot()
    with pytest.raises(errors.ConfigurationError, match="out of order"):
        sandbox.data.add_messages(
            [own("cursor", "new"), own("talkifai", created_at=T0 - timedelta(seconds=1))]
        )
    assert sandbox.data.snapshot() == before


def test_a_taken_cursor_id_is_refused() -> None:
    """Two cursor messages with one id in a conversation are refused."""
    sandbox = empty_sandbox()
    sandbox.data.add_messages([own("cursor")])
    with pytest.raises(errors.ConfigurationError, match="'m1' is already in 'mine'"):
        sandbox.data.add_messages([own("cursor", created_at=T0 + timedelta(seconds=1))])


async def test_vendor_records_are_served_as_given() -> None:
    """add_records serves vendor-shaped records verbatim, odd fields and all."""
    sandbox = empty_sandbox()
    record = {
        "role": "assistant",
        "content": "Hi",
        "timestamp": "2024-01-15T10:00:00",
        "token_count": 3,
        "mood": "cheerful",
    }
    sandbox.data.add_records("talkifai", "chat_1", [record])
    record["content"] = "changed after loading"
    [message] = await read_back(sandbox, "talkifai", "chat_1")
    assert (message.content, message.token_count) == ("Hi", 3)
    assert message.metadata == {"mood": "cheerful"}
    assert message.created_at == datetime(2024, 1, 15, 10, tzinfo=UTC)


async def test_a_malformed_record_reaches_the_provider_as_an_error() -> None:
    """A record the vendor should never send is served, and the provider names the field."""
    sandbox = empty_sandbox()
    sandbox.data.add_records(
        "cursor",
        "con_1",
        [{"id": "x", "sender_type": "user", "created_at": "2026-01-01T00:00:00Z"}],
    )
    with pytest.raises(errors.ResponseFormatError, match="text"):
        await read_back(sandbox, "cursor", "con_1")


async def test_convai_records_make_a_session_of_the_character() -> None:
    """Convai interactions go into a new session of the given character, listed by its time."""
    sandbox = Sandbox(seed=0)
    interaction = {
        "timestamp": "2023-01-02 03:04:05.000006",
        "interaction": [{"speaker": "User", "message": "Oldest of all"}],
        "is_trigger_input": False,
    }
    sandbox.data.add_records("convai", "s-old", [interaction])
    sandbox.data.add_records("convai", "s-empty", [], character_id="char-2")
    sessions = sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]
    assert sessions[-1]["sessionID"] == "s-old"  # newest first: the oldest is last
    assert (sessions[-1]["date"], sessions[-1]["time"]) == ("02-01-2023", "03:04:05")
    assert sandbox.data.convai_sessions["char-2"][0]["sessionID"] == "s-empty"
    async with sandbox.convai() as provider:
        assert "s-old" in [c.id async for c in provider.conversations()]
    [message] = await read_back(sandbox, "convai", "s-old")
    assert message.content == "Oldest of all"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.add_records("cursor", "c", [{"created_at": "yesterday"}]), "ISO 8601"),
        (
            lambda d: d.add_records(
                "cursor",
                "c",
                [{"created_at": "2026-01-02T00:00:00Z"}, {"created_at": "2026-01-01T00:00:00Z"}],
            ),
            "older than the record before it",
        ),
        (lambda d: d.add_records("talkifai", "c", ["not a dict"]), r"records\[0\] is a str"),
        (lambda d: d.add_records("talkifai", "", []), "conversation_id must be a non-empty"),
        (
            lambda d: d.add_records("cursor", "c", [], character_id="x"),
            "character_id is for convai only, not for cursor",
        ),
        (
            lambda d: d.add_records(
                "convai",
                d.convai_sessions[CONVAI_CHARACTER_ID][0]["sessionID"],
                [],
                character_id="other",
            ),
            "belongs to character",
        ),
    ],
    ids=[
        "cursor-time",
        "cursor-order",
        "not-a-dict",
        "empty-id",
        "character-elsewhere",
        "other-character",
    ],
)
def test_records_the_fake_cannot_serve_are_refused(call: Any, match: str) -> None:
    """What would make a fake misbehave (not what a vendor might send) is a ConfigurationError."""
    sandbox = Sandbox(seed=0)
    before = sandbox.data.snapshot()
    with pytest.raises(errors.ConfigurationError, match=match):
        call(sandbox.data)
    assert sandbox.data.snapshot() == before


async def test_metadata_cannot_replace_the_fields_a_record_is_made_of() -> None:
    """Metadata keys named like a record's own fields do not replace them."""
    sandbox = empty_sandbox()
    clashing = {"timestamp": "yesterday", "interaction": [], "role": "system", "content": "x"}
    sandbox.data.add_messages(
        [own("convai", metadata=clashing), own("talkifai", metadata=clashing)]
    )
    for vendor in ("convai", "talkifai"):
        [message] = await read_back(sandbox, vendor, "mine")
        assert (message.role, message.content, message.created_at) == (Role.USER, "hello", T0)
