"""
(c) Memory: peak RSS while streaming one conversation of a million messages.

Each vendor's run is a fresh child process (so one run's heap cannot hide another's). The
pages are rendered on demand from the message positions (`_data`), through
`httpx.MockTransport`, so the server holds nothing either. Once everything is imported
and the provider is built, the child resets its RSS high-water mark to the current RSS
(Linux), streams the conversation while sampling the RSS, and reads the high-water mark
again: the growth is what streaming cost. Messages are counted, not kept, as a migration
does with what it has written.

Convai has no paging: ``details`` answers a whole session at once, so its memory grows with
the session, whoever reads it. Its row is a session of 50,000 messages read by backscroll
beside the fair floor of benchmark (a) (a hand httpx loop that decodes the same answer and
builds the same `Message`-shaped objects one at a time, keeping none): the target is to
grow no more than that loop does.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import httpx

from backscroll import ConvaiProvider, CursorProvider, TalkifaiProvider
from benchmarks import client_cost
from benchmarks._data import CHARACTER, CONVERSATION, PageServer
from benchmarks._install import CHILD_FLAG, child_flags, installed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from contextlib import AbstractAsyncContextManager

__all__ = ["CONVAI_CLIENTS", "CONVAI_MESSAGES", "Memory", "run"]

VENDORS: Final = ("talkifai", "cursor")
#: Convai's session size, and who reads it: backscroll and the fair floor of (a).
CONVAI_MESSAGES: Final = 50_000
CONVAI_CLIENTS: Final = ("backscroll", "httpx models")
_ROOT: Final = Path(__file__).resolve().parent.parent
_SAMPLES: Final = 20


@attrs.frozen
class Memory:
    """One streaming run's memory, in MiB."""

    vendor: str
    messages: int
    baseline: float  # peak RSS before the first message
    peak: float  # peak RSS after the last
    samples: tuple[tuple[int, float], ...]  # (messages so far, RSS then)
    client: str = "backscroll"  # or "httpx models", the fair floor (Convai)

    @property
    def growth(self) -> float:
        """MiB the peak RSS grew by while streaming."""
        return self.peak - self.baseline


def _status_mib(field: str) -> float | None:
    """A ``Vm*`` line of ``/proc/self/status`` in MiB (Linux), else ``None``."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def _peak_mib() -> float:
    """
    The peak RSS of this process since its start or since `_reset_peak`.

    On Linux, ``VmHWM``: ``getrusage``'s ``ru_maxrss`` would include the parent's RSS at
    the time it forked this child, and hide any growth below it.
    """
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    import resource  # noqa: PLC0415 - POSIX only

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes/KiB


def _reset_peak() -> None:
    """Make the peak RSS the current RSS (Linux 4.0+), so that it measures what follows."""
    with contextlib.suppress(OSError):  # elsewhere the peak is since the start
        Path("/proc/self/clear_refs").write_text("5")


def _current_mib() -> Callable[[], float]:
    """The RSS now: psutil if installed, else ``VmRSS``, else the peak so far."""
    try:
        psutil = importlib.import_module("psutil")  # optional: the bench group has it
    except ImportError:
        return lambda: _status_mib("VmRSS") or _peak_mib()
    process = psutil.Process()
    return lambda: float(process.memory_info().rss) / (1024 * 1024)


def _provider(vendor: str, client: httpx.AsyncClient) -> AbstractAsyncContextManager[Any]:
    token = "bench-token-0123456789"
    if vendor == "talkifai":
        return TalkifaiProvider(token=token, http_client=client)
    if vendor == "convai":
        return ConvaiProvider(api_key=token, character_id=CHARACTER, http_client=client)
    return CursorProvider(api_key=token, http_client=client)


async def _read(vendor: str, reader: str, client: httpx.AsyncClient) -> AsyncIterator[object]:
    """The messages one *reader* ("backscroll" or the fair floor, Convai) reads, one by one."""
    if reader != "backscroll":
        for message in client_cost.convai_models(await client_cost.convai_interactions(client)):
            yield message
        return
    async with _provider(vendor, client) as provider:
        if vendor == "convai":
            [_session] = [c.id async for c in provider.conversations()]
        async for message in provider.messages(CONVERSATION):
            yield message


async def _stream(vendor: str, messages: int, reader: str = "backscroll") -> Memory:
    server = PageServer(vendor, messages, cache=False)

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.content if request.method == "POST" else request.url.query
        body = server(key.decode())
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    rss = _current_mib()
    every = max(1, messages // _SAMPLES)
    samples: list[tuple[int, float]] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        stream = _read(vendor, reader, client)
        _reset_peak()
        baseline = _peak_mib()
        samples.append((0, rss()))
        count = 0
        async for _message in stream:
            count += 1
            if count % every == 0:
                samples.append((count, rss()))
    if count != messages:
        msg = f"{vendor}: streamed {count} of {messages} messages"
        raise AssertionError(msg)
    return Memory(
        vendor=vendor,
        messages=count,
        baseline=baseline,
        peak=_peak_mib(),
        samples=tuple(samples),
        client=reader,
    )


def run(
    *,
    messages: int = 1_000_000,
    vendors: Sequence[str] = VENDORS,
    convai_messages: int | None = CONVAI_MESSAGES,
) -> list[Memory]:
    """
    Stream *messages* messages of each vendor, each in a fresh child process.

    Then, unless *convai_messages* is ``None``, one Convai session of that many messages,
    read by each of `CONVAI_CLIENTS`.
    """
    runs = [(vendor, messages, "backscroll") for vendor in vendors]
    if convai_messages is not None:
        runs += [("convai", convai_messages, reader) for reader in CONVAI_CLIENTS]
    results: list[Memory] = []
    for vendor, size, reader in runs:
        command = [
            *(sys.executable, "-m", "benchmarks.memory", "child", vendor, str(size)),
            *("--client", reader),
            *child_flags(),  # a default install in the parent is one in the child too
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=_ROOT, check=False)
        if done.returncode != 0:
            msg = f"the {vendor} memory run failed:\n{done.stderr}"
            raise AssertionError(msg)
        data = json.loads(done.stdout)
        data["samples"] = tuple(tuple(s) for s in data["samples"])
        results.append(Memory(**data))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.memory [child VENDOR MESSAGES]``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "child"])
    parser.add_argument("vendor", nargs="?", default="talkifai")
    parser.add_argument("messages", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--client", default="backscroll", choices=CONVAI_CLIENTS)
    parser.add_argument(CHILD_FLAG, action="store_true", help="switch the speed extra off")
    args = parser.parse_args(argv)
    if args.mode == "child":
        with installed(speed=not args.default_install):
            result = anyio.run(_stream, args.vendor, args.messages, args.client)
        print(json.dumps(attrs.asdict(result)))
        return
    for row in run(messages=args.messages):
        print(
            f"{row.vendor:9} {row.client:12} {row.messages:,} messages: "
            f"+{row.growth:.1f} MiB peak RSS"
        )


if __name__ == "__main__":
    main()
