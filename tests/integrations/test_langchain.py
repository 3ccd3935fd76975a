"""LangChain: messages, the chat message history and the chat loader, on the real package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest
from anyio.from_thread import start_blocking_portal

pytest.importorskip("langchain_core", reason="needs the langchain extra (nox -s integrations)")

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    get_buffer_string,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from backscroll import (
    ConfigurationError,
    ConversionError,
    CursorProvider,
    Message,
    Role,
    from_dict,
    to_dict,
)
from backscroll.blocking import run
from backscroll.errors import ReadOnlyError
from backscroll.integrations.langchain import (
    BackscrollChatLoader,
    BackscrollChatMessageHistory,
    LostMessagesWarning,
    aload_messages,
    to_langchain_messages,
)
from backscroll.providers import JsonlProvider
from backscroll.sandbox import CURSOR_API_KEY, Sandbox, serving
from backscroll.sinks import JsonlSink

from .conftest import DOCS_CONVERSATION, cursor, message, run_page

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

pytestmark = pytest.mark.anyio


class RecordingSink:
    """A sink that keeps what it was given, and when it was committed."""

    def __init__(self) -> None:
        self.written: list[Message] = []
        self.commits = 0

    async def write(self, messages: Sequence[Message]) -> None:
        """Keep the messages."""
        self.written.extend(messages)

    async def commit(self) -> None:
        """Count the commit."""
        self.commits += 1

    async def aclose(self) -> None:
        """Nothing to release."""


# -- to_langchain_messages -------------------------------------------------------------


def test_every_role_maps_as_documented(every_role: list[Message]) -> None:
    """System, user and assistant get their classes; tool and unknown become HumanMessage."""
    converted = to_langchain_messages(every_role)
    assert [type(m) for m in converted] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
        HumanMessage,
    ]


def test_content_order_and_ids_are_kept(every_role: list[Message]) -> None:
    """Each message keeps its content, its place and backscroll's id as LangChain's id."""
    converted = to_langchain_messages(every_role)
    assert [(m.id, m.content) for m in converted] == [(m.id, m.content) for m in every_role]


def test_provenance_holds_timestamps_and_the_original_role(every_role: list[Message]) -> None:
    """additional_kwargs['backscroll'] says where each message came from, and when."""
    converted = to_langchain_messages(every_role)
    for original, result in zip(every_role, converted, strict=True):
        assert original.created_at is not None
        assert result.additional_kwargs["backscroll"] == {
            "id": original.id,
            "conversation_id": "con_1",
            "provider": "cursor",
            "role": original.role.value,
            "created_at": original.created_at.isoformat(),
            "sender_id": original.sender_id,
        }
    assert converted[4].additional_kwargs["backscroll"]["role"] == "unknown"


def test_a_message_without_time_has_none_in_provenance() -> None:
    """An unknown created_at stays None, never an invented time."""
    converted = to_langchain_messages([message(0, Role.USER, created_at=None)])
    assert converted[0].additional_kwargs["backscroll"]["created_at"] is None


def test_unmapped_skip_and_error(every_role: list[Message]) -> None:
    """unmapped='skip' drops tool and unknown; unmapped='error' refuses them."""
    assert len(to_langchain_messages(every_role, unmapped="skip")) == 3
    with pytest.raises(ConversionError, match="'tool'"):
        to_langchain_messages(every_role, unmapped="error")


def test_names_and_drop_empty(every_role: list[Message]) -> None:
    """names=True sets LangChain's name from the sender id; drop_empty leaves blanks out."""
    converted = to_langchain_messages([*every_role, message(5, Role.USER, " ")], names=True)
    assert [m.name for m in converted] == [None, "usr_82hd92", "ai_default_bot", None, None, None]
    assert len(to_langchain_messages([message(5, Role.USER, " ")], drop_empty=True)) == 0


def test_messages_survive_langchains_own_serialisation(every_role: list[Message]) -> None:
    """messages_to_dict / messages_from_dict round-trip the converted messages unchanged."""
    converted = to_langchain_messages(every_role, names=True)
    assert messages_from_dict(messages_to_dict(converted)) == converted


# -- end to end against the sandbox ----------------------------------------------------


async def test_sandbox_conversation_through_langchain_message_handling() -> None:
    """A sandbox conversation reads back as the buffer string LangChain prompts are built from."""
    async with Sandbox(seed=0).cursor() as provider:
        history = await aload_messages(provider, DOCS_CONVERSATION)
        originals = [m async for m in provider.messages(DOCS_CONVERSATION)]
    assert [m.id for m in history] == [m.id for m in originals]
    classes = {Role.USER: HumanMessage, Role.ASSISTANT: AIMessage, Role.SYSTEM: SystemMessage}
    assert [type(m) for m in history] == [classes[m.role] for m in originals]
    buffer = get_buffer_string(history)
    assert buffer.endswith(
        "Human: Hey, can you summarize today's calls?\n"
        "AI: Sure, you had 12 inbound and 5 outbound calls today."
    )


async def test_unknown_convai_speakers_arrive_as_human_messages() -> None:
    """Convai's narrator lines (Role.UNKNOWN) reach LangChain as HumanMessage, marked unknown."""
    sandbox = Sandbox(seed=0)
    async with sandbox.convai() as provider:
        found: list[BaseMessage] = []
        for session in sandbox.data.convai_interactions:
            found += [
                m
                for m in await aload_messages(provider, session)
                if m.additional_kwargs["backscroll"]["role"] == "unknown"
            ]
    assert found
    assert all(isinstance(m, HumanMessage) for m in found)


async def test_max_messages_keeps_the_newest_oldest_first() -> None:
    """max_messages=3 gives the last three messages, in conversation order."""
    async with Sandbox(seed=0).cursor() as provider:
        everything = await aload_messages(provider, DOCS_CONVERSATION)
        newest = await aload_messages(provider, DOCS_CONVERSATION, max_messages=3)
    assert {m.id for m in newest} == {m.id for m in everything[-3:]}
    assert newest[-1].id == everything[-1].id


async def test_max_messages_must_be_positive() -> None:
    """max_messages=0 is refused before any request."""
    async with Sandbox(seed=0).cursor() as provider:
        with pytest.raises(ConfigurationError, match="max_messages must be a positive integer"):
            await aload_messages(provider, DOCS_CONVERSATION, max_messages=0)


# -- BackscrollChatMessageHistory ------------------------------------------------------


async def test_history_is_a_langchain_history_with_native_async_reads() -> None:
    """aget_messages reads through the provider, on asyncio and on trio alike."""
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION)
        assert isinstance(history, BaseChatMessageHistory)
        messages = await history.aget_messages()
        assert messages == await aload_messages(provider, DOCS_CONVERSATION)


def test_history_messages_property_works_from_sync_code() -> None:
    """history.messages reads the conversation from plain synchronous code."""
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION)
    messages = history.messages
    assert messages[-1].content == "Sure, you had 12 inbound and 5 outbound calls today."
    assert str(history).endswith("AI: Sure, you had 12 inbound and 5 outbound calls today.")
    run(provider.aclose)


async def test_history_messages_property_works_inside_a_running_loop() -> None:
    """The sync property works from inside a coroutine too, as in a notebook."""
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, max_messages=2)
    assert [m.content for m in history.messages] == [
        "Hey, can you summarize today's calls?",
        "Sure, you had 12 inbound and 5 outbound calls today.",
    ]
    run(provider.aclose)


async def test_history_without_a_sink_is_read_only() -> None:
    """Adding messages without a sink warns, then raises ReadOnlyError saying how to keep them."""
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION)
        with (
            pytest.warns(LostMessagesWarning, match="pass sink="),
            pytest.raises(ReadOnlyError, match="pass sink="),
        ):
            await history.aadd_messages([HumanMessage("hello")])
    with pytest.warns(LostMessagesWarning), pytest.raises(ReadOnlyError, match="read-only"):
        history.add_user_message("hello")


async def test_a_lost_write_makes_every_later_read_fail() -> None:
    """After a write without a sink, reads raise ReadOnlyError counting the lost messages."""
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION)
        with pytest.warns(LostMessagesWarning), pytest.raises(ReadOnlyError):
            await history.aadd_messages([HumanMessage("a"), AIMessage("b")])
        with pytest.raises(ReadOnlyError, match="2 message"):
            await history.aget_messages()
    with pytest.raises(ReadOnlyError, match="were not kept"):
        _ = history.messages


def test_runnable_with_message_history_cannot_lose_a_turn_silently() -> None:
    """Without a sink, the swallowed write warns, and the next invoke fails, loudly."""
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, max_messages=2)
    with pytest.warns(DeprecationWarning, match="RunnableWithMessageHistory is deprecated"):
        chain = RunnableWithMessageHistory(
            FakeListChatModel(responses=["One.", "Two."]), lambda _session_id: history
        )
    config: Any = {"configurable": {"session_id": DOCS_CONVERSATION}}
    with pytest.warns(LostMessagesWarning, match="read-only"):
        assert chain.invoke([HumanMessage("First?")], config=config).content == "One."
    with pytest.raises(ReadOnlyError, match="were not kept"):
        chain.invoke([HumanMessage("Second?")], config=config)
    run(provider.aclose)


@pytest.fixture
def served_sandbox() -> Iterator[str]:
    """A sandbox served by uvicorn on loopback for a synchronous test: its root URL."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serving(Sandbox(seed=0))) as url,
    ):
        yield url


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_and_async_reads_share_one_history_over_real_sockets(
    served_sandbox: str, backend: str
) -> None:
    """messages, then aget_messages on fresh loops, then messages again: all over one pool."""
    provider = CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{served_sandbox}/cursor/v1")
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, max_messages=2)
    first = history.messages
    second = anyio.run(history.aget_messages, backend=backend)
    third = anyio.run(history.aget_messages, backend=backend)
    fourth = history.messages
    assert [m.content for m in first] == [
        "Hey, can you summarize today's calls?",
        "Sure, you had 12 inbound and 5 outbound calls today.",
    ]
    assert first == second == third == fourth
    run(provider.aclose)


async def test_async_reads_from_the_callers_loop_leave_the_sync_path_working(
    served_sandbox: str,
) -> None:
    """aget_messages first, from this test's loop, then the sync property: no loop clash."""
    provider = CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{served_sandbox}/cursor/v1")
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, max_messages=3)
    awaited = await history.aget_messages()
    blocked = await anyio.to_thread.run_sync(lambda: history.messages)
    assert awaited == blocked
    assert len(awaited) == 3
    await anyio.to_thread.run_sync(run, provider.aclose)


async def test_added_messages_go_to_the_sink_and_come_back_after_the_history() -> None:
    """Writes reach the sink as committed backscroll messages, and later reads end with them."""
    sink = RecordingSink()
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, sink=sink)
        before = await history.aget_messages()
        await history.aadd_messages([HumanMessage("And tomorrow?"), AIMessage("Quieter.", id="r1")])
        after = await history.aget_messages()
    assert sink.commits == 1
    assert [(m.role, m.content, m.provider) for m in sink.written] == [
        (Role.USER, "And tomorrow?", "cursor"),
        (Role.ASSISTANT, "Quieter.", "cursor"),
    ]
    assert all(m.conversation_id == DOCS_CONVERSATION for m in sink.written)
    assert all(m.metadata == {"origin": "langchain"} for m in sink.written)
    assert all(m.created_at is not None for m in sink.written)
    assert sink.written[0].id.startswith("lc_")
    assert sink.written[1].id == "r1"
    assert after[: len(before)] == before
    assert [m.content for m in after[len(before) :]] == ["And tomorrow?", "Quieter."]
    assert [m.id for m in after[len(before) :]] == [m.id for m in sink.written]


async def test_a_round_tripped_message_keeps_its_time_and_id() -> None:
    """A converted backscroll message written back keeps its id and created_at."""
    sink = RecordingSink()
    original = message(3, Role.ASSISTANT, "again")
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, sink=sink)
        await history.aadd_messages(to_langchain_messages([original]))
    assert (sink.written[0].id, sink.written[0].created_at) == (original.id, original.created_at)


async def test_sink_messages_are_lossless_backscroll_messages(tmp_path: Path) -> None:
    """A JsonlSink receives valid messages, and reading it back shows each added one once."""
    path = tmp_path / "chat.jsonl"
    async with JsonlSink(path) as sink, JsonlProvider(path) as exported:
        history = BackscrollChatMessageHistory(exported, "con_1", sink=sink)
        await history.aadd_messages([HumanMessage("first"), AIMessage("second")])
        messages = await history.aget_messages()
    assert [m.content for m in messages] == ["first", "second"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    import json  # noqa: PLC0415 - only this test reads the file

    assert from_dict(Message, json.loads(lines[0])).content == "first"
    assert to_dict(from_dict(Message, json.loads(lines[1])))["role"] == "assistant"


def test_history_serves_runnable_with_message_history() -> None:
    """RunnableWithMessageHistory reads the vendor history into the prompt and writes the turn."""
    provider = cursor(Sandbox(seed=0))
    sink = RecordingSink()
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, sink=sink, max_messages=4)
    model = FakeListChatModel(responses=["Mostly inbound."])
    seen: list[list[BaseMessage]] = []

    def record(prompt: Any) -> Any:
        seen.append(list(prompt))
        return prompt

    with pytest.warns(DeprecationWarning, match="RunnableWithMessageHistory is deprecated"):
        chain = RunnableWithMessageHistory(
            RunnableLambda(record) | model,
            lambda _session_id: history,
        )
    answer = chain.invoke(
        [HumanMessage("Which kind dominated?")],
        config={"configurable": {"session_id": DOCS_CONVERSATION}},
    )
    assert answer.content == "Mostly inbound."
    assert [m.content for m in seen[0][-3:]] == [
        "Hey, can you summarize today's calls?",
        "Sure, you had 12 inbound and 5 outbound calls today.",
        "Which kind dominated?",
    ]
    assert [m.content for m in sink.written] == ["Which kind dominated?", "Mostly inbound."]
    run(provider.aclose)


async def test_clear_never_deletes_vendor_data_by_default() -> None:
    """clear() without allow_delete raises, and the Convai session is still there."""
    sandbox = Sandbox(seed=0)
    session = next(iter(sandbox.data.convai_interactions))
    async with sandbox.convai() as provider:
        history = BackscrollChatMessageHistory(provider, session)
        with pytest.raises(ReadOnlyError, match="allow_delete=True"):
            await history.aclear()
    assert session in sandbox.data.convai_interactions


async def test_clear_with_allow_delete_deletes_at_the_vendor() -> None:
    """allow_delete=True lets clear() delete the session at Convai."""
    sandbox = Sandbox(seed=0)
    session = next(iter(sandbox.data.convai_interactions))
    async with sandbox.convai() as provider:
        history = BackscrollChatMessageHistory(provider, session, allow_delete=True)
        await history.aclear()
        remaining = {c.id async for c in provider.conversations()}
    assert session not in remaining


def test_sync_clear_goes_through_the_same_check() -> None:
    """The sync clear() refuses without allow_delete too."""
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION)
    with pytest.raises(ReadOnlyError, match="allow_delete=True"):
        history.clear()
    run(provider.aclose)


async def test_clear_on_a_provider_that_cannot_delete_is_read_only() -> None:
    """allow_delete=True on the cursor API (no delete endpoint) still raises ReadOnlyError."""
    async with Sandbox(seed=0).cursor() as provider:
        history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, allow_delete=True)
        with pytest.raises(ReadOnlyError, match="cannot delete"):
            await history.aclear()


def test_history_arguments_are_checked() -> None:
    """A non-provider, an empty id or a sink without write/commit are refused."""
    provider = cursor(Sandbox(seed=0))
    with pytest.raises(ConfigurationError, match="reads through a provider"):
        BackscrollChatMessageHistory("cursor", "con_1")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="conversation_id"):
        BackscrollChatMessageHistory(provider, "")
    with pytest.raises(ConfigurationError, match="sink must have"):
        BackscrollChatMessageHistory(provider, "con_1", sink=object())  # type: ignore[arg-type]
    assert "CursorProvider" in repr(BackscrollChatMessageHistory(provider, "con_1"))
    run(provider.aclose)


def test_tool_messages_written_to_the_sink_keep_the_tool_role() -> None:
    """A ToolMessage added through the history is stored as Role.TOOL."""
    sink = RecordingSink()
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, sink=sink)
    history.add_messages([ToolMessage("42", tool_call_id="call_1")])
    assert sink.written[0].role is Role.TOOL
    run(provider.aclose)


# -- BackscrollChatLoader --------------------------------------------------------------


def test_loader_yields_one_chat_session_per_conversation() -> None:
    """load() from sync code gives one ChatSession per id, in order, with all messages."""
    sandbox = Sandbox(seed=0)
    ids = list(sandbox.data.cursor)[:3]
    provider = cursor(sandbox)
    sessions = BackscrollChatLoader(provider, ids).load()
    assert [len(s["messages"]) for s in sessions] == [len(sandbox.data.cursor[i]) for i in ids]
    assert [
        s["messages"][0].additional_kwargs["backscroll"]["conversation_id"]
        for s in sessions
        if s["messages"]
    ] == [i for i in ids if sandbox.data.cursor[i]]
    run(provider.aclose)


async def test_loader_lists_conversations_where_the_provider_can() -> None:
    """Without ids, the loader lists Convai's sessions, at most limit of them."""
    sandbox = Sandbox(seed=0)
    async with sandbox.convai() as provider:
        sessions = await BackscrollChatLoader(provider, limit=2).aload()
    assert len(sessions) == 2


async def test_loader_without_ids_needs_a_listing_provider() -> None:
    """The cursor API cannot list conversations: the loader asks for ids."""
    async with Sandbox(seed=0).cursor() as provider:
        with pytest.raises(ConfigurationError, match="pass conversation_ids"):
            BackscrollChatLoader(provider)
        with pytest.raises(ConfigurationError, match="not one string"):
            BackscrollChatLoader(provider, "con_1")


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/langchain.md run, offline, against the sandbox."""
    assert run_page("langchain.md", tmp_path, monkeypatch) >= 4


def test_written_messages_keep_their_text_and_role_from_any_shape() -> None:
    """Content blocks keep their text, generic ChatMessages their role, bad times become now."""
    sink = RecordingSink()
    provider = cursor(Sandbox(seed=0))
    history = BackscrollChatMessageHistory(provider, DOCS_CONVERSATION, sink=sink)
    history.add_messages(
        [
            AIMessage(
                content=[
                    {"type": "text", "text": "Twelve "},
                    "inbound",
                    {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}},
                ]
            ),
            ChatMessage(role="assistant", content="generic"),
            ChatMessage(role="narrator", content="odd"),
            HumanMessage("late", additional_kwargs={"backscroll": {"created_at": "yesterday"}}),
        ]
    )
    assert [(m.role, m.content) for m in sink.written] == [
        (Role.ASSISTANT, "Twelve inbound"),
        (Role.ASSISTANT, "generic"),
        (Role.UNKNOWN, "odd"),
        (Role.USER, "late"),
    ]
    assert sink.written[3].created_at is not None
    run(provider.aclose)


def test_loader_refuses_what_is_not_a_provider() -> None:
    """The loader, like the history, needs a provider."""
    with pytest.raises(ConfigurationError, match="reads through a provider"):
        BackscrollChatLoader(["con_1"])  # type: ignore[arg-type]
