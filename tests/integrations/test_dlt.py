"""dlt: the backscroll source loaded for real into DuckDB and into Parquet files, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("dlt", reason="needs the dlt extra (nox -s integrations)")

import dlt
import duckdb

from backscroll import ConfigurationError, Role, to_dict
from backscroll.blocking import BlockingProvider, run
from backscroll.integrations.dlt import WATERMARKS, backscroll_source
from backscroll.sandbox import Sandbox

from .conftest import ListProvider, convai, cursor, message, run_page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from backscroll import CursorProvider

# An older and a newer conversation: a single cursor over both would lose the older one's
# new messages, which is the bug a per-conversation watermark exists to prevent.
OLDER, NEWER = "con_9s2kd81", "con_yltu4m2"


@pytest.fixture(autouse=True)
def offline_dlt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No telemetry, no home-directory state: dlt stays inside the test's directory."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh sandbox whose data the tests extend between runs."""
    return Sandbox(seed=0)


@pytest.fixture
def provider(sandbox: Sandbox) -> Iterator[CursorProvider]:
    """A cursor-API provider on the sandbox, closed on the facade's loop it was read on."""
    made = cursor(sandbox)
    yield made
    run(made.aclose)


def _duckdb_pipeline(tmp_path: Path) -> Any:
    return dlt.pipeline(
        pipeline_name="chat",
        destination=dlt.destinations.duckdb(str(tmp_path / "history.duckdb")),
        dataset_name="chat",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def _rows(tmp_path: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(tmp_path / "history.duckdb"), read_only=True) as db:
        found = db.sql("select provider, conversation_id, id from chat.messages order by all")
        return [tuple(row) for row in found.fetchall()]


def _expected(sandbox: Sandbox, *ids: str) -> list[tuple[str, str, str]]:
    return sorted(("cursor", i, m["id"]) for i in ids for m in sandbox.data.cursor[i])


def test_messages_load_into_duckdb_once_each(
    tmp_path: Path, sandbox: Sandbox, provider: CursorProvider
) -> None:
    """Every message of the chosen conversations is one row, keyed as documented."""
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(backscroll_source(provider, conversation_ids=[OLDER, NEWER]))
    assert _rows(tmp_path) == _expected(sandbox, OLDER, NEWER)
    table = pipeline.default_schema.get_table("messages")
    keys = {c for c, v in table["columns"].items() if v.get("primary_key")}
    assert keys == {"provider", "conversation_id", "id"}
    assert table["write_disposition"] == "merge"


def test_a_rerun_adds_nothing_and_reads_from_each_watermark(
    tmp_path: Path, sandbox: Sandbox, provider: CursorProvider
) -> None:
    """A second run loads no row, and keeps one watermark per conversation in the state."""
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(backscroll_source(provider, conversation_ids=[OLDER, NEWER]))
    first = _rows(tmp_path)
    before = len(sandbox.requests)
    pipeline.run(backscroll_source(provider, conversation_ids=[OLDER, NEWER]))
    assert _rows(tmp_path) == first
    assert pipeline.last_trace.last_normalize_info.row_counts.get("messages", 0) == 0
    state = pipeline.state["sources"]["backscroll"]["resources"]["messages"][WATERMARKS]
    assert set(state) == {OLDER, NEWER}
    last = sandbox.data.cursor[NEWER][-1]
    assert last["id"] in state[NEWER]["ids"]
    assert state[NEWER]["created_at"] == last["created_at"].replace("Z", "+00:00")
    assert len(sandbox.requests) > before  # the vendor was asked, from each watermark


def test_new_messages_in_an_older_conversation_are_loaded(
    tmp_path: Path, sandbox: Sandbox, provider: CursorProvider
) -> None:
    """After new messages arrive, a rerun loads exactly those, older conversation included."""
    older_last = sandbox.data.cursor[OLDER][-1]["created_at"]
    newer_last = sandbox.data.cursor[NEWER][-1]["created_at"]
    assert older_last < newer_last  # a single cursor would skip what follows
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(backscroll_source(provider, conversation_ids=[OLDER, NEWER]))
    added = sandbox.data.extend_cursor(OLDER, 3) + sandbox.data.extend_cursor(NEWER, 2)
    pipeline.run(backscroll_source(provider, conversation_ids=[OLDER, NEWER]))
    assert pipeline.last_trace.last_normalize_info.row_counts["messages"] == len(added) == 5
    assert _rows(tmp_path) == _expected(sandbox, OLDER, NEWER)


def test_rows_are_the_to_dict_form(tmp_path: Path, provider: CursorProvider) -> None:
    """A loaded row carries the message's fields, metadata and raw as JSON, time as a timestamp."""
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(backscroll_source(provider, conversation_ids=[NEWER]))
    history = [to_dict(m) for m in BlockingProvider(provider).messages(NEWER)]
    with duckdb.connect(str(tmp_path / "history.duckdb"), read_only=True) as db:
        row = db.execute(
            "select id, role, content, created_at, raw from chat.messages where id = ?",
            [history[-1]["id"]],
        ).fetchone()
    assert row is not None
    assert row[:3] == (history[-1]["id"], history[-1]["role"], history[-1]["content"])
    assert row[3].isoformat() == history[-1]["created_at"]
    assert '"id"' in row[4]


def test_conversations_are_listed_where_the_provider_can(tmp_path: Path, sandbox: Sandbox) -> None:
    """On Convai, the listed conversations are loaded, and the messages of each one."""
    provider = convai(sandbox)
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(backscroll_source(provider))
    with duckdb.connect(str(tmp_path / "history.duckdb"), read_only=True) as db:
        conversations = db.execute("select count(*) from chat.conversations").fetchone()
        messages = db.execute(
            "select count(distinct conversation_id) from chat.messages"
        ).fetchone()
    listed = list(BlockingProvider(provider).conversations())
    assert conversations == (len(listed),)
    with_messages = [
        c for c in listed if next(iter(BlockingProvider(provider).messages(c.id)), None)
    ]
    assert messages == (len(with_messages),)
    run(provider.aclose)


def test_parquet_files_hold_each_message_once_across_reruns(
    tmp_path: Path, sandbox: Sandbox, provider: CursorProvider
) -> None:
    """Into Parquet files: the rerun adds no file row, the run after new messages only those."""
    lake = tmp_path / "lake"
    pipeline = dlt.pipeline(
        pipeline_name="lake",
        destination=dlt.destinations.filesystem(bucket_url=lake.as_uri()),
        dataset_name="chat",
        pipelines_dir=str(tmp_path / "pipelines"),
    )

    def rows() -> list[tuple[str, str, str]]:
        files = sorted((lake / "chat" / "messages").glob("*.parquet"))
        with duckdb.connect() as db:
            found = db.execute(
                "select provider, conversation_id, id from read_parquet(?)", [list(map(str, files))]
            ).fetchall()
        return sorted(found)

    def source() -> Any:
        return backscroll_source(provider, conversation_ids=[OLDER, NEWER])

    pipeline.run(source(), loader_file_format="parquet")
    assert rows() == _expected(sandbox, OLDER, NEWER)
    pipeline.run(source(), loader_file_format="parquet")
    assert rows() == _expected(sandbox, OLDER, NEWER)
    sandbox.data.extend_cursor(OLDER, 4)
    pipeline.run(source(), loader_file_format="parquet")
    assert rows() == _expected(sandbox, OLDER, NEWER)


def test_since_is_a_lower_bound_the_watermarks_only_raise(tmp_path: Path) -> None:
    """since= leaves older messages out; a naive since is read as UTC."""
    messages = [message(i, role) for i, role in enumerate([Role.USER, Role.ASSISTANT] * 3)]
    cut = messages[3].created_at
    assert cut is not None
    pipeline = _duckdb_pipeline(tmp_path)
    pipeline.run(
        backscroll_source(
            ListProvider(messages), conversation_ids=["con_1"], since=cut.replace(tzinfo=None)
        )
    )
    assert [r[2] for r in _rows(tmp_path)] == [m.id for m in messages[3:]]


def test_a_conversation_with_an_untimed_message_is_read_whole_and_merged(
    tmp_path: Path,
) -> None:
    """An untimed message leaves no watermark: the rerun reads it all; merge keeps one row each."""
    messages = [message(0, Role.USER), message(1, Role.ASSISTANT, created_at=None)]
    pipeline = _duckdb_pipeline(tmp_path)
    for _ in range(2):
        pipeline.run(backscroll_source(ListProvider(messages), conversation_ids=["con_1"]))
    assert [r[2] for r in _rows(tmp_path)] == ["msg_0", "msg_1"]
    state = pipeline.state["sources"]["backscroll"]["resources"]["messages"][WATERMARKS]
    assert "con_1" not in state


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"conversation_ids": "con_1"}, "not one string"),
        ({}, "cannot list its conversations"),
    ],
)
def test_unusable_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """One string for ids, or no ids for a provider that cannot list, fails at once."""
    with pytest.raises(ConfigurationError, match=match):
        backscroll_source(ListProvider([]), **kwargs)


def test_a_non_provider_is_refused() -> None:
    """Something that is not a provider is a ConfigurationError naming what it got."""
    with pytest.raises(ConfigurationError, match="got str"):
        backscroll_source("cursor")  # type: ignore[arg-type]


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/dlt.md run against the sandbox, offline."""
    assert run_page("dlt.md", tmp_path, monkeypatch) >= 2
