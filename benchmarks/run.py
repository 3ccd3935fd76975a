"""
Run every benchmark, print the targets of issue 15 measured in this one run, then one table
per benchmark, and draw the plot.

``python -m benchmarks.run`` (or ``nox -s bench``) runs the full sizes in a few minutes;
``--quick`` smaller ones (a minute or two: the same rows, noisier); ``--smoke`` tiny ones in
seconds (what the test suite does). ``--only`` picks benchmarks by letter: ``--only a,d``
(``r`` is the request count). A full or quick run of every benchmark writes its tables to
`REPORT` (``benchmarks/last_run.md``), which docs/benchmarks.md includes.

Where the targets are about a default install, those benchmarks run as one (`installed`),
whatever this environment has; the ``speed`` extra's row runs the export at concurrency 16
again with it, on asyncio.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from backscroll import _speed
from benchmarks import client_cost, export, memory, round_trips, throughput
from benchmarks._install import installed, speed_available

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["REPORT", "SIZES", "Results", "installed", "main", "measure", "tables", "targets"]

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_PLOT: Final = ROOT / "docs" / "benchmarks.png"
#: Where a full (or quick) run of every benchmark writes its tables; docs/benchmarks.md
#: includes it.
REPORT: Final = ROOT / "benchmarks" / "last_run.md"
LETTERS: Final = ("a", "b", "c", "d", "r")

#: The targets, as issues 7 and 15 set them.
RATIO_TARGET: Final = 1.5  # backscroll / hand-written httpx loop building tuples, at most
MODEL_RATIO_TARGET: Final = 1.0  # backscroll / the same loop building model objects, at most
#: The same, per vendor: Convai builds from one whole answer (issue 15: 1.3x).
MODEL_TARGETS: Final = {"talkifai": 1.0, "cursor": 1.0, "convai": 1.3}
EFFICIENCY_TARGET: Final = 0.8  # of the round-trip ideal at concurrency 16, at least
SPEED_EFFICIENCY_TARGET: Final = 0.9  # the same with the speed extra, on asyncio
EXTRA_REQUESTS_TARGET: Final = 1  # requests per conversation beyond an exact hand loop, at most
RSS_TARGET_MIB: Final = 30.0  # peak RSS growth for a million messages, under
THROUGHPUT_TARGET: Final = 50_000  # messages per second into each sink, at least
SQLITE_TARGET: Final = 1.1  # SqliteSink's writes / a hand executemany's, at most


@attrs.frozen
class Sizes:
    """How big each benchmark runs."""

    messages: int  # (a) per conversation
    rounds: int  # (a)
    conversations: int  # (b) and (d)
    per_conversation: int  # (b) and (d)
    latency: float  # (b)
    concurrency: tuple[int, ...]  # (b)
    stream: int  # (c)
    convai_stream: int  # (c), Convai's one session
    repeats: int  # (d)
    name: str = "full"


SIZES: Final = {
    "full": Sizes(
        messages=20_050,
        rounds=9,
        conversations=200,
        per_conversation=500,
        latency=0.02,
        concurrency=export.CONCURRENCY,
        stream=1_000_000,
        convai_stream=memory.CONVAI_MESSAGES,
        repeats=3,
    ),
    "quick": Sizes(
        messages=10_050,
        rounds=3,
        conversations=48,
        per_conversation=500,
        latency=0.02,
        concurrency=(16,),
        stream=200_000,
        convai_stream=memory.CONVAI_MESSAGES,
        repeats=2,
        name="quick",
    ),
    "smoke": Sizes(
        messages=250,
        rounds=1,
        conversations=3,
        per_conversation=120,
        latency=0.0,
        concurrency=(1, 2),
        stream=2_000,
        convai_stream=1_001,
        repeats=1,
        name="smoke",
    ),
}


@attrs.define
class Results:
    """What one run measured; a benchmark not run stays empty."""

    costs: list[client_cost.ClientCost] = attrs.Factory(list)
    exports: list[export.Export] = attrs.Factory(list)
    #: The export at concurrency 16 again, with the speed extra (empty: not installed).
    speed_exports: list[export.Export] = attrs.Factory(list)
    memories: list[memory.Memory] = attrs.Factory(list)
    throughputs: list[throughput.Throughput] = attrs.Factory(list)
    requests: list[round_trips.RequestCount] = attrs.Factory(list)
    seconds: dict[str, float] = attrs.Factory(dict)
    sizes: str = ""
    #: What the environment had of the speed extra ("off" after ``--without-speed``).
    speed: str = ""


def measure(  # noqa: C901 - one small step per benchmark
    sizes: Sizes, only: Sequence[str] = LETTERS, *, echo: bool = True
) -> Results:
    """Run the benchmarks named in *only*, at *sizes*."""
    speed = speed_available()
    results = Results(sizes=sizes.name, speed=speed_description())

    def costs() -> None:
        with installed(speed=False):
            results.costs = client_cost.run(messages=sizes.messages, rounds=sizes.rounds)

    def exports() -> None:
        def run(concurrency: Sequence[int]) -> list[export.Export]:
            return export.run(
                conversations=sizes.conversations,
                messages=sizes.per_conversation,
                latency=sizes.latency,
                concurrency=concurrency,
            )

        with installed(speed=False):
            results.exports = run(sizes.concurrency)
        if speed:  # asyncio: anyio.run's default
            results.speed_exports = run((16,))

    def memories() -> None:
        with installed(speed=False):
            results.memories = memory.run(
                messages=sizes.stream, convai_messages=sizes.convai_stream
            )

    def throughputs() -> None:
        with installed(speed=False):
            results.throughputs = _best_throughputs(sizes)

    def requests() -> None:
        results.requests = round_trips.run()

    steps: dict[str, tuple[str, Callable[[], None]]] = {
        "a": ("client cost per message", costs),
        "b": ("export wall time", exports),
        "c": ("peak RSS while streaming", memories),
        "d": ("migration throughput", throughputs),
        "r": ("requests per conversation", requests),
    }
    for letter, (title, work) in steps.items():
        if letter not in only:
            continue
        if echo:
            print(f"({letter}) {title} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        work()
        results.seconds[letter] = time.perf_counter() - started
    return results


def _best_throughputs(sizes: Sizes) -> list[throughput.Throughput]:
    """Each sink's best of a few runs: the machine may be shared."""
    best: dict[str, throughput.Throughput] = {}
    for _ in range(sizes.repeats):
        for row in throughput.run(
            conversations=sizes.conversations, messages=sizes.per_conversation
        ):
            if row.sink not in best or row.per_second > best[row.sink].per_second:
                best[row.sink] = row
    return list(best.values())


# -- the tables ----------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _verdict(ok: bool) -> str:  # noqa: FBT001 - a verdict on one condition
    return "met" if ok else "MISSED"


def _cost_table(costs: list[client_cost.ClientCost]) -> str:
    rows = []
    for row in costs:
        ratios = [
            client_cost.ratio(costs, row.vendor, row.client, floor, cpu=cpu)
            for floor in (client_cost.TUPLE_FLOOR, client_cost.MODEL_FLOOR)
            for cpu in (False, True)
        ]
        rows.append(
            [
                row.vendor,
                row.client,
                f"{row.per_message_us:.2f}",
                f"{row.cpu_per_message_us:.2f}",
                f"{row.requests}",
                *("-" if r is None else f"{r:.2f}x" for r in ratios),
            ]
        )
    header = [
        "API",
        "client",
        "us/message",
        "CPU us/message",
        "requests",
        "vs tuple floor",
        "CPU",
        "vs model floor",
        "CPU",
    ]
    return _table(header, rows)


def _cost_verdicts(costs: list[client_cost.ClientCost]) -> list[str]:
    lines = []
    for vendor in client_cost.VENDORS:
        floors = [
            (client_cost.MODEL_FLOOR, "the same loop building model objects", MODEL_TARGETS[vendor])
        ]
        if vendor != "convai":  # issue 15 sets no tuple target for one whole answer
            floors.insert(
                0, (client_cost.TUPLE_FLOOR, "the hand-written loop building tuples", RATIO_TARGET)
            )
        for floor, what, target in floors:
            against = client_cost.ratio(costs, vendor, "backscroll", floor)
            if against is not None:
                lines.append(
                    f"{vendor}: backscroll {against:.2f}x {what} (target <= {target}x): "
                    f"{_verdict(against <= target)}"
                )
        for rival in ("requests loop", "dlt RESTClient"):
            against = client_cost.ratio(costs, vendor, "backscroll", rival)
            if against is not None:
                lines.append(
                    f"{vendor}: backscroll {against:.2f}x {rival} (target < 1): "
                    f"{_verdict(against < 1)}"
                )
    return lines


def _export_table(exports: list[export.Export]) -> str:
    rows = [
        [
            row.vendor,
            row.client,
            str(row.concurrency),
            f"{row.messages:,}",
            f"{row.requests_per_conversation:.2f}",
            str(row.round_trips),
            f"{row.wall:.2f}",
            f"{row.ideal:.2f}",
            f"{row.efficiency:.0%}",
            f"{row.ideal_requests:.2f}",
            f"{row.efficiency_requests:.0%}",
        ]
        for row in exports
    ]
    header = [
        "API",
        "client",
        "concurrency",
        "messages",
        "requests/conversation",
        "needed",
        "wall s",
        "ideal s (round trips)",
        "of ideal",
        "ideal s (requests made)",
        "of that",
    ]
    return _table(header, rows)


def _export_verdicts(exports: list[export.Export], target: float = EFFICIENCY_TARGET) -> list[str]:
    return [
        f"{row.vendor} at concurrency 16: {row.efficiency:.0%} of the ideal by round trips "
        f"({row.efficiency_requests:.0%} by requests made; {row.requests_per_conversation:.2f} "
        f"requests per conversation where {row.round_trips} are needed) "
        f"(target >= {target:.0%}): {_verdict(row.efficiency >= target)}"
        for row in exports
        if row.concurrency == 16 and row.client == "backscroll"
    ]


def _memory_table(memories: list[memory.Memory]) -> str:
    rows = [
        [
            row.vendor,
            row.client,
            f"{row.messages:,}",
            f"{row.baseline:.1f}",
            f"{row.peak:.1f}",
            f"{row.growth:.1f}",
            f"{max(rss for _, rss in row.samples) - min(rss for _, rss in row.samples):.1f}",
        ]
        for row in memories
    ]
    header = [
        "API",
        "client",
        "messages",
        "RSS before MiB",
        "peak MiB",
        "growth MiB",
        "range of samples",
    ]
    return _table(header, rows)


def _convai_growth(memories: list[memory.Memory]) -> tuple[float, float] | None:
    """Convai's RSS growth for backscroll and for the fair floor, if both were measured."""
    growth = {row.client: row.growth for row in memories if row.vendor == "convai"}
    if "backscroll" not in growth or client_cost.MODEL_FLOOR not in growth:
        return None
    return growth["backscroll"], growth[client_cost.MODEL_FLOOR]


def _memory_verdicts(memories: list[memory.Memory]) -> list[str]:
    lines = [
        f"{row.vendor}: +{row.growth:.1f} MiB for {row.messages:,} messages (target < "
        f"{RSS_TARGET_MIB:.0f} MiB for 1,000,000): {_verdict(row.growth < RSS_TARGET_MIB)}"
        for row in memories
        if row.vendor != "convai"
    ]
    convai = _convai_growth(memories)
    if convai is not None:
        size = next(row.messages for row in memories if row.vendor == "convai")
        lines.append(
            f"convai: +{convai[0]:.1f} MiB for a {size:,}-message session, the hand loop "
            f"+{convai[1]:.1f} MiB (target <= the hand loop): {_verdict(convai[0] <= convai[1])}"
        )
    return lines


def _throughput_table(throughputs: list[throughput.Throughput]) -> str:
    rows = [
        [row.sink, f"{row.messages:,}", f"{row.seconds:.2f}", f"{row.per_second:,.0f}"]
        for row in throughputs
    ]
    return _table(["sink", "messages", "seconds", "messages/s"], rows)


def _throughput_verdicts(throughputs: list[throughput.Throughput]) -> list[str]:
    lines = [
        f"{row.sink}: {row.per_second:,.0f} messages/s (target >= {THROUGHPUT_TARGET:,}): "
        f"{_verdict(row.per_second >= THROUGHPUT_TARGET)}"
        for row in throughputs
        if row.sink in {"SqliteSink", "JsonlSink"}
    ]
    seconds = {row.sink: row.seconds for row in throughputs}
    if throughput.SQLITE_ALONE in seconds and throughput.HAND_SQLITE in seconds:
        ratio = seconds[throughput.SQLITE_ALONE] / seconds[throughput.HAND_SQLITE]
        lines.append(
            f"SqliteSink: {ratio:.2f}x a hand executemany of the same rows and commits "
            f"(target <= {SQLITE_TARGET}x): {_verdict(ratio <= SQLITE_TARGET)}"
        )
    return lines


def _requests_table(requests: list[round_trips.RequestCount]) -> str:
    header = [
        "API",
        *(f"{size:,}" for size in round_trips.SIZES if any(r.messages == size for r in requests)),
    ]
    rows = []
    for vendor in round_trips.VENDORS:
        counts = [r for r in requests if r.vendor == vendor]
        if counts:
            rows.append([f"{vendor}: backscroll", *(str(r.backscroll) for r in counts)])
            rows.append([f"{vendor}: exact hand loop", *(str(r.minimum) for r in counts)])
    return _table(header, rows)


def _requests_verdicts(requests: list[round_trips.RequestCount]) -> list[str]:
    lines = []
    for vendor in round_trips.VENDORS:
        counts = [r for r in requests if r.vendor == vendor]
        if counts:
            worst = max(r.extra for r in counts)
            lines.append(
                f"{vendor}: at most {worst} request(s) per conversation beyond an exact hand "
                f"loop, over {len(counts)} sizes (target <= {EXTRA_REQUESTS_TARGET}): "
                f"{_verdict(worst <= EXTRA_REQUESTS_TARGET)}"
            )
    return lines


def _at_16(exports: list[export.Export], vendor: str, client: str) -> export.Export | None:
    return next(
        (r for r in exports if (r.vendor, r.client, r.concurrency) == (vendor, client, 16)),
        None,
    )


def _pair(values: Sequence[float | None], form: str, unit: str = "") -> str | None:
    """``"a / b"`` in *form*, each followed by *unit*, or ``None`` if any is missing."""
    if any(v is None for v in values):
        return None
    return " / ".join(format(v, form) + unit for v in values)


def _target_rows(results: Results) -> list[list[str]]:  # noqa: C901 - a row per target
    """The rows of issue 15's targets table: measure, target, measured, verdict."""
    rows: list[list[str]] = []
    costs = results.costs
    pair = ("talkifai", "cursor")

    def ratios(floor: str, vendors: Sequence[str], *, cpu: bool = False) -> list[float | None]:
        return [client_cost.ratio(costs, v, "backscroll", floor, cpu=cpu) for v in vendors]

    if costs:
        model = ratios(client_cost.MODEL_FLOOR, pair)
        model_cpu = ratios(client_cost.MODEL_FLOOR, pair, cpu=True)
        if (text := _pair(model, ".2f", "x")) is not None:
            ok = all(r is not None and r <= MODEL_TARGETS["talkifai"] for r in model)
            rows.append(
                [
                    "per message vs the fair floor, Talkifai / cursor",
                    "<= 1.0x",
                    f"{text} (CPU {_pair(model_cpu, '.2f', 'x')})",
                    _verdict(ok),
                ]
            )
        convai = ratios(client_cost.MODEL_FLOOR, ("convai",))[0]
        if convai is not None:
            rows.append(
                [
                    "per message vs the fair floor, Convai",
                    f"<= {MODEL_TARGETS['convai']}x",
                    f"{convai:.2f}x",
                    _verdict(convai <= MODEL_TARGETS["convai"]),
                ]
            )
        tuple_ = ratios(client_cost.TUPLE_FLOOR, pair)
        if (text := _pair(tuple_, ".2f", "x")) is not None:
            ok = all(r is not None and r <= RATIO_TARGET for r in tuple_)
            rows.append(
                [
                    "per message vs the tuple floor (default install), Talkifai / cursor",
                    f"<= {RATIO_TARGET}x",
                    text,
                    _verdict(ok),
                ]
            )
    for exports, what, target in (
        (results.exports, "default install", EFFICIENCY_TARGET),
        (results.speed_exports, "`speed` extra, asyncio", SPEED_EFFICIENCY_TARGET),
    ):
        mine = [_at_16(exports, v, "backscroll") for v in pair]
        hand = [_at_16(exports, v, "httpx loop") for v in pair]
        if all(r is not None for r in mine):
            shares = [r.efficiency for r in mine if r is not None]
            floor = _pair([r.efficiency if r else None for r in hand], ".0%")
            ok = all(share >= target for share in shares)
            rows.append(
                [
                    f"c=16, {_latency(exports)}, % of the round-trip ideal, {what}",
                    f">= {target:.0%}",
                    f"{_pair(shares, '.0%')} (hand httpx loop {floor or '-'})",
                    _verdict(ok),
                ]
            )
        elif exports is results.speed_exports and results.exports:
            rows.append(
                [
                    f"c=16, % of the round-trip ideal, {what}",
                    f">= {target:.0%}",
                    "not measured: the speed extra is not installed (or --without-speed)",
                    "-",
                ]
            )
    convai_growth = _convai_growth(results.memories)
    if convai_growth is not None:
        size = next(r.messages for r in results.memories if r.vendor == "convai")
        rows.append(
            [
                f"Convai {size:,}-message session, RSS growth",
                "<= the hand loop",
                f"+{convai_growth[0]:.1f} MiB (hand loop +{convai_growth[1]:.1f} MiB)",
                _verdict(convai_growth[0] <= convai_growth[1]),
            ]
        )
    seconds = {row.sink: row.seconds for row in results.throughputs}
    if throughput.SQLITE_ALONE in seconds and throughput.HAND_SQLITE in seconds:
        ratio = seconds[throughput.SQLITE_ALONE] / seconds[throughput.HAND_SQLITE]
        rows.append(
            [
                "SqliteSink vs a hand executemany",
                f"<= {SQLITE_TARGET}x",
                f"{ratio:.2f}x",
                _verdict(ratio <= SQLITE_TARGET),
            ]
        )
    if results.requests:
        worst = {
            v: max(r.extra for r in results.requests if r.vendor == v)
            for v in round_trips.VENDORS
            if any(r.vendor == v for r in results.requests)
        }
        sizes = sorted({r.messages for r in results.requests})
        rows.append(
            [
                (
                    "requests per conversation beyond an exact hand loop, Talkifai / cursor "
                    f"(worst of {len(sizes)} sizes, {sizes[0]:,} to {sizes[-1]:,})"
                ),
                f"<= {EXTRA_REQUESTS_TARGET}",
                " / ".join(str(worst[v]) for v in worst),
                _verdict(all(w <= EXTRA_REQUESTS_TARGET for w in worst.values())),
            ]
        )
    return rows


def _latency(exports: list[export.Export]) -> str:
    return f"{exports[0].latency * 1000:.0f} ms" if exports else "?"


def targets(results: Results) -> str:
    """Issue 15's targets table, every row this run measured, as Markdown."""
    rows = _target_rows(results)
    if not rows:
        return ""
    return _table(["measure", "target", "measured", "verdict"], rows)


def tables(results: Results) -> str:
    """The targets, then every table and verdict, as Markdown."""
    parts = [_environment(results)]
    if summary := targets(results):
        parts.append(f"### The targets (issue 15), this run\n\n{summary}")
    sections: list[tuple[str, Any, Callable[[Any], str], Callable[[Any], list[str]]]] = [
        ("(a) Client cost per message", results.costs, _cost_table, _cost_verdicts),
        ("(b) Export wall time", results.exports, _export_table, _export_verdicts),
        (
            "(b) Export wall time, `speed` extra, asyncio",
            results.speed_exports,
            _export_table,
            lambda rows: _export_verdicts(rows, SPEED_EFFICIENCY_TARGET),
        ),
        ("(c) Peak RSS while streaming", results.memories, _memory_table, _memory_verdicts),
        ("(d) Migration throughput", results.throughputs, _throughput_table, _throughput_verdicts),
        (
            "Requests per conversation (oldest first, default page)",
            results.requests,
            _requests_table,
            _requests_verdicts,
        ),
    ]
    for title, rows, table, verdicts in sections:
        if rows:
            parts.append(f"### {title}\n\n{table(rows)}\n\n" + "\n".join(verdicts(rows)))
    return "\n\n".join(parts) + "\n"


def _environment(results: Results) -> str:
    versions = []
    for name in ("backscroll", "httpx", "requests", "dlt"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    seconds = sum(results.seconds.values())
    return (
        f"{results.sizes or 'full'} sizes, {seconds:.0f} s; Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load} (1 / 5 / 15 min, at the end); " + ", ".join(versions) + "; environment: "
        f"{results.speed or speed_description()}; (a), (c), (d) and (b)'s first table run "
        "as a default install"
    )


# -- the plot ------------------------------------------------------------------------------------


def plot(results: Results, path: Path) -> bool:
    """Draw the four benchmarks into one PNG; ``False`` if matplotlib is not installed."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 8.5))
    _plot_costs(axes[0][0], results.costs)
    _plot_exports(axes[0][1], results.exports)
    _plot_memory(axes[1][0], results.memories)
    _plot_throughput(axes[1][1], results.throughputs)
    figure.suptitle("backscroll benchmarks (see docs/benchmarks.md)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return True


_VENDOR_NAMES: Final = {
    "talkifai": "Talkifai (offset)",
    "cursor": "cursor API",
    "convai": "Convai (one answer)",
}


def _plot_costs(axis: Any, costs: list[client_cost.ClientCost]) -> None:
    axis.set_title("(a) client cost per message (lower is better)")
    clients = [c for c in client_cost.CLIENTS if any(r.client == c for r in costs)]
    width = 0.8 / max(1, len(clients))
    for i, client in enumerate(clients):
        values = [
            next((r.per_message_us for r in costs if r.vendor == v and r.client == client), 0.0)
            for v in client_cost.VENDORS
        ]
        positions = [x + i * width for x in range(len(client_cost.VENDORS))]
        axis.bar(positions, values, width, label=client)
    axis.set_xticks([x + width * (len(clients) - 1) / 2 for x in range(len(client_cost.VENDORS))])
    axis.set_xticklabels([_VENDOR_NAMES[v] for v in client_cost.VENDORS])
    axis.set_ylabel("microseconds per message")
    axis.legend()


_COLOURS: Final = {"talkifai": "tab:blue", "cursor": "tab:orange", "convai": "tab:green"}


def _plot_exports(axis: Any, exports: list[export.Export]) -> None:
    axis.set_title("(b) export: share of the ideal (needed round trips)")
    for vendor in export.VENDORS:
        for client in ("backscroll", "httpx loop"):
            rows = [r for r in exports if r.vendor == vendor and r.client == client]
            if rows:
                axis.plot(
                    [r.concurrency for r in rows],
                    [100 * r.efficiency for r in rows],
                    marker="o" if client == "backscroll" else "x",
                    color=_COLOURS[vendor],
                    linestyle="-" if client == "backscroll" else ":",
                    label=f"{vendor}: {client}",
                )
    axis.axhline(100 * EFFICIENCY_TARGET, color="red", linestyle="--", label="target at 16")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("concurrency")
    axis.set_ylabel("% of ideal")
    axis.set_ylim(0, 105)
    axis.legend(fontsize="small")


def _plot_memory(axis: Any, memories: list[memory.Memory]) -> None:
    axis.set_title("(c) RSS while streaming one conversation")
    memories = [row for row in memories if row.vendor != "convai"]  # a session, not a stream
    for row in memories:
        axis.plot(
            [count for count, _ in row.samples],
            [rss for _, rss in row.samples],
            marker=".",
            color=_COLOURS.get(row.vendor),
            label=row.vendor,
        )
    if memories:
        limit = min(row.baseline for row in memories) + RSS_TARGET_MIB
        axis.axhline(limit, color="red", linestyle="--", label="target: +30 MiB")
        axis.set_ylim(0, limit * 1.15)
    axis.set_xlabel("messages streamed")
    axis.set_ylabel("RSS, MiB")
    axis.legend()


def _plot_throughput(axis: Any, throughputs: list[throughput.Throughput]) -> None:
    axis.set_title("(d) migration throughput (higher is better)")
    rows = [r for r in throughputs if r.sink in {"SqliteSink", "JsonlSink"}]
    axis.bar([r.sink for r in rows], [r.per_second for r in rows])
    axis.axhline(THROUGHPUT_TARGET, color="red", linestyle="--", label="target")
    axis.set_ylabel("messages per second")
    axis.legend()


def without_speed() -> None:
    """
    Run as a default install would, though the bench group brings orjson and sniffio along.

    backscroll's ``speed`` extra is switched off (the standard library's JSON, httpx's own
    transport), and httpcore finds no sniffio, as in a default install.
    """
    # A None in sys.modules makes `import sniffio` fail, as if it were not installed.
    sys.modules["sniffio"] = None  # type: ignore[assignment]
    for part in ("_orjson", "_sniffio", "_httpx_aiohttp"):
        setattr(_speed, part, None)


def speed_description() -> str:
    """Which parts of the ``speed`` extra this run uses."""
    blocked = {name for name in ("sniffio",) if sys.modules.get(name, ...) is None}
    used = [name for name, on in _speed.speed_installed().items() if on and name not in blocked]
    return "speed extra: " + (", ".join(used) if used else "off (a default install)")


def main(argv: Sequence[str] | None = None) -> Results:
    """
    ``python -m benchmarks.run [--smoke | --quick] [--only a,b,c,d,r] [--without-speed]``.

    ``--plot PATH`` and ``--report PATH`` say where the plot and the Markdown tables go
    (by default docs/benchmarks.png, drawn only by a full run of every benchmark, and
    `REPORT`, written by a full or quick one, so that a partial or smoke run never replaces
    what the docs show); ``--no-plot`` draws nothing.
    """
    parser = argparse.ArgumentParser(description="Run backscroll's benchmarks.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    size.add_argument("--quick", action="store_true", help="smaller sizes, a minute or two")
    parser.add_argument("--only", default=",".join(LETTERS), help="benchmarks by letter: a,b,c,d,r")
    parser.add_argument("--plot", type=Path, default=None, help="where the PNG goes")
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    parser.add_argument("--report", type=Path, default=None, help="where the tables go")
    parser.add_argument(
        "--without-speed", action="store_true", help="as a default install: no speed extra"
    )
    args = parser.parse_args(argv)
    if args.without_speed:
        without_speed()
    only = [letter.strip() for letter in args.only.split(",")]
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    results = measure(SIZES[name], only)
    text = tables(results)
    print(text)
    # The documented plot and report show every benchmark at real sizes: a partial or
    # smoke run must not replace them.
    whole = sorted(only) == sorted(LETTERS) and not args.smoke
    report = args.report or (REPORT if whole else None)
    if report is not None:
        report.write_text(text)
        print(f"report: {report}")
    # The plot shows (b) over every concurrency: a quick run's would be half empty.
    plot_path = args.plot or (DEFAULT_PLOT if whole and name == "full" else None)
    if args.no_plot:
        pass
    elif plot_path is None:
        print("plot: skipped for a partial, quick or smoke run; pass --plot PATH to draw one")
    elif plot(results, plot_path):
        print(f"plot: {plot_path}")
    else:
        print("plot: skipped, matplotlib is not installed (the bench group has it)")
    return results


if __name__ == "__main__":
    main()
