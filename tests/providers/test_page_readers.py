"""
The page readers build exactly what the per-record readers before them built.

Each vendor reads a page in one pass: plain lookups for a record in the usual shape, the
checked readers (whose errors name the field) for any other. Hypothesis draws pages of
records in the usual shape and in unusual ones (missing fields, odd types, unparseable
times, records that are not objects) and compares, record for record, with an oracle: the
reader each provider had before the page readers, written out here and building through
``Message(...)`` and its converters. Same messages (ids, fields, raw, read-only views),
or the same `ResponseFormatError`, word for word.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backscroll import ConvaiProvider, CursorProvider, Message, Role, TalkifaiProvider
from backscroll import _fields as f
from backscroll._ids import Occurrences, derived_id
from backscroll._paging import _SINGLE_RESPONSE_BATCH
from backscroll.errors import ResponseFormatError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from backscroll._protocols import Order

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KEY = "test-key-123"
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]

odd = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    | st.sampled_from(["not a time", "2024-13-01T00:00:00Z", "12", " 7 "])
    | st.lists(st.integers(0, 2), max_size=2)
    | st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2)
)
MISSING = object()


def record(
    fields: Mapping[str, st.SearchStrategy[Any]], *, unusual: bool
) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with these fields and maybe extra ones; *unusual*: any may be odd or absent."""
    if unusual:
        fields = {name: value | odd | st.just(MISSING) for name, value in fields.items()}
    extras = st.dictionaries(st.sampled_from(["extra", "flag"]), odd, max_size=2)
    return st.builds(
        lambda values, more: {k: v for k, v in {**values, **more}.items() if v is not MISSING},
        st.fixed_dictionaries(fields),
        extras,
    )


def pages(
    fields: Mapping[str, st.SearchStrategy[Any]], *, max_size: int, objects: bool = False
) -> st.SearchStrategy[list[Any]]:
    """
    Pages of records in the usual shape, or pages where any record or field may be odd.

    With *objects*, every item is a JSON object (Talkifai's fetch checks that, per page).
    """
    usual, unusual = record(fields, unusual=False), record(fields, unusual=True)
    items = usual | unusual if objects else usual | unusual | odd
    return st.lists(usual, max_size=max_size) | st.lists(items, max_size=max_size)


seconds = st.integers(0, 5).map(lambda s: datetime(2024, 9, 25, 19, 54, s))  # noqa: DTZ001
iso_stamps = st.one_of(
    seconds.map(lambda d: d.isoformat() + "Z"),
    seconds.map(lambda d: d.isoformat()),
    seconds.map(lambda d: d.isoformat(sep=" ")),
    seconds.map(lambda d: d.replace(tzinfo=ZONES[1]).isoformat()),
)
naive_stamps = st.one_of(
    seconds.map(lambda d: d.isoformat(sep=" ")),
    seconds.map(lambda d: d.isoformat(sep=" ", timespec="microseconds")),
    seconds.map(lambda d: d.isoformat()),
)
texts = st.sampled_from(["hi", "ok", "Hello there", ""])


def outcome(read: Callable[..., list[Message] | Message], *args: object) -> list[Message] | str:
    """What ``read(*args)`` read, as a list, or the text of the `ResponseFormatError` raised."""
    try:
        got = read(*args)
    except ResponseFormatError as exc:
        return str(exc)
    return [got] if isinstance(got, Message) else got


def assert_same(got: list[Message] | str, expected: list[Message] | str) -> None:
    """Equal messages with the invariants Message(...) keeps, or the same error text."""
    assert got == expected
    event("an error" if isinstance(expected, str) else "messages")
    if isinstance(got, str) or isinstance(expected, str):
        return
    for mine, theirs in zip(got, expected, strict=True):
        assert attrs.asdict(mine, recurse=False) == attrs.asdict(theirs, recurse=False)
        assert hash(mine) == hash(theirs)
        assert mine.created_at is None or mine.created_at.tzinfo is UTC
        assert type(mine.metadata) is MappingProxyType
        assert mine.raw is None or type(mine.raw) is MappingProxyType
        assert type(mine.role) is Role
    for mine in got:  # after comparing: this writes into the records' nested objects
        metadata = dict(mine.metadata)
        for value in (mine.raw or {}).values():
            if type(value) is dict:
                value["written through raw"] = True
        assert dict(mine.metadata) == metadata, "metadata shares a dict with raw"


# -- the cursor API --------------------------------------------------------------------------------

cursor_items = pages(
    {
        "id": st.text(min_size=1, max_size=3),
        "sender_type": st.sampled_from(["user", "ai", "system", "AI", "robot"]),
        "text": texts,
        "created_at": iso_stamps,
        "sender_id": st.none() | st.text(max_size=3),
        "metadata": st.none() | st.dictionaries(st.sampled_from(["tone", "lang"]), texts),
    },
    max_size=6,
)
CURSOR_ROLES = {"user": Role.USER, "ai": Role.ASSISTANT, "system": Role.SYSTEM}


def cursor_oracle(
    provider: CursorProvider, conversation_id: str, item: object, index: int
) -> Message:
    """The cursor API's record reader before the page readers."""
    where = f"data.messages[{index}]"
    record: Mapping[str, Any] = f.require_mapping("cursor", item, where)
    message_id = record.get("id")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not isinstance(message_id, str) or not message_id:
        f.fail("cursor", f"{where}.id", "a non-empty string", message_id)
    sender = f.get_str("cursor", record, "sender_type", where)
    metadata = record.get("metadata")
    if metadata is not None:
        metadata = f.require_mapping("cursor", metadata, f"{where}.metadata")
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        role=CURSOR_ROLES.get(sender.lower(), Role.UNKNOWN),
        content=f.get_str("cursor", record, "text", where),
        created_at=f.parse_timestamp(
            "cursor", record.get("created_at"), f"{where}.created_at", assume=provider.timezone
        ),
        provider="cursor",
        sender_id=f.get_str_or_none("cursor", record, "sender_id", where),
        metadata=metadata or {},
        raw=record,
    )


@SETTINGS
@given(items=cursor_items, zone=st.sampled_from(ZONES))
def test_cursor_page_reader_builds_what_the_record_reader_built(
    items: list[object], zone: timezone
) -> None:
    """A cursor-API page reads to the old reader's messages, or raises its error word for word."""
    provider = CursorProvider(api_key=KEY, timezone=zone)
    expected = outcome(
        lambda: [cursor_oracle(provider, "c1", item, i) for i, item in enumerate(items)]
    )
    assert_same(outcome(lambda: provider._messages("c1", items)), expected)


@SETTINGS
@given(items=cursor_items)
def test_cursor_checked_reader_agrees_with_the_page_reader(items: list[object]) -> None:
    """Every record the page reader reads, the checked reader reads to an equal Message."""
    provider = CursorProvider(api_key=KEY)
    for item in items:
        page = outcome(provider._messages, "c1", [item])
        checked = outcome(provider._checked_message, "c1", item, "data.messages[0]")
        assert_same(page, checked)


# -- Talkifai --------------------------------------------------------------------------------------

talkifai_pages = pages(
    {
        "role": st.sampled_from(["user", "assistant", "system", "Assistant", "narrator"]),
        "content": texts,
        "timestamp": iso_stamps,
        "token_count": st.none() | st.integers(0, 99),
    },
    max_size=8,
    objects=True,
)
TALKIFAI_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
TALKIFAI_FIELDS = frozenset({"role", "content", "timestamp", "token_count"})


def talkifai_oracle(
    provider: TalkifaiProvider, conversation_id: str, record: Mapping[str, Any], seen: Occurrences
) -> Message:
    """Talkifai's record reader before the page readers."""
    where = "a message"
    role = f.get_str("talkifai", record, "role", where)
    content = f.get_str("talkifai", record, "content", where)
    stamp = f.get_str("talkifai", record, "timestamp", where)
    created_at = f.parse_timestamp(
        "talkifai", stamp, "a message.timestamp", assume=provider.timezone
    )
    k = seen.next(stamp, role, content)
    return Message(
        id=derived_id(conversation_id, stamp, role, content, k),
        conversation_id=conversation_id,
        role=TALKIFAI_ROLES.get(role.lower(), Role.UNKNOWN),
        content=content,
        created_at=created_at,
        provider="talkifai",
        token_count=f.get_int_or_none("talkifai", record, "token_count", where),
        metadata={k2: v for k2, v in record.items() if k2 not in TALKIFAI_FIELDS},
        raw=record,
    )


@SETTINGS
@given(records=talkifai_pages, zone=st.sampled_from(ZONES))
def test_talkifai_page_reader_builds_what_the_record_reader_built(
    records: list[dict[str, Any]], zone: timezone
) -> None:
    """A Talkifai page reads to the old reader's messages and ids, or raises its error exactly."""
    provider = TalkifaiProvider(token=KEY, timezone=zone)
    seen = Occurrences()
    expected = outcome(lambda: [talkifai_oracle(provider, "c1", r, seen) for r in records])
    got = outcome(lambda: provider._messages("c1", records, Occurrences()))
    assert_same(got, expected)


@SETTINGS
@given(records=talkifai_pages)
def test_talkifai_checked_reader_agrees_with_the_page_reader(
    records: list[dict[str, Any]],
) -> None:
    """Record by record, the checked reader gives the page reader's Message (and id count)."""
    provider = TalkifaiProvider(token=KEY)
    page_seen, checked_seen = Occurrences(), Occurrences()
    for record in records:
        page = outcome(provider._messages, "c1", [record], page_seen)
        checked = outcome(provider._checked_message, "c1", record, checked_seen)
        assert_same(page, checked)
        if isinstance(page, str):
            break


# -- Convai ----------------------------------------------------------------------------------------

entries = {
    "speaker": st.sampled_from(["User", "Character", "user", "Narrator"]),
    "message": texts,
}
header = {"timestamp": naive_stamps, "is_trigger_input": st.booleans()}
usual_interaction = record(
    {**header, "interaction": st.lists(record(entries, unusual=False), max_size=3)},
    unusual=False,
)
#: Sessions in the usual shape, or sessions where any interaction or entry may be odd.
sessions = st.lists(usual_interaction, max_size=8) | pages(
    {**header, "interaction": pages(entries, max_size=3)}, max_size=8
)


CONVAI_ROLES = {"user": Role.USER, "character": Role.ASSISTANT}


def convai_oracle(
    provider: ConvaiProvider, conversation_id: str, data: object, order: Order
) -> list[Message]:
    """Convai's reader before the page readers: every message built, then sorted stably."""
    if not isinstance(data, list):
        f.fail("convai", "the details response", "a list of interactions", data)
    seen: Counter[tuple[str, str, str]] = Counter()
    messages: list[Message] = []
    for index, item in enumerate(data):
        where = f"interactions[{index}]"
        interaction = f.require_mapping("convai", item, where)
        stamp = f.get_str("convai", interaction, "timestamp", where)
        created_at = f.parse_timestamp(
            "convai", stamp, f"{where}.timestamp", assume=provider.timezone
        )
        items = f.get_list("convai", interaction, "interaction", where)
        extras = {k: v for k, v in interaction.items() if k not in {"timestamp", "interaction"}}
        header = {k: v for k, v in interaction.items() if k != "interaction"}
        for position, entry_item in enumerate(items):
            entry_where = f"{where}.interaction[{position}]"
            entry = f.require_mapping("convai", entry_item, entry_where)
            speaker = f.get_str("convai", entry, "speaker", entry_where)
            text = f.get_str("convai", entry, "message", entry_where)
            key = (stamp, speaker, text)
            k = seen[key]
            seen[key] += 1
            metadata = dict(extras)
            metadata.update((k2, v) for k2, v in entry.items() if k2 not in {"speaker", "message"})
            messages.append(
                Message(
                    id=derived_id(conversation_id, stamp, speaker, text, k),
                    conversation_id=conversation_id,
                    role=CONVAI_ROLES.get(speaker.lower(), Role.UNKNOWN),
                    content=text,
                    created_at=created_at,
                    provider="convai",
                    metadata=metadata,
                    raw={"interaction": header, "position": position, "entry": entry},
                )
            )
    ordered = sorted(messages, key=lambda m: m.created_at or datetime.min)  # noqa: DTZ901
    if order == "desc":
        ordered.reverse()
    return ordered


def convai(data: object, zone: timezone = UTC) -> ConvaiProvider:
    """A Convai provider whose details endpoint answers *data*."""

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=data)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ConvaiProvider(api_key=KEY, character_id="char", http_client=client, timezone=zone)


async def read_all(provider: ConvaiProvider, order: Order) -> list[Message] | str:
    try:
        return [m async for m in provider.messages("s1", order=order)]
    except ResponseFormatError as exc:
        return str(exc)


@pytest.mark.anyio
@SETTINGS
@given(
    data=sessions,
    order=st.sampled_from(["asc", "desc"]),
    zone=st.sampled_from(ZONES),
)
async def test_convai_reads_lazily_what_it_read_whole(
    data: list[object], order: Order, zone: timezone
) -> None:
    """A Convai session reads, message by message, to the old reader's sorted messages or error."""
    provider = convai(data, zone)
    expected = outcome(lambda: convai_oracle(provider, "s1", data, order))
    assert_same(await read_all(provider, order), expected)


@pytest.mark.anyio
async def test_convai_builds_messages_as_iteration_reaches_them() -> None:
    """After the first message of a long session, only its first batch of messages exists."""
    data = [
        {
            "timestamp": (datetime(2024, 9, 25) + timedelta(seconds=i)).isoformat(sep=" "),  # noqa: DTZ001
            "interaction": [
                {"speaker": "User", "message": f"q{i}"},
                {"speaker": "Character", "message": f"a{i}"},
            ],
        }
        for i in range(500)
    ]
    provider = convai(json.loads(json.dumps(data)))
    gc.collect()
    before = alive_messages()
    messages = provider.messages("s1")
    first = await anext(messages)
    gc.collect()
    built = alive_messages() - before
    await messages.aclose()  # type: ignore[attr-defined]
    assert first.content == "q0"
    # A batch is whole interactions: at most one interaction (2 messages) past the size.
    assert 0 < built <= _SINGLE_RESPONSE_BATCH + 2 < 1000


def alive_messages() -> int:
    """How many Message objects exist in the process right now."""
    return sum(type(o) is Message for o in gc.get_objects())


@pytest.mark.anyio
async def test_convai_counts_identical_entries_in_the_vendors_order() -> None:
    """Identical entries at one timestamp, out of time order in the response, keep their ids."""
    later, earlier = "2024-09-25 19:55:00", "2024-09-25 19:54:59"
    data = [
        {"timestamp": later, "interaction": [{"speaker": "User", "message": "ok"}]},
        {"timestamp": earlier, "interaction": [{"speaker": "User", "message": "ok"}]},
        {"timestamp": later, "interaction": [{"speaker": "User", "message": "ok"}]},
    ]
    got = await read_all(convai(data), "desc")
    assert not isinstance(got, str)
    assert [m.id for m in got] == [
        derived_id("s1", later, "User", "ok", 1),
        derived_id("s1", later, "User", "ok", 0),
        derived_id("s1", earlier, "User", "ok", 0),
    ]
