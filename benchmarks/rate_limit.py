"""
(e) Pacing under a quota: how close a migration gets to a vendor's quota, and how many 429s.

A `backscroll.migrate` at concurrency 16 copies Talkifai conversations out of the sandbox
(in-process, a few milliseconds of latency per request) whose quota fault serves at most
``QUOTA`` requests in any one-second window and answers the rest with 429 and
``Retry-After``. Each run sets another ``rate_limit=``: none (the retries alone), just
under the quota, at the quota, and above it. Reported: the requests the vendor served per
second as a share of the quota, and the 429s it had to send. Real time, no fake clock:
``python -m benchmarks.rate_limit`` (about half a minute).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Final

import anyio
import attrs

from backscroll import migrate
from backscroll.sandbox import Faults, Sandbox
from backscroll.sinks import JsonlSink

__all__ = ["QUOTA", "Paced", "main", "run"]

QUOTA: Final = 40.0
CONCURRENCY: Final = 16
#: rate_limit= as a share of the quota; None: no pacing, the retries alone.
SHARES: Final = (None, 0.9, 1.0, 1.5)


@attrs.frozen
class Paced:
    """One migration under the quota."""

    rate_limit: float | None
    served: int
    refused: int
    seconds: float
    messages: int

    @property
    def of_quota(self) -> float:
        """Requests served per second, as a share of the quota."""
        return self.served / self.seconds / QUOTA


async def _migrate(rate_limit: float | None, conversations: int) -> Paced:
    sandbox = Sandbox(seed=0, talkifai_sizes=[150] * conversations)
    sandbox.set_faults("talkifai", Faults(quota=QUOTA, latency=0.005))
    ids = list(sandbox.data.talkifai)
    with tempfile.TemporaryDirectory() as tmp:
        async with sandbox.talkifai(rate_limit=rate_limit, max_retries=20) as source:
            started = time.perf_counter()
            report = await migrate(
                source,
                JsonlSink(Path(tmp) / "out.jsonl"),
                conversation_ids=ids,
                concurrency=CONCURRENCY,
            )
            seconds = time.perf_counter() - started
    refused = sum(r.fault == "quota" for r in sandbox.requests)
    return Paced(
        rate_limit=rate_limit,
        served=len(sandbox.requests) - refused,
        refused=refused,
        seconds=seconds,
        messages=report.messages_written if report.complete else -1,
    )


def run(*, conversations: int = 60) -> list[Paced]:
    """Run one migration per rate limit in `SHARES`."""
    return [
        anyio.run(_migrate, None if share is None else share * QUOTA, conversations)
        for share in SHARES
    ]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=60)
    args = parser.parse_args()
    print(f"quota {QUOTA:g} requests/s, concurrency {CONCURRENCY}")
    print("rate_limit  served/s  of quota  429s  seconds  messages")
    for paced in run(conversations=args.conversations):
        limit = "none" if paced.rate_limit is None else f"{paced.rate_limit:g}"
        print(
            f"{limit:>10}  {paced.served / paced.seconds:8.1f}  {paced.of_quota:8.0%}  "
            f"{paced.refused:4d}  {paced.seconds:7.1f}  {paced.messages:8d}"
        )


if __name__ == "__main__":
    main()
