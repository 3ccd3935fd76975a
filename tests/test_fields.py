from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backscroll import _fields as f
from backscroll.errors import ResponseFormatError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes().map(datetime.isoformat),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=8,
)
PLUS14 = timezone(timedelta(hours=14))
MINUS12 = timezone(timedelta(hours=-12))
zones = st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), PLUS14, MINUS12])
AT = datetime(2024, 1, 15, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15T10:00:05Z",
        "2024-01-15T10:00:05+00:00",
        "2024-01-15T11:00:05+01:00",
        "2024-01-15 10:00:05",
        "2024-01-15T10:00:05",
        "2024-01-15 10:00:05.000000",
    ],
)
def test_timestamp_forms_parse_to_aware_utc(text: str) -> None:
    """Z, +00:00, other offsets, naive and space-separated timestamps give the UTC instant."""
    parsed = f.parse_timestamp("talkifai", text, "messages[0].timestamp")
    assert parsed == AT
    assert parsed.tzinfo is UTC


def test_naive_timestamp_is_read_in_the_given_zone() -> None:
    """A naive timestamp is read in the zone the provider was told (Convai's quirk)."""
    parsed = f.parse_timestamp(
        "convai", "2024-09-25 19:54:59.124733", "t", assume=ZoneInfo("Europe/Berlin")
    )
    assert parsed == datetime(2024, 9, 25, 17, 54, 59, 124733, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_explicit_offset_wins_over_the_given_zone() -> None:
    """A timestamp with its own offset ignores the assumed zone."""
    plus2 = timezone(timedelta(hours=2))
    assert f.parse_timestamp("cursor", "2024-01-15T10:00:05Z", "t", assume=plus2) == AT


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        "15-01-2024 10:00:05",
        "2024-13-01T00:00:00",
        1705312805,
        None,
        ["2024-01-15"],
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
    ],
)
def test_bad_timestamp_raises_naming_the_field(value: object) -> None:
    """A value that is not an ISO 8601 timestamp (in range) names the field it came from."""
    with pytest.raises(ResponseFormatError, match=r"talkifai .*messages\[3\]\.timestamp"):
        f.parse_timestamp("talkifai", value, "messages[3].timestamp")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (45, 45),
        ("45", 45),
        (" 45 ", 45),
        ("-3", -3),
        (45.0, 45),
        (None, None),
        ("", None),
    ],
)
def test_int_or_none_accepts_string_typed_numbers(value: object, expected: int | None) -> None:
    """Integers, integral floats and numeric strings read as int; null and "" as None."""
    assert f.get_int_or_none("talkifai", {"token_count": value}, "token_count", "m") == expected


def test_int_or_none_reads_an_absent_key_as_none() -> None:
    """An absent optional integer is None."""
    assert f.get_int_or_none("talkifai", {}, "token_count", "m") is None


@pytest.mark.parametrize("value", [True, False, 4.5, "4.5", "lots", [1], {"n": 1}, "9" * 40])
def test_int_or_none_rejects_other_shapes(value: object) -> None:
    """Booleans, fractions, words, containers and absurdly long digit strings are refused."""
    with pytest.raises(ResponseFormatError, match=r"a message\.token_count"):
        f.get_int_or_none("talkifai", {"token_count": value}, "token_count", "a message")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("False", False),
        (" TRUE ", True),
        (None, None),
    ],
)
def test_bool_accepts_bool_strings(value: object, expected: bool | None) -> None:
    """Booleans and the strings "true"/"false" (any case) read as bool; null as None."""
    assert f.get_bool("cursor", {"has_more": value}, "has_more", "pagination") is expected


@pytest.mark.parametrize("value", ["yes", 1, 0, "1", [], {}])
def test_bool_rejects_other_shapes(value: object) -> None:
    """Anything else is a ResponseFormatError naming the field."""
    with pytest.raises(ResponseFormatError, match=r"pagination\.has_more"):
        f.get_bool("cursor", {"has_more": value}, "has_more", "pagination")


def test_str_reads_strings_and_names_missing_fields() -> None:
    """get_str returns the string; a missing key names the key and what was found."""
    assert f.get_str("convai", {"speaker": "User"}, "speaker", "entry") == "User"
    with pytest.raises(ResponseFormatError, match=r"entry\.speaker is missing.*\[message\]"):
        f.get_str("convai", {"message": "hi"}, "speaker", "entry")


@pytest.mark.parametrize("value", [None, 5, ["User"], {"a": 1}, True])
def test_str_rejects_non_strings(value: object) -> None:
    """A required string of another type names the field and the type found."""
    with pytest.raises(ResponseFormatError, match=r"entry\.speaker should be a string"):
        f.get_str("convai", {"speaker": value}, "speaker", "entry")


def test_str_or_none_reads_null_and_absent_as_none() -> None:
    """An optional string may be absent or null; a number is refused."""
    assert f.get_str_or_none("cursor", {}, "sender_id", "m") is None
    assert f.get_str_or_none("cursor", {"sender_id": None}, "sender_id", "m") is None
    assert f.get_str_or_none("cursor", {"sender_id": "u1"}, "sender_id", "m") == "u1"
    with pytest.raises(ResponseFormatError, match=r"m\.sender_id"):
        f.get_str_or_none("cursor", {"sender_id": 7}, "sender_id", "m")


def test_list_and_mapping_readers_check_the_shape() -> None:
    """get_list, get_mapping and require_mapping refuse the wrong container, naming it."""
    assert f.get_list("talkifai", {"messages": []}, "messages", "the response") == []
    assert f.get_mapping("cursor", {"data": {}}, "data", "the response") == {}
    with pytest.raises(ResponseFormatError, match=r"the response\.messages should be a list"):
        f.get_list("talkifai", {"messages": {"0": {}}}, "messages", "the response")
    with pytest.raises(ResponseFormatError, match=r"the response\.data should be an object"):
        f.get_mapping("cursor", {"data": None}, "data", "the response")
    with pytest.raises(ResponseFormatError, match=r"the response should be an object.*list"):
        f.require_mapping("convai", [1, 2], "the response")


def test_error_shows_a_short_description_not_the_whole_value() -> None:
    """A huge wrong value is described briefly, so messages stay readable."""
    with pytest.raises(ResponseFormatError) as info:
        f.get_str("convai", {"speaker": ["x"] * 10_000}, "speaker", "entry")
    assert "a list of 10000 items" in str(info.value)
    assert len(str(info.value)) < 300


def test_describe_survives_integers_too_long_to_print() -> None:
    """describe() of an integer past Python's digit limit says what it is instead of failing."""
    assert f.describe(10**5000).startswith("int of ")


@given(value=json_values, zone=zones)
@example(value="0001-01-01T00:00:00", zone=PLUS14)
@example(value="9999-12-31T23:59:59", zone=MINUS12)
@example(value="0001-01-01T00:00:00", zone=UTC)
def test_parse_timestamp_raises_only_response_format_error(value: Any, zone: Any) -> None:
    """For any JSON value, parse_timestamp returns an aware UTC time or ResponseFormatError."""
    try:
        parsed = f.parse_timestamp("p", value, "where", assume=zone)
    except ResponseFormatError as exc:
        message = str(exc)
    else:
        assert parsed.tzinfo is UTC
        return
    assert "where" in message


@given(value=json_values)
@example(value="9" * 18)
@example(value=1e308)
@example(value=float("nan"))
def test_get_int_or_none_raises_only_response_format_error(value: Any) -> None:
    """For any JSON value, get_int_or_none returns an int or None, or ResponseFormatError."""
    try:
        result = f.get_int_or_none("p", {"n": value}, "n", "where")
    except ResponseFormatError as exc:
        message = str(exc)
    else:
        assert result is None or type(result) is int
        return
    assert "where.n" in message


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # noqa: DTZ001
    st.sampled_from([" ", "T"]),
    st.sampled_from(["auto", "hours", "minutes", "seconds", "milliseconds", "microseconds"]),
    st.sampled_from([UTC, ZoneInfo("UTC")]),
)
def test_a_naive_time_read_in_utc_is_the_time_it_says(
    at: datetime, sep: str, timespec: str, zone: Any
) -> None:
    """Every form of a naive time, read in UTC (either spelling), keeps its fields exactly."""
    text = at.isoformat(sep=sep, timespec=timespec)
    read = f.read_timestamp(text, assume=zone)
    assert read == datetime.fromisoformat(text).replace(tzinfo=UTC)
    assert read is not None
    assert read.tzinfo is UTC


@given(st.dates(), st.sampled_from([UTC, ZoneInfo("UTC")]))
def test_a_date_alone_read_in_utc_is_its_midnight(day: Any, zone: Any) -> None:
    """A date without a time, read in UTC, is midnight UTC (it takes no offset suffix)."""
    read = f.read_timestamp(day.isoformat(), assume=zone)
    assert read == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert read is not None
    assert read.tzinfo is UTC
