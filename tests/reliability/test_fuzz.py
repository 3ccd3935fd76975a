"""
Every vendor parser, fed arbitrary JSON or bytes, raises only `BackscrollError` subclasses.

Hypothesis draws what the vendor answers (any JSON value, any bytes under any content
type and status, or a documented sample with one field replaced by anything) and each
provider operation reads it through `httpx.MockTransport`. A ``KeyError``, ``TypeError``,
``JSONDecodeError``, ``RecursionError`` or any other exception that is not a
`BackscrollError` escapes the test and fails it; a `ResponseFormatError` must name the
field it stumbled on, or say that the body is not JSON.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import documented
from backscroll import ConvaiProvider, CursorProvider, TalkifaiProvider, errors
from backscroll.sandbox import Sandbox

pytestmark = pytest.mark.anyio

SETTINGS = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KEY: Final = "fz_7c1d9e3a5b"
#: More requests than any paging of one repeated answer needs: reaching it means a loop.
MAX_REQUESTS: Final = 60

Handler = Callable[[httpx.Request], httpx.Response]
Operation = Callable[[Handler, str], Awaitable[object]]
#: Zones whose offsets push year 1 or 9999 past what `datetime` can hold.
TIMEZONES: Final = ["UTC", "Etc/GMT-14", "Etc/GMT+12", "America/Los_Angeles"]
timezones = st.sampled_from(TIMEZONES)


def options(handler: Handler, timezone: str) -> dict[str, Any]:
    """A provider's options: the handler as the vendor, no retries, the time zone."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return {"http_client": client, "max_retries": 0, "timezone": timezone}


async def convai_list(handler: Handler, timezone: str) -> object:
    async with ConvaiProvider(
        api_key=KEY, character_id="char-1", **options(handler, timezone)
    ) as provider:
        return [c async for c in provider.conversations()]


async def convai_details(handler: Handler, timezone: str) -> object:
    async with ConvaiProvider(
        api_key=KEY, character_id="char-1", **options(handler, timezone)
    ) as provider:
        return [m async for m in provider.messages("s1")]


async def convai_delete(handler: Handler, timezone: str) -> object:
    async with ConvaiProvider(
        api_key=KEY, character_id="char-1", **options(handler, timezone)
    ) as provider:
        await provider.delete_conversations(["s1", "s2"])
    return None


def talkifai(order: str, page_size: int) -> Operation:
    async def read(handler: Handler, timezone: str) -> object:
        async with TalkifaiProvider(token=KEY, **options(handler, timezone)) as provider:
            return [
                m
                async for m in provider.messages(
                    "c1",
                    order=order,  # type: ignore[arg-type]
                    page_size=page_size,
                )
            ]

    return read


def cursor(order: str, page_size: int) -> Operation:
    async def read(handler: Handler, timezone: str) -> object:
        async with CursorProvider(api_key=KEY, **options(handler, timezone)) as provider:
            return [
                m
                async for m in provider.messages(
                    "con_1",
                    order=order,  # type: ignore[arg-type]
                    page_size=page_size,
                )
            ]

    return read


# Small page sizes make a handful of generated records a full page, so that the pagers'
# repeat and stall logic runs on fuzzed records too.
OPERATIONS: Final[dict[str, Operation]] = {
    "convai-list": convai_list,
    "convai-details": convai_details,
    "convai-delete": convai_delete,
    "talkifai-asc": talkifai("asc", 2),
    "talkifai-desc": talkifai("desc", 2),
    "talkifai-asc-100": talkifai("asc", 100),
    "cursor-asc": cursor("asc", 1),
    "cursor-desc": cursor("desc", 2),
    "cursor-asc-100": cursor("asc", 100),
}

#: The keys the parsers look for, so that generated objects often have them.
FIELDS: Final = [
    "ERROR",
    "sessionID",
    "date",
    "time",
    "timestamp",
    "interaction",
    "speaker",
    "message",
    "messages",
    "role",
    "content",
    "token_count",
    "count",
    "status",
    "data",
    "pagination",
    "has_more",
    "id",
    "sender_type",
    "sender_id",
    "text",
    "metadata",
    "created_at",
    "detail",
]
#: Strings that parse as something (a timestamp, a date, a speaker, a status).
MEANINGFUL: Final = [
    "2024-01-15T10:00:00+00:00",
    "2026-03-15T13:59:11Z",
    "2024-09-25 19:54:59.124733",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
    "25-09-2024",
    "31-02-2024",
    "01-01-0001",
    "31-12-9999",
    "20:52:57",
    "23:59:59",
    "User",
    "Character",
    "user",
    "ai",
    "assistant",
    "error",
    "success",
    "true",
    "false",
    "45",
    KEY,  # a vendor that echoes the credential: no message may show it
    "",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(MEANINGFUL)
)
keys = st.sampled_from(FIELDS) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=8),
    max_leaves=40,
)


def answering(body: Callable[[httpx.Request], httpx.Response]) -> tuple[Handler, list[object]]:
    """A handler that answers *body* to every request, and refuses to loop forever."""
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert len(seen) <= MAX_REQUESTS, "the provider keeps asking: a paging loop"
        return body(request)

    return handler, seen


FIELD_NAMED = re.compile(r"undocumented shape: (?P<where>.+?) (should be|is missing)")


def check(exc: errors.BackscrollError) -> None:
    """A BackscrollError says what happened; a ResponseFormatError names where."""
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} without a message"
    assert KEY not in text
    assert KEY not in repr(exc)
    if isinstance(exc, errors.ResponseFormatError):
        assert (
            FIELD_NAMED.search(text)
            or "the body is not JSON" in text
            or "does not decode" in text
            or "larger than" in text
        ), text


async def run(
    operation: Operation, handler: Handler, timezone: str = "UTC"
) -> errors.BackscrollError | None:
    """Run *operation*; return the BackscrollError it raised, let anything else escape."""
    try:
        await operation(handler, timezone)
    except errors.BackscrollError as exc:
        check(exc)
        return exc
    return None


@pytest.mark.parametrize("name", list(OPERATIONS))
@SETTINGS
@given(value=json_values, timezone=timezones)
async def test_any_json_value_raises_only_backscroll_errors(
    name: str, value: Any, timezone: str
) -> None:
    """Any JSON value with status 200 ends the read normally or with a BackscrollError."""
    content = json.dumps(value).encode()
    handler, _ = answering(lambda _: httpx.Response(200, content=content))
    await run(OPERATIONS[name], handler, timezone)


def envelope(name: str, value: Any) -> Any:
    """Put a fuzzed value where each vendor keeps its records, to get past the outer shape."""
    if name.startswith("talkifai"):
        return {"messages": value if isinstance(value, list) else [value]}
    if name.startswith("cursor"):
        return {
            "status": "success",
            "data": {"messages": value if isinstance(value, list) else [value]},
        }
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", list(OPERATIONS))
@SETTINGS
@given(value=json_values, timezone=timezones)
async def test_any_records_in_a_valid_envelope_raise_only_backscroll_errors(
    name: str, value: Any, timezone: str
) -> None:
    """Arbitrary records inside the vendor's documented envelope parse or fail cleanly."""
    content = json.dumps(envelope(name, value)).encode()
    handler, _ = answering(lambda _: httpx.Response(200, content=content))
    await run(OPERATIONS[name], handler, timezone)


STATUSES: Final = [200, 201, 204, 301, 302, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503]
CONTENT_TYPES: Final = [
    None,
    "application/json",
    "application/json; charset=utf-16",
    "text/html; charset=utf-8",
    "text/plain; charset=latin-1",
    "application/octet-stream",
]
ENCODINGS: Final = [None, "gzip", "deflate", "identity", "x-unknown"]
SAMPLES: Final = [
    documented.CONVAI_LIST,
    documented.CONVAI_DETAILS,
    documented.CONVAI_DELETE,
    documented.TALKIFAI_PAGE,
    documented.CURSOR_PAGE,
]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Bytes a broken vendor or proxy might send: noise, text, JSON, or a JSON cut short."""
    kind = draw(st.sampled_from(["binary", "text", "json", "truncated", "bom"]))
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=100)).encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if kind == "bom":
        return b"\xef\xbb\xbf" + json.dumps(draw(st.sampled_from(SAMPLES))).encode()
    sample = json.dumps(draw(st.sampled_from(SAMPLES) | json_values)).encode()
    if kind == "json":
        return sample
    return sample[: draw(st.integers(0, max(0, len(sample) - 1)))]


@pytest.mark.parametrize("name", list(OPERATIONS))
@SETTINGS
@given(
    content=bodies(),
    status=st.sampled_from(STATUSES),
    content_type=st.sampled_from(CONTENT_TYPES),
    encoding=st.sampled_from(ENCODINGS),
)
async def test_any_bytes_raise_only_backscroll_errors(
    name: str, content: bytes, status: int, content_type: str | None, encoding: str | None
) -> None:
    """Any body, status, content type and content encoding gives a BackscrollError at worst."""
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    handler, _ = answering(
        # A stream, so that the body is decoded by the provider's read, not here.
        lambda _: httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))
    )
    exc = await run(OPERATIONS[name], handler)
    if status >= 300 and status != 204:
        assert isinstance(exc, errors.APIStatusError), exc
        assert exc.status_code == status


# -- near-valid records: one field of a documented sample replaced --------------------------

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value: object keys and list items, nested."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(paths(item, (*prefix, index)))
    return found


_DELETE: Final = object()


def mutated(sample: Any, path: Path, replacement: Any) -> Any:
    """A deep copy of *sample* with the value at *path* replaced (or removed)."""
    copied = copy.deepcopy(sample)
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    if replacement is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return copied


#: Each documented sample, and the operations that read it.
NEAR_VALID: Final = [
    ("convai-list", documented.CONVAI_LIST),
    ("convai-details", documented.CONVAI_DETAILS),
    ("convai-delete", documented.CONVAI_DELETE),
    ("talkifai-asc-100", documented.TALKIFAI_PAGE),
    ("talkifai-desc", documented.TALKIFAI_PAGE),
    ("cursor-asc-100", documented.CURSOR_PAGE),
    ("cursor-desc", documented.CURSOR_PAGE),
]


#: What each vendor answers once the history is exhausted.
END: Final[dict[str, Any]] = {
    "talkifai": {"messages": [], "count": 0},
    "cursor": {"status": "success", "data": {"messages": []}, "pagination": {"has_more": False}},
}


def field_name(path: Path) -> str | None:
    """The name a message should mention for a change at *path*: its innermost key."""
    names = [step for step in path if isinstance(step, str)]
    return names[-1] if names else None


@pytest.mark.parametrize(("name", "sample"), NEAR_VALID, ids=[n for n, _ in NEAR_VALID])
@SETTINGS
@given(data=st.data())
async def test_one_field_changed_raises_only_backscroll_errors_naming_it(
    name: str, sample: Any, data: st.DataObject
) -> None:
    """A documented sample with one field replaced parses, or fails naming that field."""
    path = data.draw(st.sampled_from(paths(sample)), label="path")
    replacement = data.draw(json_values | st.just(_DELETE), label="replacement")
    timezone = data.draw(timezones, label="timezone")
    content = json.dumps(mutated(sample, path, replacement)).encode()
    handler, _ = answering(lambda _: httpx.Response(200, content=content))
    exc = await run(OPERATIONS[name], handler, timezone)
    if isinstance(exc, errors.ResponseFormatError):
        where = FIELD_NAMED.search(str(exc))
        assert where is not None, str(exc)
        field = field_name(path)
        # A new object or list may fail on a field of its own instead.
        if field is not None and not isinstance(replacement, dict | list):
            assert field in where["where"], (path, str(exc))


@pytest.mark.parametrize(("name", "sample"), NEAR_VALID, ids=[n for n, _ in NEAR_VALID])
async def test_the_documented_samples_parse(name: str, sample: Any) -> None:
    """Unchanged, every documented sample reads without error (the mutations' baseline)."""
    answers = [sample, END.get(name.partition("-")[0], sample)]

    def answer(request: httpx.Request) -> httpx.Response:
        if name.startswith("talkifai"):  # offset paging checks each page: honour offsets
            offset, limit = (int(request.url.params[k]) for k in ("offset", "limit"))
            return httpx.Response(200, json={"messages": sample["messages"][offset:][:limit]})
        return httpx.Response(200, json=answers[min(len(seen), 2) - 1])

    handler, seen = answering(answer)
    assert await run(OPERATIONS[name], handler) is None


# -- hand-picked hostile bodies ------------------------------------------------------------


def constant(content: bytes) -> Callable[[httpx.Request], httpx.Response]:
    """An answer of *content* with status 200, whatever the request."""

    def answer(request: httpx.Request) -> httpx.Response:
        del request
        return httpx.Response(200, content=content)

    return answer


def nested(depth: int, leaf: str = "0") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


def nested_in(name: str, depth: int) -> bytes:
    """A record whose fields are nested *depth* deep, inside the vendor's envelope."""
    deep = nested(depth).decode()
    if name.startswith("talkifai"):
        record = (
            '{"role": "user", "content": "x", "timestamp": "2024-01-15T10:00:00Z", '
            f'"token_count": {deep}, "extra": {deep}}}'
        )
        return f'{{"messages": [{record}, {record}]}}'.encode()
    if name.startswith("cursor"):
        record = (
            '{"id": "m1", "sender_type": "user", "text": "x", '
            f'"created_at": "2026-03-15T13:59:11Z", "metadata": {{"deep": {deep}}}}}'
        )
        return f'{{"status": "success", "data": {{"messages": [{record}]}}}}'.encode()
    return f'[{{"sessionID": "s", "timestamp": "2024-09-25 10:00:00", "x": {deep}}}]'.encode()


@pytest.mark.parametrize("name", list(OPERATIONS))
@pytest.mark.parametrize("depth", [500, 900, 990, 5000, 100_000])
async def test_deeply_nested_json_raises_only_backscroll_errors(name: str, depth: int) -> None:
    """JSON nested to (and past) the parser's stack limit never escapes as RecursionError."""
    for content in (nested(depth), nested_in(name, depth)):
        handler, _ = answering(constant(content))
        await run(OPERATIONS[name], handler)


@pytest.mark.parametrize("name", list(OPERATIONS))
@pytest.mark.parametrize(
    "content",
    [
        b"NaN",
        b'{"messages": [NaN, Infinity]}',
        b"1" * 5000,
        b'"\\ud800"',
        b'{"data": {"messages": [{"id": "\\udfff", "text": "\\ud800"}]}}',
        b"\x00" * 100,
        b"\xff\xfe{\x00}\x00",
        b"<html><body>502 Bad Gateway</body></html>",
    ],
    ids=[
        "nan",
        "nan-in-list",
        "huge-int",
        "lone-surrogate",
        "surrogate-fields",
        "nul",
        "utf16",
        "html",
    ],
)
async def test_odd_json_raises_only_backscroll_errors(name: str, content: bytes) -> None:
    """Non-standard numbers, huge integers, lone surrogates and NULs end in a BackscrollError."""
    handler, _ = answering(lambda _: httpx.Response(200, content=content))
    await run(OPERATIONS[name], handler)


def at_the_edge(name: str, year: int) -> Any:
    """A record of the vendor at the first (year 1) or last (year 9999) day datetime holds."""
    day, stamp = ("01-01-0001", "0001-01-01 00:00:00") if year == 1 else ("31-12-9999", "")
    stamp = stamp or "9999-12-31 23:59:59.999999"
    if name == "convai-list":
        return [{"sessionID": "s1", "date": day, "time": stamp[11:19]}]
    if name.startswith("convai"):
        return [{"timestamp": stamp, "interaction": [{"speaker": "User", "message": "hi"}]}]
    if name.startswith("talkifai"):
        return {"messages": [{"role": "user", "content": "hi", "timestamp": stamp}]}
    record = {"id": "m1", "sender_type": "user", "text": "hi", "created_at": stamp}
    return {"status": "success", "data": {"messages": [record]}}


@pytest.mark.parametrize("name", [n for n in OPERATIONS if n != "convai-delete"])
@pytest.mark.parametrize("year", [1, 9999])
@pytest.mark.parametrize("timezone", TIMEZONES)
async def test_naive_times_at_the_ends_of_datetime_in_any_zone(
    name: str, year: int, timezone: str
) -> None:
    """A naive time of year 1 or 9999, shifted to UTC from the provider's zone, cannot overflow."""
    content = json.dumps(at_the_edge(name, year)).encode()
    handler, _ = answering(constant(content))
    exc = await run(OPERATIONS[name], handler, timezone)
    if exc is not None:
        assert isinstance(exc, errors.ResponseFormatError | errors.PaginationError), exc


FIRST = datetime.min.replace(tzinfo=UTC)
LAST = datetime.max.replace(tzinfo=UTC)
FAR_EAST = timezone(timedelta(hours=14))
FAR_WEST = timezone(timedelta(hours=-12))
WIDE_WINDOWS = [
    pytest.param(FIRST, None, id="since-first"),
    pytest.param(None, LAST, id="until-last"),
    pytest.param(FIRST, LAST, id="first-to-last"),
    pytest.param(datetime.min.replace(tzinfo=FAR_EAST), None, id="since-first-far-east"),
    pytest.param(None, datetime.max.replace(tzinfo=FAR_WEST), id="until-last-far-west"),
]


@pytest.mark.parametrize("vendor", ["convai", "talkifai", "cursor"])
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("since", "until"), WIDE_WINDOWS)
async def test_a_window_as_wide_as_datetime_reads_everything(
    vendor: str, order: str, since: datetime | None, until: datetime | None
) -> None:
    """since=datetime.min and until=datetime.max (in any zone) mean no bound, not an overflow."""
    sandbox = Sandbox(seed=0, convai_sizes=(12,), talkifai_sizes=(12,), cursor_sizes=(12,))
    records: dict[str, list[Any]] = {
        "convai": list(sandbox.data.convai_interactions),
        "talkifai": list(sandbox.data.talkifai),
        "cursor": list(sandbox.data.cursor),
    }
    make: Any = {"convai": sandbox.convai, "talkifai": sandbox.talkifai, "cursor": sandbox.cursor}
    conversation_id = records[vendor][-1]
    async with make[vendor]() as provider:
        everything = [m.id async for m in provider.messages(conversation_id, order=order)]
        windowed = [
            m.id
            async for m in provider.messages(conversation_id, order=order, since=since, until=until)
        ]
    assert windowed == everything
    assert everything
