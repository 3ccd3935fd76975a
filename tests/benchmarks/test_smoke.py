"""
The benchmark harness runs end to end on tiny inputs: every benchmark reads what it should.

No timing is asserted here (the numbers belong to ``nox -s bench``). The comparisons with
requests and dlt, and the plot, need the bench group; without it they are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import pytest

from backscroll import Message

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benchmarks package sits beside src/, not in it

from benchmarks import client_cost, export, memory, round_trips, run, throughput  # noqa: E402


def test_backscroll_and_both_httpx_floors_read_every_message() -> None:
    """Each reads the whole conversation of each API, and a ratio to each floor exists."""
    clients = ("backscroll", "httpx loop", "httpx models")
    rows = client_cost.run(messages=250, rounds=1, clients=clients)
    assert [(r.vendor, r.client) for r in rows] == [
        (vendor, client) for vendor in ("talkifai", "cursor", "convai") for client in clients
    ]
    assert all(r.messages == 250 and r.requests > 0 for r in rows)
    assert client_cost.ratio(rows, "cursor", "backscroll", "httpx loop") is not None
    assert client_cost.ratio(rows, "talkifai", "backscroll", "httpx models") is not None
    assert client_cost.ratio(rows, "convai", "backscroll", "httpx models") is not None


@pytest.mark.parametrize("vendor", client_cost.VENDORS)
def test_the_model_floor_builds_what_backscroll_yields(vendor: str) -> None:
    """The fair floor's objects have every field of backscroll's messages, ids included."""
    hand = anyio.run(client_cost.hand_messages, vendor, 351)
    messages = anyio.run(client_cost.backscroll_messages, vendor, 351)
    fields = [field.name for field in attrs.fields(Message)]
    assert fields == [field.name for field in attrs.fields(client_cost.HandMessage)]
    assert len(hand) == len(messages) == 351
    for built, message in zip(hand, messages, strict=True):
        assert {f: getattr(built, f) for f in fields} == {f: getattr(message, f) for f in fields}


def test_the_benchmark_refuses_a_fair_floor_that_builds_something_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The self-check of run() names the field where the floor and backscroll part."""
    real = client_cost.convai_models

    def shifted(interactions: list[Any]) -> Iterator[client_cost.HandMessage]:
        for message in real(interactions):
            yield attrs.evolve(message, content=message.content + " ")

    monkeypatch.setattr(client_cost, "convai_models", shifted)
    with pytest.raises(AssertionError, match="message 0's content differs"):
        client_cost.same_messages("convai", 5)


def test_the_requests_loop_reads_every_message() -> None:
    """The vendors' requests snippet, on a requests adapter, reads the same messages."""
    pytest.importorskip("requests")
    rows = client_cost.run(messages=150, rounds=1, clients=("requests loop",))
    assert {(r.vendor, r.messages) for r in rows} == {
        ("talkifai", 150),
        ("cursor", 150),
        ("convai", 150),
    }


def test_dlt_reads_every_message() -> None:
    """The paginators of dlt's RESTClient read the same messages over the same adapter."""
    pytest.importorskip("dlt")
    rows = client_cost.run(messages=150, rounds=1, clients=("dlt RESTClient",))
    assert {(r.vendor, r.messages) for r in rows} == {
        ("talkifai", 150),
        ("cursor", 150),
        ("convai", 150),
    }


def test_a_conversation_of_whole_pages_is_refused() -> None:
    """Naive Talkifai loops never end on whole pages (the last page repeats): refused."""
    with pytest.raises(ValueError, match="multiple of the page size"):
        client_cost.run(messages=200, rounds=0)


def test_export_migrates_every_conversation_over_loopback() -> None:
    """The sandbox serves in a child process; every message is migrated at each concurrency."""
    rows = export.run(conversations=2, messages=120, latency=0.0, concurrency=(1, 2))
    assert [(r.vendor, r.client, r.concurrency) for r in rows] == [
        (vendor, client, level)
        for vendor in ("talkifai", "cursor")
        for client in ("backscroll", "httpx loop")
        for level in (1, 2)
    ]
    assert all(r.requests >= 4 and r.wall > 0 for r in rows)
    assert all(r.messages == 240 for r in rows if r.client == "backscroll")
    assert all(0 < r.messages <= 240 for r in rows)


@pytest.mark.parametrize(
    ("vendor", "messages", "round_trips"),
    [
        ("talkifai", 0, 1),
        ("talkifai", 99, 1),
        ("talkifai", 100, 2),
        ("talkifai", 500, 6),
        ("talkifai", 501, 6),
        ("cursor", 0, 1),
        ("cursor", 100, 1),
        ("cursor", 101, 2),
        ("cursor", 500, 5),
    ],
)
def test_the_ideal_counts_the_round_trips_an_exact_reader_needs(
    vendor: str, messages: int, round_trips: int
) -> None:
    """A page of data each, and one more to see Talkifai's end when the last page is full."""
    assert export.needed(vendor, messages) == round_trips


def test_the_ideal_waits_for_the_busiest_reader() -> None:
    """200 conversations at concurrency 64 take four rounds of conversations, not 3.125."""
    row = _results().exports[0]
    assert row.ideal == pytest.approx(0.02 * 1 * 6)  # 10 conversations, 16 readers: one round
    wide = attrs.evolve(row, conversations=200, concurrency=64)
    assert wide.ideal == pytest.approx(0.02 * 4 * 6)


def test_memory_streams_in_a_child_process() -> None:
    """Each vendor streams in a fresh child that reports its RSS; Convai's fair floor too."""
    if sys.platform == "win32":
        pytest.skip("the memory benchmark reads POSIX or Linux process counters")
    rows = memory.run(messages=2_000, convai_messages=1_001)
    assert [(r.vendor, r.client, r.messages) for r in rows] == [
        ("talkifai", "backscroll", 2_000),
        ("cursor", "backscroll", 2_000),
        ("convai", "backscroll", 1_001),
        ("convai", "httpx models", 1_001),
    ]
    assert all(r.peak >= r.baseline > 0 and len(r.samples) > 2 for r in rows)


def test_throughput_migrates_into_every_sink() -> None:
    """Every sink receives every message from the in-memory source."""
    rows = throughput.run(conversations=2, messages=50)
    assert [(r.sink, r.messages) for r in rows] == [
        ("SqliteSink, writes alone", 100),
        ("hand executemany", 100),
        ("SqliteSink", 100),
        ("JsonlSink", 100),
        ("counting sink", 100),
    ]


def _cost(client: str, best: float, vendor: str = "cursor") -> client_cost.ClientCost:
    return client_cost.ClientCost(
        vendor=vendor, client=client, messages=100, requests=2, best=best, median=best, cpu=best
    )


def _export(vendor: str, client: str, wall: float) -> export.Export:
    return export.Export(
        vendor=vendor,
        client=client,
        concurrency=16,
        conversations=10,
        messages=1000,
        requests=100,
        latency=0.02,
        wall=wall,
        round_trips=6,
    )


def _memory(vendor: str, growth: float, client: str = "backscroll") -> memory.Memory:
    return memory.Memory(
        vendor=vendor,
        messages=10,
        baseline=30.0,
        peak=30.0 + growth,
        samples=((0, 30.0),),
        client=client,
    )


def _results() -> run.Results:
    floors = {"httpx loop": 1.0, "httpx models": 0.9}
    return run.Results(
        costs=[
            _cost(client, best * (1.2 if vendor == "talkifai" else 1.0), vendor)
            for vendor in ("talkifai", "cursor")
            for client, best in {"backscroll": 1.1, **floors}.items()
        ]
        + [_cost("backscroll", 1.1, "convai"), _cost("httpx models", 0.9, "convai")],
        exports=[
            _export("talkifai", "backscroll", 0.2),
            _export("talkifai", "httpx loop", 0.15),
            _export("cursor", "backscroll", 0.25),
            _export("cursor", "httpx loop", 0.15),
        ],
        speed_exports=[
            _export("talkifai", "backscroll", 0.13),
            _export("cursor", "backscroll", 0.13),
        ],
        memories=[
            _memory("cursor", 1.0),
            _memory("convai", 30.0),
            _memory("convai", 34.0, client="httpx models"),
        ],
        throughputs=[
            throughput.Throughput(sink="SqliteSink", messages=100, seconds=0.001),
            throughput.Throughput(sink=throughput.SQLITE_ALONE, messages=100, seconds=0.0012),
            throughput.Throughput(sink=throughput.HAND_SQLITE, messages=100, seconds=0.001),
        ],
        requests=[
            round_trips.RequestCount(
                vendor=vendor, messages=size, backscroll=2, minimum=1, probes=0
            )
            for vendor in ("talkifai", "cursor")
            for size in (1, 99)
        ],
    )


def test_the_tables_give_a_verdict_on_every_target() -> None:
    """Each benchmark's table is printed with its target met or missed."""
    text = run.tables(_results())
    assert (
        "cursor: backscroll 1.10x the hand-written loop building tuples (target <= 1.5x): met"
        in text
    )
    assert (
        "cursor: backscroll 1.22x the same loop building model objects (target <= 1.0x): MISSED"
        in text
    )
    assert "cursor at concurrency 16: 48% of the ideal by round trips (50% by requests" in text
    assert "MISSED" in text
    assert "cursor: +1.0 MiB for 10 messages" in text
    assert "convai: +30.0 MiB for a 10-message session, the hand loop +34.0 MiB" in text
    assert "SqliteSink: 100,000 messages/s (target >= 50,000): met" in text
    assert "SqliteSink: 1.20x a hand executemany of the same rows and commits" in text
    assert "talkifai: at most 1 request(s) per conversation beyond an exact hand loop" in text


def test_the_targets_table_has_every_row_of_issue_15() -> None:
    """One table, first: each target of the issue with what this run measured and a verdict."""
    text = run.tables(_results())
    summary = run.targets(_results())
    assert text.index(summary) < text.index("### (a)")
    rows = {line.split(" | ")[0].strip("| ").strip(): line for line in summary.splitlines()[2:]}
    assert list(rows) == [
        "per message vs the fair floor, Talkifai / cursor",
        "per message vs the fair floor, Convai",
        "per message vs the tuple floor (default install), Talkifai / cursor",
        "c=16, 20 ms, % of the round-trip ideal, default install",
        "c=16, 20 ms, % of the round-trip ideal, `speed` extra, asyncio",
        "Convai 10-message session, RSS growth",
        "SqliteSink vs a hand executemany",
        (
            "requests per conversation beyond an exact hand loop, Talkifai / cursor "
            "(worst of 2 sizes, 1 to 99)"
        ),
    ]
    verdicts = [line.rstrip(" |").rsplit("| ", 1)[1].strip() for line in rows.values()]
    assert verdicts == ["MISSED", "met", "met", "MISSED", "met", "met", "MISSED", "met"]
    assert "1.22x / 1.22x" in rows["per message vs the fair floor, Talkifai / cursor"]
    assert "(hand httpx loop 80% / 80%)" in summary


def test_the_runner_prints_the_tables_of_a_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks.run --smoke --only d --no-plot`` prints the throughput table."""
    results = run.main(["--smoke", "--only", "d", "--no-plot"])
    assert len(results.throughputs) == 5
    assert "### (d) Migration throughput" in capsys.readouterr().out


def test_a_report_path_gets_the_tables_and_a_smoke_run_leaves_the_documented_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--report PATH`` writes what is printed; without it a smoke run writes nothing."""
    before = run.REPORT.read_bytes() if run.REPORT.exists() else None
    report = tmp_path / "run.md"
    run.main(["--smoke", "--only", "r", "--no-plot", "--report", str(report)])
    assert "### Requests per conversation" in report.read_text()
    run.main(["--smoke", "--only", "r", "--no-plot"])
    assert "report:" not in capsys.readouterr().out.split("### Requests")[-1]
    assert (run.REPORT.read_bytes() if run.REPORT.exists() else None) == before


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    """The plot of all four benchmarks is written as a PNG."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "benchmarks.png"
    assert run.plot(_results(), path)
    assert path.read_bytes().startswith(b"\x89PNG")
