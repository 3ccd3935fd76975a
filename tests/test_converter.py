from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given

from backscroll import Conversation, ConversionError, Message, Role, from_dict, to_dict
from strategies import aware_datetimes, conversations, messages

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AT = datetime(2024, 9, 25, 19, 54, 59, 124733, tzinfo=UTC)


def through_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data))


def valid_message_dict(**overrides: Any) -> dict[str, Any]:
    data = to_dict(
        Message(
            id="m1",
            conversation_id="c1",
            role=Role.ASSISTANT,
            content="hi",
            created_at=AT,
            provider="talkifai",
            token_count=45,
            metadata={"k": [1, {"x": None}]},
            raw={"role": "assistant"},
        )
    )
    data.update(overrides)
    return data


@given(messages)
def test_message_round_trips_through_json(m: Message) -> None:
    """from_dict(Message, json(to_dict(m))) == m for any message."""
    assert from_dict(Message, through_json(to_dict(m))) == m


@given(conversations)
def test_conversation_round_trips_through_json(c: Conversation) -> None:
    """from_dict(Conversation, json(to_dict(c))) == c for any conversation."""
    assert from_dict(Conversation, through_json(to_dict(c))) == c


@given(aware_datetimes)
def test_created_at_comes_back_as_the_same_utc_instant(when: datetime) -> None:
    """A created_at in any zone comes back from JSON as the same instant, in UTC."""
    m = Message(
        id="m", conversation_id="c", role=Role.USER, content="", created_at=when, provider="p"
    )
    back = from_dict(Message, through_json(to_dict(m)))
    assert back.created_at is not None
    assert back.created_at.utcoffset() == timedelta(0)
    # Subtraction across zones compares instants (fold and gap times included).
    assert back.created_at - EPOCH == when - EPOCH


def test_to_dict_is_plain_json() -> None:
    """to_dict gives str roles, ISO 8601 times with offset and plain dicts."""
    data = valid_message_dict()
    assert data == {
        "id": "m1",
        "conversation_id": "c1",
        "role": "assistant",
        "content": "hi",
        "created_at": "2024-09-25T19:54:59.124733+00:00",
        "provider": "talkifai",
        "sender_id": None,
        "token_count": 45,
        "metadata": {"k": [1, {"x": None}]},
        "raw": {"role": "assistant"},
    }
    assert type(data["metadata"]) is dict
    assert type(data["raw"]) is dict


def test_from_dict_reads_a_naive_time_as_utc() -> None:
    """A created_at without offset is read as UTC."""
    m = from_dict(Message, valid_message_dict(created_at="2024-09-25T19:54:59.124733"))
    assert m.created_at == AT


def test_from_dict_fills_optional_fields() -> None:
    """Only the required fields are needed; the rest take their defaults."""
    data = {k: valid_message_dict()[k] for k in ("id", "conversation_id", "role", "content")}
    data |= {"created_at": None, "provider": "p"}
    m = from_dict(Message, data)
    assert (m.sender_id, m.token_count, m.raw, dict(m.metadata)) == (None, None, None, {})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "wizard"),
        ("role", 1),
        ("created_at", "yesterday"),
        ("created_at", 1727294099),
        ("content", None),
        ("content", 5),
        ("id", ["m1"]),
        ("token_count", "45"),
        ("token_count", 4.5),
        ("token_count", True),
        ("sender_id", 7),
        ("metadata", [1, 2]),
        ("metadata", "x"),
        ("raw", "x"),
    ],
)
def test_bad_field_raises_conversion_error_naming_it(field: str, value: object) -> None:
    """A field of the wrong type or value raises ConversionError naming that field."""
    with pytest.raises(ConversionError, match=rf"\b{field}\b"):
        from_dict(Message, valid_message_dict(**{field: value}))


def test_missing_field_raises_conversion_error_naming_it() -> None:
    """A missing required field raises ConversionError naming it."""
    data = valid_message_dict()
    del data["conversation_id"]
    with pytest.raises(ConversionError, match="conversation_id"):
        from_dict(Message, data)


def test_unknown_field_raises_conversion_error_naming_it() -> None:
    """An unknown key is refused, not silently dropped (the export is lossless)."""
    with pytest.raises(ConversionError, match="colour"):
        from_dict(Message, valid_message_dict(colour="red"))


@pytest.mark.parametrize("data", [None, [], "m1", 5])
def test_non_dict_raises_conversion_error(data: Any) -> None:
    """Something that is not a dict at all raises ConversionError, not AttributeError."""
    with pytest.raises(ConversionError, match="expected a dict"):
        from_dict(Message, data)


def test_conversion_error_is_a_value_error() -> None:
    """ConversionError can be caught as ValueError."""
    with pytest.raises(ValueError, match="role"):
        from_dict(Conversation, {"id": "c", "provider": "p", "role": "user"})


@pytest.mark.parametrize("fold", [0, 1])
def test_ambiguous_local_time_round_trips(fold: int) -> None:
    """Both readings of a repeated wall-clock hour (DST end) come back equal and distinct."""
    ambiguous = datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=fold)
    m = Message(
        id="m", conversation_id="c", role=Role.USER, content="", created_at=ambiguous, provider="p"
    )
    back = from_dict(Message, through_json(to_dict(m)))
    assert back == m
    assert back.created_at == datetime(2024, 11, 3, 5 + fold, 30, tzinfo=UTC)
