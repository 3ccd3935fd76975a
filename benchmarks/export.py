"""
(b) Export wall time: `backscroll.migrate` from the sandbox on a real socket, with latency.

The sandbox runs under uvicorn on 127.0.0.1 in a child process (its own interpreter, so
the server's CPU does not compete with the client's for one GIL), with every request
held back by the injected latency (`Faults(latency=...)`). Its data is the benchmark's
conversations (all of one size) besides the sandbox's usual bursts: several messages
often share a second.

For each vendor and concurrency, a fresh provider (its own `httpx.AsyncClient`, as a
user gets by default) migrates every conversation into a sink that only counts. The
wall time is compared with two ideals:

- *round trips*: ``latency x ceil(conversations / concurrency) x round trips``, the wall
  time of a client that sends only the requests an exact reader needs, one at a time per
  conversation, *concurrency* conversations at once. An exact reader needs one request per
  page of data, plus one to see the end where the API does not say it (Talkifai: a page
  shorter than asked, so a conversation of whole pages takes one more; the cursor API
  says ``has_more``). This is the ideal the targets are held to;
- *requests made*: ``latency x requests / concurrency``, with the requests this run
  actually sent. How close the wall time comes to it says how well concurrency is used;
  the gap between the two ideals is the requests beyond the minimum (see
  docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import attrs
import httpx

from backscroll import CursorProvider, TalkifaiProvider, migrate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anyio.streams.memory import MemoryObjectReceiveStream

    from backscroll import Message

__all__ = ["Export", "needed", "run"]

PAGE_SIZE: Final = 100
VENDORS: Final = ("talkifai", "cursor")
CONCURRENCY: Final = (1, 4, 16, 64)
# The repository root, where ``python -m benchmarks...`` finds this package.
_ROOT: Final = Path(__file__).resolve().parent.parent


@attrs.frozen
class Export:
    """One export's wall time against its ideals."""

    vendor: str
    client: str  # "backscroll" or "httpx loop"
    concurrency: int
    conversations: int
    messages: int  # read, all conversations
    requests: int
    latency: float
    wall: float
    round_trips: int  # per conversation, what an exact reader needs (see `needed`)

    @property
    def ideal(self) -> float:
        """Seconds: latency x the needed round trips on the busiest of *concurrency* readers."""
        rounds = math.ceil(self.conversations / self.concurrency)
        return self.latency * rounds * self.round_trips

    @property
    def ideal_requests(self) -> float:
        """Seconds: latency x requests made / concurrency."""
        return self.latency * self.requests / self.concurrency

    @property
    def efficiency(self) -> float:
        """The ideal (round trips) over the wall time: 1.0 is perfect."""
        return self.ideal / self.wall

    @property
    def efficiency_requests(self) -> float:
        """The ideal (requests made) over the wall time."""
        return self.ideal_requests / self.wall

    @property
    def requests_per_conversation(self) -> float:
        """Requests made per conversation, on average."""
        return self.requests / self.conversations


def needed(vendor: str, messages: int, page_size: int = PAGE_SIZE) -> int:
    """
    Round trips an exact reader needs for a conversation of *messages*: the requests floor.

    One per page of data; Talkifai says nothing of the end but a short page, so a
    conversation of whole pages (or none) takes one more. The cursor API says ``has_more``.
    """
    if vendor == "talkifai":
        return messages // page_size + 1
    return max(1, math.ceil(messages / page_size))


class CountingSink:
    """A sink that keeps nothing: the migration's own cost, with no storage behind it."""

    def __init__(self) -> None:
        self.count = 0

    async def write(self, messages: Sequence[Message]) -> None:
        self.count += len(messages)

    async def commit(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


# -- the server, in a child process ------------------------------------------------------------


def serve(conversations: int, messages: int, latency: float) -> None:
    """Serve the benchmark's sandbox until interrupted; print its URL and ids first."""
    from backscroll.sandbox import Faults, Sandbox, serve  # noqa: PLC0415 - the extra

    sizes = (messages,) * conversations
    faults = {"talkifai": Faults(latency=latency), "cursor": Faults(latency=latency)}
    sandbox = Sandbox(talkifai_sizes=sizes, cursor_sizes=sizes, convai_sizes=(), faults=faults)
    # The vendor documents' own conversations are there too: leave them out.
    ids = {
        "talkifai": [k for k, v in sandbox.data.talkifai.items() if len(v) == messages],
        "cursor": [k for k, v in sandbox.data.cursor.items() if len(v) == messages],
    }

    def ready(url: str) -> None:
        print(json.dumps({"url": url, **ids}), flush=True)

    serve(sandbox=sandbox, log_level="warning", on_ready=ready)


class _Server:
    """The child process serving the sandbox, for a ``with`` block."""

    def __init__(self, conversations: int, messages: int, latency: float) -> None:
        self.args = [str(conversations), str(messages), str(latency)]
        self.url = ""
        self.ids: dict[str, list[str]] = {}

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "benchmarks.export", "serve", *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=_ROOT)
        if self.process.stdout is None:  # pragma: no cover - piped above
            raise RuntimeError
        line = self.process.stdout.readline()
        if not line:
            self.__exit__()
            msg = "the sandbox server did not start"
            raise RuntimeError(msg)
        ready: dict[str, Any] = json.loads(line)
        self.url = ready.pop("url")
        self.ids = ready
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()  # uvicorn shuts down cleanly on SIGTERM
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- the client ----------------------------------------------------------------------------------


async def _export(
    vendor: str, url: str, ids: list[str], concurrency: int
) -> tuple[int, int, float]:
    provider: TalkifaiProvider | CursorProvider
    if vendor == "talkifai":
        from backscroll.sandbox import TALKIFAI_TOKEN  # noqa: PLC0415 - the extra

        provider = TalkifaiProvider(token=TALKIFAI_TOKEN, base_url=f"{url}/talkifai")
    else:
        from backscroll.sandbox import CURSOR_API_KEY  # noqa: PLC0415 - the extra

        provider = CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{url}/cursor/v1")
    sink = CountingSink()
    async with provider:
        started = time.perf_counter()
        report = await migrate(provider, sink, conversation_ids=ids, concurrency=concurrency)
        wall = time.perf_counter() - started
        requests = provider._http.stats.requests  # noqa: SLF001 - a benchmark may look inside
    if report.failures or report.messages_written != sink.count:
        msg = f"the {vendor} export failed: {report.failures[:3]}"
        raise AssertionError(msg)
    return sink.count, requests, wall


class _Floor:
    """
    The hand-written floor: tasks on one `httpx.AsyncClient`, building one tuple a message.

    Talkifai is paged by offset until a short page, or a page equal to the one before
    (past the end Talkifai repeats the last page); the cursor API by the vendor's own
    ``next_cursor``, which skips the rest of a burst at each page boundary: this loop
    reads fewer messages than there are, as the vendor's snippet would.
    """

    def __init__(self, client: httpx.AsyncClient, url: str, vendor: str) -> None:
        from backscroll.sandbox import CURSOR_API_KEY, TALKIFAI_TOKEN  # noqa: PLC0415

        self.client = client
        self.url = url
        token = TALKIFAI_TOKEN if vendor == "talkifai" else CURSOR_API_KEY
        self.headers = {"Authorization": f"Bearer {token}"}
        self.read = self.talkifai if vendor == "talkifai" else self.cursor
        self.messages = 0
        self.requests = 0

    async def talkifai(self, conversation_id: str) -> None:
        where = f"{self.url}/talkifai/v1/chat/sessions/{conversation_id}/messages"
        offset, previous = 0, None
        while True:
            params = {"limit": PAGE_SIZE, "offset": offset}
            response = await self.client.get(where, params=params, headers=self.headers)
            self.requests += 1
            response.raise_for_status()
            page = response.json()["messages"]
            if page == previous:
                return
            rows = [(m["role"], m["content"], datetime.fromisoformat(m["timestamp"])) for m in page]
            self.messages += len(rows)
            if len(page) < PAGE_SIZE:
                return
            previous, offset = page, offset + len(page)

    async def cursor(self, conversation_id: str) -> None:
        where = f"{self.url}/cursor/v1/chat/history"
        after = "1970-01-01T00:00:00Z"
        while True:
            params = {
                "conversation_id": conversation_id,
                "limit": str(PAGE_SIZE),
                "include_meta": "true",
                "after": after,
            }
            response = await self.client.get(where, params=params, headers=self.headers)
            self.requests += 1
            response.raise_for_status()
            body = response.json()
            rows = [
                (m["id"], m["sender_type"], m["text"], datetime.fromisoformat(m["created_at"]))
                for m in reversed(body["data"]["messages"])
            ]
            self.messages += len(rows)
            if not body["pagination"]["has_more"]:
                return
            after = body["pagination"]["next_cursor"]

    async def worker(self, ids: MemoryObjectReceiveStream[str]) -> None:
        async with ids:
            async for conversation_id in ids:
                await self.read(conversation_id)


async def _export_floor(
    vendor: str, url: str, ids: list[str], concurrency: int
) -> tuple[int, int, float]:
    send, receive = anyio.create_memory_object_stream[str](len(ids))
    for conversation_id in ids:
        send.send_nowait(conversation_id)
    send.close()
    async with httpx.AsyncClient() as client:  # what a user writes
        floor = _Floor(client, url, vendor)
        started = time.perf_counter()
        async with receive, anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(floor.worker, receive.clone())
        wall = time.perf_counter() - started
    return floor.messages, floor.requests, wall


def run(
    *,
    conversations: int = 200,
    messages: int = 500,
    latency: float = 0.02,
    concurrency: Sequence[int] = CONCURRENCY,
    vendors: Sequence[str] = VENDORS,
) -> list[Export]:
    """
    Export every conversation at each concurrency, from a sandbox served in a child process.

    Raises `AssertionError` if a conversation fails or a message is missing.
    """
    results: list[Export] = []
    with _Server(conversations, messages, latency) as server:
        for vendor in vendors:
            ids = server.ids[vendor]
            for client, export in (("backscroll", _export), ("httpx loop", _export_floor)):
                for level in concurrency:
                    read, requests, wall = anyio.run(export, vendor, server.url, ids, level)
                    if client == "backscroll" and read != conversations * messages:
                        msg = f"{vendor}: wrote {read} of {conversations * messages} messages"
                        raise AssertionError(msg)
                    results.append(
                        Export(
                            vendor=vendor,
                            client=client,
                            concurrency=level,
                            conversations=conversations,
                            messages=read,
                            requests=requests,
                            latency=latency,
                            wall=wall,
                            round_trips=needed(vendor, messages),
                        )
                    )
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.export [serve CONVERSATIONS MESSAGES LATENCY]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("numbers", nargs="*")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        conversations, messages, latency = args.numbers
        serve(int(conversations), int(messages), float(latency))
        return
    for row in run():
        print(
            f"{row.vendor:9} {row.client:10} c={row.concurrency:<3} {row.wall:7.2f}s  "
            f"{row.efficiency:6.1%} of ideal (round trips)  "
            f"{row.efficiency_requests:6.1%} (requests made)"
        )


if __name__ == "__main__":
    main()
