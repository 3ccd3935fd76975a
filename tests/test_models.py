from __future__ import annotations

import copy
import inspect
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given

from backscroll import Conversation, Message, Role
from backscroll._models import trusted_message
from strategies import conversations, messages

AT = datetime(2024, 9, 25, 19, 54, 59, 124733, tzinfo=UTC)


def message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "id": "m1",
        "conversation_id": "c1",
        "role": Role.USER,
        "content": "hello",
        "created_at": AT,
        "provider": "convai",
    }
    fields.update(overrides)
    return Message(**fields)


@pytest.mark.parametrize("cls", [Message, Conversation])
def test_models_are_frozen_slotted_attrs_classes(cls: type[Any]) -> None:
    """Both models are attrs classes with slots, so they carry no instance __dict__."""
    assert attrs.has(cls)
    assert "__slots__" in vars(cls)
    assert not hasattr(message(), "__dict__")
    assert not hasattr(Conversation(id="c", provider="p"), "__dict__")


@pytest.mark.parametrize("cls", [Message, Conversation])
def test_every_field_is_keyword_only(cls: type[Any]) -> None:
    """No field can be passed positionally."""
    assert all(a.kw_only for a in attrs.fields(cls))
    with pytest.raises(TypeError):
        cls("m1", "c1")


def test_message_fields_cannot_be_assigned() -> None:
    """Assigning to a field of a Message raises FrozenInstanceError."""
    m = message()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.content = "changed"  # type: ignore[misc]


def test_conversation_fields_cannot_be_assigned() -> None:
    """Assigning to a field of a Conversation raises FrozenInstanceError."""
    c = Conversation(id="c", provider="convai")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.id = "other"  # type: ignore[misc]


def test_metadata_and_raw_are_read_only() -> None:
    """Item assignment on metadata or raw raises TypeError."""
    m = message(metadata={"is_trigger_input": False}, raw={"speaker": "User"})
    with pytest.raises(TypeError):
        m.metadata["is_trigger_input"] = True  # type: ignore[index]
    assert m.raw is not None
    with pytest.raises(TypeError):
        m.raw["speaker"] = "Character"  # type: ignore[index]
    c = Conversation(id="c", provider="convai", metadata={"a": 1}, raw={"b": 2})
    with pytest.raises(TypeError):
        c.metadata["a"] = 2  # type: ignore[index]


def test_metadata_is_a_copy_of_what_was_passed() -> None:
    """Mutating the dict given as metadata later does not change the message."""
    given = {"a": 1}
    m = message(metadata=given, raw=given)
    given["a"] = 2
    assert m.metadata == {"a": 1}
    assert m.raw == {"a": 1}


def test_defaults_are_empty_metadata_and_no_raw() -> None:
    """Optional fields default to None, an empty read-only mapping and no raw record."""
    m = message()
    assert (m.sender_id, m.token_count, m.raw) == (None, None, None)
    assert dict(m.metadata) == {}
    assert Conversation(id="c", provider="p").created_at is None


def test_role_values() -> None:
    """Role is a StrEnum with exactly the five documented values."""
    assert {r.name: r.value for r in Role} == {
        "USER": "user",
        "ASSISTANT": "assistant",
        "SYSTEM": "system",
        "TOOL": "tool",
        "UNKNOWN": "unknown",
    }
    assert isinstance(Role.USER, str)
    assert str(Role.ASSISTANT) == "assistant"


@pytest.mark.parametrize(
    "given",
    [
        datetime(2024, 9, 25, 21, 54, 59, 124733, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2024, 9, 26, 4, 54, 59, 124733, tzinfo=timezone(timedelta(hours=9))),
        AT,
    ],
    ids=["berlin", "plus9", "utc"],
)
def test_created_at_is_stored_as_utc(given: datetime) -> None:
    """An aware created_at in any zone is stored as the same instant in UTC."""
    m = message(created_at=given)
    c = Conversation(id="c", provider="p", created_at=given)
    assert m.created_at == AT
    assert m.created_at is not None
    assert m.created_at.tzinfo is UTC
    assert c.created_at is not None
    assert c.created_at.tzinfo is UTC


def test_naive_created_at_is_read_as_utc() -> None:
    """A naive created_at is taken as UTC, as everywhere in backscroll."""
    m = message(created_at=AT.replace(tzinfo=None))
    assert m.created_at == AT
    assert m.created_at is not None
    assert m.created_at.tzinfo is UTC


def test_equal_messages_hash_equal_whatever_the_zone() -> None:
    """The same instant given in two zones makes equal messages with equal hashes."""
    a = message(created_at=AT)
    b = message(created_at=AT.astimezone(ZoneInfo("America/New_York")))
    assert a == b
    assert hash(a) == hash(b)


def test_messages_differing_in_metadata_are_unequal() -> None:
    """Equality takes metadata and raw into account."""
    assert message(metadata={"a": 1}) != message(metadata={"a": 2})
    assert message(raw={"a": 1}) != message(raw=None)


def test_evolve_keeps_the_invariants() -> None:
    """attrs.evolve runs the converters again, so the copy is read-only and in UTC too."""
    m = attrs.evolve(message(), metadata={"x": 1}, created_at=AT.astimezone(ZoneInfo("Asia/Tokyo")))
    assert m.created_at is not None
    assert m.created_at.tzinfo is UTC
    with pytest.raises(TypeError):
        m.metadata["x"] = 2  # type: ignore[index]


def pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))  # noqa: S301 - our own objects, just dumped


COPIES = [
    pytest.param(pickled, id="pickle"),
    pytest.param(copy.deepcopy, id="deepcopy"),
    pytest.param(copy.copy, id="copy"),
]


@pytest.mark.parametrize("duplicate", COPIES)
def test_a_copied_message_is_equal_and_read_only(duplicate: Any) -> None:
    """pickle, deepcopy and copy give an equal Message whose metadata and raw stay read-only."""
    original = message(metadata={"channel": "web", "tags": ["a"]}, raw={"speaker": "User"})
    copied = duplicate(original)
    assert copied == original
    assert hash(copied) == hash(original)
    assert type(copied.metadata) is MappingProxyType
    assert type(copied.raw) is MappingProxyType
    with pytest.raises(TypeError):
        copied.metadata["channel"] = "ios"  # type: ignore[index]
    with pytest.raises(TypeError):
        copied.raw["speaker"] = "Character"  # type: ignore[index]


@pytest.mark.parametrize("duplicate", COPIES)
def test_a_copied_conversation_is_equal_and_read_only(duplicate: Any) -> None:
    """pickle, deepcopy and copy give an equal Conversation whose mappings stay read-only."""
    original = Conversation(
        id="c", provider="convai", created_at=AT, metadata={"is_added_to_memory": True}
    )
    copied = duplicate(original)
    assert copied == original
    assert copied.raw is None
    assert type(copied.metadata) is MappingProxyType
    with pytest.raises(TypeError):
        copied.metadata["is_added_to_memory"] = False  # type: ignore[index]


def test_a_deep_copy_shares_no_nested_value() -> None:
    """Nested lists and dicts of a deep-copied Message are copies, not the original's."""
    original = message(metadata={"tags": ["a"]})
    copied = copy.deepcopy(original)
    assert copied.metadata["tags"] == ["a"]
    assert copied.metadata["tags"] is not original.metadata["tags"]


def test_a_loaded_model_is_still_frozen() -> None:
    """A Message loaded from a pickle refuses assignment like any other."""
    copied = pickled(message())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        copied.content = "changed"


@given(messages)
def test_every_message_survives_pickle_and_deepcopy(m: Message) -> None:
    """Any Message comes back equal, field for field, from pickle and from deepcopy."""
    for copied in (pickled(m), copy.deepcopy(m)):
        assert copied == m
        assert attrs.asdict(copied, recurse=False) == attrs.asdict(m, recurse=False)
        assert type(copied.metadata) is MappingProxyType
        assert copied.raw is None or type(copied.raw) is MappingProxyType


@given(conversations)
def test_every_conversation_survives_pickle_and_deepcopy(c: Conversation) -> None:
    """Any Conversation comes back equal from pickle and from deepcopy."""
    for copied in (pickled(c), copy.deepcopy(c)):
        assert copied == c
        assert type(copied.metadata) is MappingProxyType


def read_only_in_worker(m: Message) -> tuple[Message, bool]:
    """Run in another process: the message it got, and whether its metadata refused a write."""
    try:
        m.metadata["written"] = True  # type: ignore[index]
    except TypeError:
        return m, True
    return m, False


def test_messages_cross_process_boundaries() -> None:
    """A ProcessPoolExecutor (spawned workers) receives messages and sends them back equal."""
    sent = [
        message(id=f"m{i}", metadata={"n": i}, raw={"i": i}, created_at=AT + timedelta(seconds=i))
        for i in range(5)
    ]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        results = list(pool.map(read_only_in_worker, sent))
    assert [m for m, _ in results] == sent
    assert all(refused for _, refused in results)


# -- the trusted constructor of the page readers ----------------------------------------------


def test_the_trusted_constructor_takes_every_field_of_message() -> None:
    """trusted_message names each field of Message once, so none is left unset."""
    parameters = list(inspect.signature(trusted_message).parameters)
    assert parameters == [a.name for a in attrs.fields(Message)]


@given(messages)
def test_the_trusted_constructor_builds_what_message_builds(m: Message) -> None:
    """From a Message's own (normalised) values, trusted_message builds an equal, same-hash twin."""
    twin = trusted_message(**attrs.asdict(m, recurse=False))
    assert twin == m
    assert hash(twin) == hash(m)
    assert attrs.asdict(twin, recurse=False) == attrs.asdict(m, recurse=False)
    assert pickled(twin) == m
    assert copy.deepcopy(twin) == m
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        twin.content = "changed"  # type: ignore[misc]
