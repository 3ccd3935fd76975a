"""
(b) Export wall time: `backscroll.migrate` from the sandbox on a real socket, with latency.

The sandbox runs under uvicorn on 127.0.0.1 in a child process (its own interpreter, so
the server's CPU does not compete with the client's for one GIL), with every request
held back by the injected latency (`Faults(latency=...)`). Its data is the benchmark's
conversations (all of one size) besides the sandbox's usual bursts: several messages
often share a second.

For each vendor and concurrency, a fresh provider (its own `httpx.AsyncClient`, as a
user gets by default) migrates every conversation into a sink that only counts. The
wall time is compared with two ideals, ``latency x requests / concurrency``:

- *requests made*: the requests this run actually sent. How close the wall time comes
  to it says how well concurrency is used, since each reader sends one request at a time;
- *data pages*: ``ceil(messages / page size)`` per conversation, what a client that
  knew where each conversation ends would need. The gap between the two ideals is the
  cost of finding the end exactly once (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import attrs

from backscroll import CursorProvider, TalkifaiProvider, migrate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll import Message

__all__ = ["Export", "run"]

PAGE_SIZE: Final = 100
VENDORS: Final = ("talkifai", "cursor")
CONCURRENCY: Final = (1, 4, 16, 64)
# The repository root, where ``python -m benchmarks...`` finds this package.
_ROOT: Final = Path(__file__).resolve().parent.parent


@attrs.frozen
class Export:
    """One migration's wall time against its ideals."""

    vendor: str
    concurrency: int
    conversations: int
    messages: int  # written, all conversations
    requests: int
    latency: float
    wall: float

    @property
    def ideal(self) -> float:
        """Seconds: latency x requests made / concurrency."""
        return self.latency * self.requests / self.concurrency

    @property
    def ideal_pages(self) -> float:
        """Seconds: latency x data pages / concurrency."""
        pages = self.conversations * math.ceil(self.messages / self.conversations / PAGE_SIZE)
        return self.latency * pages / self.concurrency

    @property
    def efficiency(self) -> float:
        """The ideal (requests made) over the wall time: 1.0 is perfect."""
        return self.ideal / self.wall

    @property
    def efficiency_pages(self) -> float:
        """The ideal (data pages) over the wall time."""
        return self.ideal_pages / self.wall


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
            for level in concurrency:
                written, requests, wall = anyio.run(_export, vendor, server.url, ids, level)
                if written != conversations * messages:
                    msg = f"{vendor}: wrote {written} of {conversations * messages} messages"
                    raise AssertionError(msg)
                results.append(
                    Export(
                        vendor=vendor,
                        concurrency=level,
                        conversations=conversations,
                        messages=written,
                        requests=requests,
                        latency=latency,
                        wall=wall,
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
            f"{row.vendor:9} c={row.concurrency:<3} {row.wall:7.2f}s  "
            f"{row.efficiency:6.1%} of ideal (requests)  {row.efficiency_pages:6.1%} (pages)"
        )


if __name__ == "__main__":
    main()
