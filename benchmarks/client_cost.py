"""
(a) Client cost per message: backscroll beside what a user would write or pick instead.

The same pre-rendered pages are served to every client from memory (`_data.PageServer`),
through `httpx.MockTransport` for the httpx clients and a `requests` adapter for the
others, so the server costs a dictionary lookup and no socket is opened. What is left is
the client: building requests, decoding JSON, reading the records.

The clients, for the Talkifai (offset), cursor (timestamp cursor) and Convai (one
``details`` answer per session, after a ``list``) APIs:

- ``backscroll``: the provider's ``messages()``, one `backscroll.Message` each;
- ``httpx loop``: the tuple floor, a hand-written async loop on one `httpx.AsyncClient`
  that builds one tuple per message (role, text, parsed time; the cursor API's id too);
- ``httpx models``: the fair floor, the same loop building what a user who wants model
  objects would write: a frozen attrs class with `backscroll.Message`'s ten fields (no
  converters, no validation, plain dicts, no read-only views), with the same ids (the
  cursor API's own; for Talkifai and Convai the hash `backscroll` derives, written out by
  hand; Convai's interactions sorted by time first, as backscroll does);
- ``requests loop``: the vendors' own snippets (``requests`` in a loop), with one
  `requests.Session` and the same tuples;
- ``dlt RESTClient``: dlt's paginator (`OffsetPaginator`, `JSONResponseCursorPaginator`)
  over a `requests.Session`, the same tuples from its pages (Convai: one POST,
  `SinglePagePaginator`).

Each client reads the whole conversation once to fill the cache, then the clients take
turns (round robin) for several rounds; a client's cost is its fastest round, and the
ratios compare fastest rounds of the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import math
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import anyio
import attrs
import httpx

from backscroll import ConvaiProvider, CursorProvider, Message, Role, TalkifaiProvider
from benchmarks._data import CHARACTER, CONVERSATION, CURSOR_LIMIT, TALKIFAI_LIMIT, PageServer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "CLIENTS",
    "MODEL_FLOOR",
    "TUPLE_FLOOR",
    "ClientCost",
    "HandMessage",
    "backscroll_messages",
    "convai_interactions",
    "convai_models",
    "hand_messages",
    "make_provider",
    "mock_client",
    "run",
    "same_messages",
]

#: The clients, in the order of the table; the first is the one measured against the second.
CLIENTS: Final = ("backscroll", "httpx loop", "httpx models", "requests loop", "dlt RESTClient")
#: The two floors: tuples, and model objects with the same fields and ids as a `Message`.
TUPLE_FLOOR: Final = "httpx loop"
MODEL_FLOOR: Final = "httpx models"
VENDORS: Final = ("talkifai", "cursor", "convai")

_TOKEN: Final = "bench-token-0123456789"
_TALKIFAI_ROOT: Final = "https://api.talkifai.dev"
_TALKIFAI_PATH: Final = f"/v1/chat/sessions/{CONVERSATION}/messages"
_CURSOR_ROOT: Final = "https://api.example-ai.com/v1"
_CURSOR_PATH: Final = "/chat/history"
_FIRST_CURSOR: Final = "1970-01-01T00:00:00Z"
_CURSOR_PARAMS: Final = {
    "conversation_id": CONVERSATION,
    "limit": str(CURSOR_LIMIT),
    "include_meta": "true",
}
_CONVAI_ROOT: Final = "https://api.convai.com"
_CONVAI_PATH: Final = "/character/chatHistory/"
_JSON: Final = {"content-type": "application/json"}


@attrs.frozen
class ClientCost:
    """One client's cost on one vendor's API."""

    vendor: str
    client: str
    messages: int
    requests: int
    best: float  # wall seconds for the whole conversation, fastest round
    median: float  # wall seconds, median round
    cpu: float  # CPU seconds of the process, least of the rounds

    @property
    def per_message_us(self) -> float:
        """Wall microseconds per message, fastest round."""
        return self.best / self.messages * 1e6

    @property
    def cpu_per_message_us(self) -> float:
        """CPU microseconds per message, least of the rounds."""
        return self.cpu / self.messages * 1e6


# -- the clients ---------------------------------------------------------------------------------


def mock_client(server: PageServer) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` whose every request *server* answers, offline."""

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.content if request.method == "POST" else request.url.query
        return httpx.Response(200, content=server(key.decode()), headers=_JSON)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


Provider = TalkifaiProvider | CursorProvider | ConvaiProvider


def make_provider(vendor: str, client: httpx.AsyncClient) -> Provider:
    """The *vendor*'s provider on *client*, as the benchmark builds it."""
    if vendor == "talkifai":
        return TalkifaiProvider(token=_TOKEN, base_url=_TALKIFAI_ROOT, http_client=client)
    if vendor == "convai":
        return ConvaiProvider(
            api_key=_TOKEN, character_id=CHARACTER, base_url=_CONVAI_ROOT, http_client=client
        )
    return CursorProvider(api_key=_TOKEN, base_url=_CURSOR_ROOT, http_client=client)


async def _backscroll(vendor: str, server: PageServer) -> int:
    async with mock_client(server) as client:
        count = 0
        provider = make_provider(vendor, client)
        async with provider:
            if isinstance(provider, ConvaiProvider):  # find the session, as a user would
                [_session] = [c.id async for c in provider.conversations()]
            async for _message in provider.messages(CONVERSATION):
                count += 1
        return count


# The loops build one tuple per message, as a user's code would: the fields it keeps and
# the parsed time. Each is written the way the vendor documents' snippets page.


async def _httpx_talkifai(server: PageServer) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, offset = 0, 0
    async with mock_client(server) as client:
        while True:
            params = {"limit": TALKIFAI_LIMIT, "offset": offset}
            response = await client.get(
                _TALKIFAI_ROOT + _TALKIFAI_PATH, params=params, headers=headers
            )
            response.raise_for_status()
            page = response.json()["messages"]
            for m in page:
                _row = (m["role"], m["content"], datetime.fromisoformat(m["timestamp"]))
                count += 1
            if len(page) < TALKIFAI_LIMIT:
                return count
            offset += len(page)


async def _httpx_cursor(server: PageServer) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, after = 0, _FIRST_CURSOR
    async with mock_client(server) as client:
        while True:
            params = {**_CURSOR_PARAMS, "after": after}
            response = await client.get(_CURSOR_ROOT + _CURSOR_PATH, params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            for m in reversed(body["data"]["messages"]):
                _row = (
                    m["id"],
                    m["sender_type"],
                    m["text"],
                    datetime.fromisoformat(m["created_at"]),
                )
                count += 1
            if not body["pagination"]["has_more"]:
                return count
            after = body["pagination"]["next_cursor"]


async def convai_interactions(client: httpx.AsyncClient) -> list[Any]:
    """The session's interactions: ``list`` to find it, then ``details``, as documented."""
    headers = {"CONVAI-API-KEY": _TOKEN}
    listed = await client.post(
        _CONVAI_ROOT + _CONVAI_PATH + "list",
        json={"charID": CHARACTER, "limit": "-1"},
        headers=headers,
    )
    listed.raise_for_status()
    [session] = [s["sessionID"] for s in listed.json()]
    response = await client.post(
        _CONVAI_ROOT + _CONVAI_PATH + "details",
        json={"charID": CHARACTER, "sessionID": session},
        headers=headers,
    )
    response.raise_for_status()
    interactions: list[Any] = response.json()
    return interactions


async def _httpx_convai(server: PageServer) -> int:
    count = 0
    async with mock_client(server) as client:
        for i in await convai_interactions(client):
            at = datetime.fromisoformat(i["timestamp"])
            for entry in i["interaction"]:
                _row = (entry["speaker"], entry["message"], at)
                count += 1
    return count


# The fair floor: the same loops, building what a user who wants model objects writes.


@attrs.frozen(kw_only=True)
class HandMessage:
    """`backscroll.Message`'s ten fields, as a user would declare them: no converters."""

    id: str
    conversation_id: str
    role: Role
    content: str
    created_at: datetime | None
    provider: str
    sender_id: str | None = None
    token_count: int | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    raw: Mapping[str, Any] | None = attrs.field(default=None, hash=False, repr=False)


_TALKIFAI_ROLES: Final = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
_CURSOR_ROLES: Final = {"user": Role.USER, "ai": Role.ASSISTANT, "system": Role.SYSTEM}
_CONVAI_ROLES: Final = {"User": Role.USER, "Character": Role.ASSISTANT}


def _hand_id(conversation_id: str, stamp: str, role: str, content: str, k: int) -> str:
    # backscroll's derived id, written out as a user would (see src/backscroll/_ids.py).
    data = f"{conversation_id}\x1f{stamp}\x1f{role}\x1f{content}\x1f{k}\x1f"
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


async def _models_talkifai(server: PageServer, out: list[HandMessage] | None = None) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, offset = 0, 0
    stamp_now: str | None = None
    seen: dict[tuple[str, str], int] = {}  # identical messages at the current timestamp
    async with mock_client(server) as client:
        while True:
            params = {"limit": TALKIFAI_LIMIT, "offset": offset}
            response = await client.get(
                _TALKIFAI_ROOT + _TALKIFAI_PATH, params=params, headers=headers
            )
            response.raise_for_status()
            page = response.json()["messages"]
            for m in page:
                role, content, stamp = m["role"], m["content"], m["timestamp"]
                if stamp != stamp_now:
                    stamp_now, seen = stamp, {}
                k = seen.get((role, content), 0)
                seen[role, content] = k + 1
                message = HandMessage(
                    id=_hand_id(CONVERSATION, stamp, role, content, k),
                    conversation_id=CONVERSATION,
                    role=_TALKIFAI_ROLES.get(role, Role.UNKNOWN),
                    content=content,
                    created_at=datetime.fromisoformat(stamp),
                    provider="talkifai",
                    token_count=m.get("token_count"),
                    raw=m,
                )
                if out is not None:
                    out.append(message)
                count += 1
            if len(page) < TALKIFAI_LIMIT:
                return count
            offset += len(page)


async def _models_cursor(server: PageServer, out: list[HandMessage] | None = None) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, after = 0, _FIRST_CURSOR
    async with mock_client(server) as client:
        while True:
            params = {**_CURSOR_PARAMS, "after": after}
            response = await client.get(_CURSOR_ROOT + _CURSOR_PATH, params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            for m in reversed(body["data"]["messages"]):
                message = HandMessage(
                    id=m["id"],
                    conversation_id=CONVERSATION,
                    role=_CURSOR_ROLES.get(m["sender_type"], Role.UNKNOWN),
                    content=m["text"],
                    created_at=datetime.fromisoformat(m["created_at"]),
                    provider="cursor",
                    sender_id=m.get("sender_id"),
                    metadata=m.get("metadata") or {},
                    raw=m,
                )
                if out is not None:
                    out.append(message)
                count += 1
            if not body["pagination"]["has_more"]:
                return count
            after = body["pagination"]["next_cursor"]


def convai_models(interactions: list[Any]) -> Iterator[HandMessage]:
    """
    The fair floor's Convai messages, built one at a time from the decoded ``details``.

    The interactions are sorted by time (stable, so a session's order within a moment
    stays) before the ids are counted, which gives backscroll's ids and order; nothing but
    the decoded response is held.
    """
    interactions.sort(key=lambda i: i["timestamp"])
    stamp_now: str | None = None
    seen: dict[tuple[str, str], int] = {}  # identical entries at the current timestamp
    for i in interactions:
        stamp = i["timestamp"]
        if stamp != stamp_now:
            stamp_now, seen = stamp, {}
        at = datetime.fromisoformat(stamp).replace(tzinfo=UTC)  # naive: read as UTC
        header = {k: v for k, v in i.items() if k != "interaction"}
        extras = {k: v for k, v in header.items() if k != "timestamp"}
        for position, entry in enumerate(i["interaction"]):
            speaker, text = entry["speaker"], entry["message"]
            k = seen.get((speaker, text), 0)
            seen[speaker, text] = k + 1
            yield HandMessage(
                id=_hand_id(CONVERSATION, stamp, speaker, text, k),
                conversation_id=CONVERSATION,
                role=_CONVAI_ROLES.get(speaker, Role.UNKNOWN),
                content=text,
                created_at=at,
                provider="convai",
                metadata=extras,
                raw={"interaction": header, "position": position, "entry": entry},
            )


async def _models_convai(server: PageServer, out: list[HandMessage] | None = None) -> int:
    count = 0
    async with mock_client(server) as client:
        for message in convai_models(await convai_interactions(client)):
            if out is not None:
                out.append(message)
            count += 1
    return count


_MODELS: Final = {"talkifai": _models_talkifai, "cursor": _models_cursor, "convai": _models_convai}


async def hand_messages(vendor: str, messages: int) -> list[HandMessage]:
    """Every message the fair floor builds for *vendor*, kept (to check it against backscroll)."""
    out: list[HandMessage] = []
    await _MODELS[vendor](PageServer(vendor, messages), out)
    return out


async def backscroll_messages(vendor: str, messages: int) -> list[Message]:
    """Every message backscroll yields for *vendor*, kept (to check the fair floor with)."""
    async with mock_client(PageServer(vendor, messages)) as client:
        provider = make_provider(vendor, client)
        async with provider:
            return [m async for m in provider.messages(CONVERSATION)]


def same_messages(vendor: str, messages: int) -> None:
    """
    Check that the fair floor builds what backscroll yields: every field of every message.

    Raises:
        AssertionError: a message or a field differs (the first one is named).
    """
    hand = anyio.run(hand_messages, vendor, messages)
    real = anyio.run(backscroll_messages, vendor, messages)
    fields = [field.name for field in attrs.fields(Message)]
    if fields != [field.name for field in attrs.fields(HandMessage)] or len(hand) != len(real):
        msg = f"{vendor}: the fair floor built {len(hand)} messages, backscroll {len(real)}"
        raise AssertionError(msg)
    for index, (built, message) in enumerate(zip(hand, real, strict=True)):
        for name in fields:
            if getattr(built, name) != getattr(message, name):
                msg = (
                    f"{vendor}: message {index}'s {name} differs: the fair floor built "
                    f"{getattr(built, name)!r}, backscroll {getattr(message, name)!r}"
                )
                raise AssertionError(msg)


def _requests_session(server: PageServer) -> Any:
    """A `requests.Session` whose every request is answered by *server*, offline."""
    requests = importlib.import_module("requests")
    structures = importlib.import_module("requests.structures")

    class Adapter:  # what Session.mount needs of a requests.adapters.BaseAdapter
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            del args, kwargs
            response = requests.Response()
            response.status_code = 200
            response.reason = "OK"
            body = request.body
            key = body.decode() if isinstance(body, bytes) else body or urlsplit(request.url).query
            response._content = server(key)  # noqa: SLF001
            response.headers = structures.CaseInsensitiveDict(_JSON)
            response.encoding = "utf-8"
            response.url = request.url
            response.request = request
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Adapter())
    return session


def _requests_talkifai(server: PageServer) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, offset = 0, 0
    with _requests_session(server) as session:
        while True:
            params = {"limit": TALKIFAI_LIMIT, "offset": offset}
            response = session.get(_TALKIFAI_ROOT + _TALKIFAI_PATH, params=params, headers=headers)
            response.raise_for_status()
            page = response.json()["messages"]
            for m in page:
                _row = (m["role"], m["content"], datetime.fromisoformat(m["timestamp"]))
                count += 1
            if len(page) < TALKIFAI_LIMIT:
                return count
            offset += len(page)


def _requests_cursor(server: PageServer) -> int:
    headers = {"Authorization": f"Bearer {_TOKEN}"}
    count, after = 0, _FIRST_CURSOR
    with _requests_session(server) as session:
        while True:
            params = {**_CURSOR_PARAMS, "after": after}
            response = session.get(_CURSOR_ROOT + _CURSOR_PATH, params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            for m in reversed(body["data"]["messages"]):
                _row = (
                    m["id"],
                    m["sender_type"],
                    m["text"],
                    datetime.fromisoformat(m["created_at"]),
                )
                count += 1
            if not body["pagination"]["has_more"]:
                return count
            after = body["pagination"]["next_cursor"]


def _requests_convai(server: PageServer) -> int:
    headers = {"CONVAI-API-KEY": _TOKEN}
    count = 0
    with _requests_session(server) as session:
        listed = session.post(
            _CONVAI_ROOT + _CONVAI_PATH + "list",
            json={"charID": CHARACTER, "limit": "-1"},
            headers=headers,
        )
        listed.raise_for_status()
        [session_id] = [s["sessionID"] for s in listed.json()]
        response = session.post(
            _CONVAI_ROOT + _CONVAI_PATH + "details",
            json={"charID": CHARACTER, "sessionID": session_id},
            headers=headers,
        )
        response.raise_for_status()
        for i in response.json():
            at = datetime.fromisoformat(i["timestamp"])
            for entry in i["interaction"]:
                _row = (entry["speaker"], entry["message"], at)
                count += 1
    return count


def _dlt_talkifai(server: PageServer) -> int:
    rest_client = importlib.import_module("dlt.sources.helpers.rest_client")
    paginators = importlib.import_module("dlt.sources.helpers.rest_client.paginators")
    # dlt stops on an empty page, a total or a maximum; Talkifai sends none of these
    # (past the end it repeats the last page), so the caller must know the size.
    client = rest_client.RESTClient(
        base_url=_TALKIFAI_ROOT,
        headers={"Authorization": f"Bearer {_TOKEN}"},
        session=_requests_session(server),
        paginator=paginators.OffsetPaginator(
            limit=TALKIFAI_LIMIT, total_path=None, maximum_offset=server.total
        ),
        data_selector="messages",
    )
    count = 0
    for page in client.paginate(_TALKIFAI_PATH):
        for m in page:
            _row = (m["role"], m["content"], datetime.fromisoformat(m["timestamp"]))
            count += 1
    return count


def _dlt_cursor(server: PageServer) -> int:
    rest_client = importlib.import_module("dlt.sources.helpers.rest_client")
    paginators = importlib.import_module("dlt.sources.helpers.rest_client.paginators")
    client = rest_client.RESTClient(
        base_url=_CURSOR_ROOT,
        headers={"Authorization": f"Bearer {_TOKEN}"},
        session=_requests_session(server),
        paginator=paginators.JSONResponseCursorPaginator(
            cursor_path="pagination.next_cursor",
            cursor_param="after",
            has_more_path="pagination.has_more",
        ),
        data_selector="data.messages",
    )
    count = 0
    params = {**_CURSOR_PARAMS, "after": _FIRST_CURSOR}
    for page in client.paginate(_CURSOR_PATH, params=params):
        for m in reversed(page):
            _row = (m["id"], m["sender_type"], m["text"], datetime.fromisoformat(m["created_at"]))
            count += 1
    return count


def _dlt_convai(server: PageServer) -> int:
    rest_client = importlib.import_module("dlt.sources.helpers.rest_client")
    paginators = importlib.import_module("dlt.sources.helpers.rest_client.paginators")
    client = rest_client.RESTClient(
        base_url=_CONVAI_ROOT + _CONVAI_PATH,
        headers={"CONVAI-API-KEY": _TOKEN},
        session=_requests_session(server),
        paginator=paginators.SinglePagePaginator(),
    )
    listed = client.post("list", json={"charID": CHARACTER, "limit": "-1"})
    [session_id] = [s["sessionID"] for s in listed.json()]
    count = 0
    body = {"charID": CHARACTER, "sessionID": session_id}
    for page in client.paginate("details", method="POST", json=body):
        for i in page:
            at = datetime.fromisoformat(i["timestamp"])
            for entry in i["interaction"]:
                _row = (entry["speaker"], entry["message"], at)
                count += 1
    return count


_LOOPS: Final[dict[str, Mapping[str, Callable[..., Any]]]] = {
    "httpx loop": {"talkifai": _httpx_talkifai, "cursor": _httpx_cursor, "convai": _httpx_convai},
    "httpx models": _MODELS,
    "requests loop": {
        "talkifai": _requests_talkifai,
        "cursor": _requests_cursor,
        "convai": _requests_convai,
    },
    "dlt RESTClient": {"talkifai": _dlt_talkifai, "cursor": _dlt_cursor, "convai": _dlt_convai},
}


def _runner(client: str, vendor: str) -> Callable[[PageServer], int]:
    if client == "backscroll":
        return lambda server: anyio.run(_backscroll, vendor, server)
    loop = _LOOPS[client][vendor]
    if client in {"httpx loop", "httpx models"}:
        return lambda server: anyio.run(loop, server)
    return cast("Callable[[PageServer], int]", loop)


def available(client: str) -> bool:
    """Whether the packages *client* needs are installed (``requests``, ``dlt``)."""
    needs = {"requests loop": "requests", "dlt RESTClient": "dlt"}.get(client)
    if needs is None:
        return True
    try:
        importlib.import_module(needs)
    except ImportError:
        return False
    return True


# -- the measurement -----------------------------------------------------------------------------


def run(
    *,
    messages: int = 10_050,
    rounds: int = 7,
    vendors: tuple[str, ...] = VENDORS,
    clients: tuple[str, ...] = CLIENTS,
) -> list[ClientCost]:
    """
    Measure each client on each vendor's API over a conversation of *messages* messages.

    Clients whose packages are missing are left out. Raises `AssertionError` if a client
    reads a different number of messages than the conversation holds, or the fair floor
    builds anything but what backscroll yields (`same_messages`).
    """
    if messages % TALKIFAI_LIMIT == 0:
        # The last page would be full, and past the end Talkifai repeats it: the loops a
        # user writes (and dlt without a total) would never stop.
        msg = f"messages must not be a multiple of the page size ({TALKIFAI_LIMIT})"
        raise ValueError(msg)
    results: list[ClientCost] = []
    for vendor in vendors:
        present = [c for c in clients if available(c)]
        if MODEL_FLOOR in present:
            same_messages(vendor, messages)
        servers = {c: PageServer(vendor, messages) for c in present}
        runners = {c: _runner(c, vendor) for c in present}
        requests: dict[str, int] = {}
        for client in present:  # the warm-up round renders and caches every page
            read = runners[client](servers[client])
            if read != messages:
                msg = f"{client} read {read} of {messages} {vendor} messages"
                raise AssertionError(msg)
            requests[client] = servers[client].requests
        timings: dict[str, list[float]] = {c: [] for c in present}
        cpu: dict[str, float] = dict.fromkeys(present, math.inf)
        for _ in range(rounds):
            for client in present:
                started, cpu_started = time.perf_counter(), time.process_time()
                runners[client](servers[client])
                timings[client].append(time.perf_counter() - started)
                cpu[client] = min(cpu[client], time.process_time() - cpu_started)
        for client in present:
            times = sorted(timings[client])
            results.append(
                ClientCost(
                    vendor=vendor,
                    client=client,
                    messages=messages,
                    requests=requests[client],
                    best=times[0],
                    median=times[len(times) // 2],
                    cpu=cpu[client],
                )
            )
    return results


def ratio(
    results: list[ClientCost], vendor: str, client: str, baseline: str, *, cpu: bool = False
) -> float | None:
    """*client*'s best time over *baseline*'s on *vendor*, or ``None`` if one is missing."""
    times = {r.client: r.cpu if cpu else r.best for r in results if r.vendor == vendor}
    if client not in times or baseline not in times:
        return None
    return times[client] / times[baseline]


def main(argv: Sequence[str] | None = None) -> None:
    """
    ``python -m benchmarks.client_cost [--client C] [--vendor V] [--messages N]``.

    One client on one API is what a profiler wants to see::

        python -m pyinstrument -m benchmarks.client_cost --client backscroll --vendor talkifai
    """
    parser = argparse.ArgumentParser(description="Client cost per message.")
    parser.add_argument("--client", choices=CLIENTS, action="append")
    parser.add_argument("--vendor", choices=VENDORS, action="append")
    parser.add_argument("--messages", type=int, default=10_050)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rows = run(
        messages=args.messages,
        rounds=args.rounds,
        vendors=tuple(args.vendor or VENDORS),
        clients=tuple(args.client or CLIENTS),
    )
    for row in rows:
        print(
            f"{row.vendor:9} {row.client:15} {row.per_message_us:6.2f} us/message "
            f"({row.cpu_per_message_us:.2f} CPU)"
        )


if __name__ == "__main__":
    main()
