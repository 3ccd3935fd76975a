"""
Run every benchmark, print one table per benchmark with its target, and draw the plot.

``python -m benchmarks.run`` (or ``nox -s bench``) runs the full sizes in a few minutes;
``--smoke`` runs tiny ones in seconds (what the test suite does). ``--only`` picks
benchmarks by letter: ``--only a,d``.
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
from benchmarks import client_cost, export, memory, throughput

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["SIZES", "Results", "main", "measure", "tables"]

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_PLOT: Final = ROOT / "docs" / "benchmarks.png"

#: The targets, as issues 7 and 15 set them.
RATIO_TARGET: Final = 1.5  # backscroll / hand-written httpx loop building tuples, at most
MODEL_RATIO_TARGET: Final = 1.0  # backscroll / the same loop building model objects, at most
EFFICIENCY_TARGET: Final = 0.8  # of the round-trip ideal at concurrency 16, at least
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
    repeats: int  # (d)


SIZES: Final = {
    "full": Sizes(
        messages=20_050,
        rounds=9,
        conversations=200,
        per_conversation=500,
        latency=0.02,
        concurrency=export.CONCURRENCY,
        stream=1_000_000,
        repeats=3,
    ),
    "smoke": Sizes(
        messages=250,
        rounds=1,
        conversations=3,
        per_conversation=120,
        latency=0.0,
        concurrency=(1, 2),
        stream=2_000,
        repeats=1,
    ),
}


@attrs.define
class Results:
    """What one run measured; a benchmark not run stays empty."""

    costs: list[client_cost.ClientCost] = attrs.Factory(list)
    exports: list[export.Export] = attrs.Factory(list)
    memories: list[memory.Memory] = attrs.Factory(list)
    throughputs: list[throughput.Throughput] = attrs.Factory(list)
    seconds: dict[str, float] = attrs.Factory(dict)


def measure(sizes: Sizes, only: Sequence[str] = "abcd", *, echo: bool = True) -> Results:
    """Run the benchmarks named in *only*, at *sizes*."""
    results = Results()

    def costs() -> None:
        results.costs = client_cost.run(messages=sizes.messages, rounds=sizes.rounds)

    def exports() -> None:
        results.exports = export.run(
            conversations=sizes.conversations,
            messages=sizes.per_conversation,
            latency=sizes.latency,
            concurrency=sizes.concurrency,
        )

    def memories() -> None:
        results.memories = memory.run(messages=sizes.stream)

    def throughputs() -> None:
        results.throughputs = _best_throughputs(sizes)

    steps: dict[str, tuple[str, Callable[[], None]]] = {
        "a": ("client cost per message", costs),
        "b": ("export wall time", exports),
        "c": ("peak RSS while streaming", memories),
        "d": ("migration throughput", throughputs),
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
        floors = (
            (client_cost.TUPLE_FLOOR, "the hand-written loop building tuples", RATIO_TARGET),
            (client_cost.MODEL_FLOOR, "the same loop building model objects", MODEL_RATIO_TARGET),
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


def _export_verdicts(exports: list[export.Export]) -> list[str]:
    return [
        f"{row.vendor} at concurrency 16: {row.efficiency:.0%} of the ideal by round trips "
        f"({row.efficiency_requests:.0%} by requests made; {row.requests_per_conversation:.2f} "
        f"requests per conversation where {row.round_trips} are needed) "
        f"(target >= {EFFICIENCY_TARGET:.0%}): {_verdict(row.efficiency >= EFFICIENCY_TARGET)}"
        for row in exports
        if row.concurrency == 16 and row.client == "backscroll"
    ]


def _memory_table(memories: list[memory.Memory]) -> str:
    rows = [
        [
            row.vendor,
            f"{row.messages:,}",
            f"{row.baseline:.1f}",
            f"{row.peak:.1f}",
            f"{row.growth:.1f}",
            f"{max(rss for _, rss in row.samples) - min(rss for _, rss in row.samples):.1f}",
        ]
        for row in memories
    ]
    header = ["API", "messages", "RSS before MiB", "peak MiB", "growth MiB", "range of samples"]
    return _table(header, rows)


def _memory_verdicts(memories: list[memory.Memory]) -> list[str]:
    return [
        f"{row.vendor}: +{row.growth:.1f} MiB for {row.messages:,} messages (target < "
        f"{RSS_TARGET_MIB:.0f} MiB for 1,000,000): {_verdict(row.growth < RSS_TARGET_MIB)}"
        for row in memories
    ]


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


def tables(results: Results) -> str:
    """Every table and verdict, as Markdown."""
    parts = [_environment()]
    sections: list[tuple[str, Any, Callable[[Any], str], Callable[[Any], list[str]]]] = [
        ("(a) Client cost per message", results.costs, _cost_table, _cost_verdicts),
        ("(b) Export wall time", results.exports, _export_table, _export_verdicts),
        ("(c) Peak RSS while streaming", results.memories, _memory_table, _memory_verdicts),
        ("(d) Migration throughput", results.throughputs, _throughput_table, _throughput_verdicts),
    ]
    for title, rows, table, verdicts in sections:
        if rows:
            parts.append(f"### {title}\n\n{table(rows)}\n\n" + "\n".join(verdicts(rows)))
    return "\n\n".join(parts) + "\n"


def _environment() -> str:
    versions = []
    for name in ("backscroll", "httpx", "requests", "dlt"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load}; " + ", ".join(versions) + "; "
        f"{speed_description()}"
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
    ``python -m benchmarks.run [--smoke] [--only a,b,c,d] [--without-speed] [--plot PATH]``.

    ``--no-plot`` prints the tables only.
    """
    parser = argparse.ArgumentParser(description="Run backscroll's benchmarks.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--only", default="a,b,c,d", help="benchmarks by letter: a,b,c,d")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="where the PNG goes")
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    parser.add_argument(
        "--without-speed", action="store_true", help="as a default install: no speed extra"
    )
    args = parser.parse_args(argv)
    if args.without_speed:
        without_speed()
    only = [letter.strip() for letter in args.only.split(",")]
    results = measure(SIZES["smoke" if args.smoke else "full"], only)
    print(tables(results))
    partial = sorted(only) != ["a", "b", "c", "d"] and args.plot == DEFAULT_PLOT
    if partial and not args.no_plot:
        # The documented plot shows all four: a partial run must not replace it.
        print("plot: skipped for a partial run (--only); pass --plot PATH to draw one")
    elif not args.no_plot:
        if plot(results, args.plot):
            print(f"plot: {args.plot}")
        else:
            print("plot: skipped, matplotlib is not installed (the bench group has it)")
    return results


if __name__ == "__main__":
    main()
