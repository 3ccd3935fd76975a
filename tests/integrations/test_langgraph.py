"""LangGraph: a vendor conversation loaded into a thread, and the read-only store, for real."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs
import pytest

pytest.importorskip("langgraph", reason="needs the langgraph extra (nox -s integrations)")

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage, HumanMessage, messages_from_dict
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.store.base import BaseStore  # noqa: TC002 - LangGraph reads node annotations
from langgraph.store.memory import InMemoryStore

import backscroll
from backscroll import ConfigurationError, CursorProvider, FollowState
from backscroll.blocking import run
from backscroll.errors import ReadOnlyError
from backscroll.integrations.langchain import aload_messages
from backscroll.integrations.langgraph import (
    BackscrollStore,
    ThreadUpdate,
    aload_thread,
    follow_thread,
)
from backscroll.sandbox import CURSOR_API_KEY, Sandbox, serving

from .conftest import DOCS_CONVERSATION, run_page

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from backscroll import Message

pytestmark = pytest.mark.anyio
CONFIG: Any = {"configurable": {"thread_id": DOCS_CONVERSATION}}


class Chat:
    """A one-node chat graph on a fake model, keeping what the model was shown."""

    def __init__(self, *answers: str, store: BaseStore | None = None) -> None:
        self.model = FakeListChatModel(responses=list(answers) or ["Inbound."])
        self.seen: list[list[BaseMessage]] = []
        builder = StateGraph(MessagesState)
        builder.add_node("chatbot", self.chatbot)
        builder.add_edge(START, "chatbot")
        self.graph = builder.compile(checkpointer=InMemorySaver(), store=store)

    async def chatbot(self, state: MessagesState) -> dict[str, Any]:
        """Answer with the fake model, after noting what it was shown."""
        self.seen.append(list(state["messages"]))
        return {"messages": [await self.model.ainvoke(state["messages"])]}


@pytest.fixture
def anyio_backend() -> str:
    """LangGraph's graphs run on asyncio."""
    return "asyncio"


async def test_a_loaded_thread_holds_the_history_without_a_model_call() -> None:
    """aload_thread writes the conversation into the thread's state; the model is not called."""
    chat = Chat()
    async with Sandbox(seed=0).cursor() as provider:
        history = await aload_messages(provider, DOCS_CONVERSATION)
        await aload_thread(chat.graph, CONFIG, provider, DOCS_CONVERSATION)
    state = await chat.graph.aget_state(CONFIG)
    assert state.values["messages"] == history
    assert chat.seen == []


async def test_the_next_turn_sees_the_vendor_history() -> None:
    """After loading, a new turn reaches the model behind the whole vendor history."""
    chat = Chat("Mostly inbound.")
    async with Sandbox(seed=0).cursor() as provider:
        history = await aload_messages(provider, DOCS_CONVERSATION, max_messages=4)
        await aload_thread(chat.graph, CONFIG, provider, DOCS_CONVERSATION, max_messages=4)
    result = await chat.graph.ainvoke({"messages": [HumanMessage("Which kind dominated?")]}, CONFIG)
    assert chat.seen[0][:4] == history
    assert [m.content for m in chat.seen[0][4:]] == ["Which kind dominated?"]
    assert result["messages"][-1].content == "Mostly inbound."


async def test_loading_twice_repeats_nothing() -> None:
    """The stable ids let add_messages replace, not repeat, a history loaded again."""
    chat = Chat()
    async with Sandbox(seed=0).cursor() as provider:
        await aload_thread(chat.graph, CONFIG, provider, DOCS_CONVERSATION, max_messages=3)
        await aload_thread(chat.graph, CONFIG, provider, DOCS_CONVERSATION, max_messages=3)
    state = await chat.graph.aget_state(CONFIG)
    assert len(state.values["messages"]) == 3


async def test_a_node_looks_up_a_conversation_in_the_store() -> None:
    """A node reads any vendor conversation from the store, and writes its own elsewhere."""
    found: list[Any] = []

    async def lookup(state: MessagesState, *, store: BaseStore) -> dict[str, Any]:
        del state  # the node only looks up
        item = await store.aget(("backscroll",), DOCS_CONVERSATION)
        found.append(item)
        await store.aput(("notes",), "seen", {"count": len(item.value["messages"]) if item else 0})
        return {"messages": []}

    async with Sandbox(seed=0).cursor() as provider:
        history = await aload_messages(provider, DOCS_CONVERSATION)
        own = InMemoryStore()
        builder = StateGraph(MessagesState)
        builder.add_node("lookup", lookup)
        builder.add_edge(START, "lookup")
        graph = builder.compile(store=BackscrollStore(provider, store=own))
        await graph.ainvoke({"messages": [HumanMessage("hi")]})
    item = found[0]
    assert (item.namespace, item.key) == (("backscroll",), DOCS_CONVERSATION)
    assert item.value["conversation_id"] == DOCS_CONVERSATION
    assert item.value["provider"] == "cursor"
    assert messages_from_dict(item.value["messages"]) == history
    assert item.created_at <= item.updated_at
    note = await own.aget(("notes",), "seen")
    assert note is not None
    assert note.value == {"count": len(history)}


async def test_the_store_refuses_writes_under_its_namespace() -> None:
    """Writes and deletes under the vendor namespace raise ReadOnlyError; nothing is deleted."""
    async with Sandbox(seed=0).cursor() as provider:
        store = BackscrollStore(provider)
        with pytest.raises(ReadOnlyError, match="cannot write 'x'"):
            await store.aput(("backscroll",), "x", {"a": 1})
        with pytest.raises(ReadOnlyError, match="cannot delete"):
            await store.adelete(("backscroll",), DOCS_CONVERSATION)
        with pytest.raises(ReadOnlyError, match="no store="):
            await store.aput(("notes",), "x", {"a": 1})
        assert await store.aget(("notes",), "x") is None
        assert await store.asearch(("notes",)) == []


async def test_search_lists_conversations_where_the_provider_can() -> None:
    """On Convai, search pages through the listed sessions; values hold no messages."""
    sandbox = Sandbox(seed=0)
    async with sandbox.convai() as provider:
        store = BackscrollStore(provider)
        everything = [c.id async for c in provider.conversations()]
        first = await store.asearch(("backscroll",), limit=2)
        second = await store.asearch(("backscroll",), limit=2, offset=2)
        namespaces = await store.alist_namespaces()
    assert [i.key for i in first + second] == everything[:4]
    assert "messages" not in first[0].value
    assert namespaces == [("backscroll",)]


async def test_search_where_the_provider_cannot_list_says_so() -> None:
    """A provider without a listing makes search a ConfigurationError, never an empty list."""
    async with Sandbox(seed=0).cursor() as provider:
        with pytest.raises(ConfigurationError, match="cannot list"):
            await BackscrollStore(provider).asearch(("backscroll",))
        with pytest.raises(ConfigurationError, match="query="):
            await BackscrollStore(provider).asearch(("backscroll",), query="calls")


async def test_an_unknown_conversation_is_none() -> None:
    """A conversation the vendor does not know (a 404) is no item, as a store says it."""
    async with Sandbox(seed=0).convai() as provider:
        assert await BackscrollStore(provider).aget(("backscroll",), "no-such-session") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"namespace": ()}, "namespace must be"),
        ({"namespace": "backscroll"}, "namespace must be"),
        ({"store": object()}, "store must be"),
    ],
)
def test_unusable_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """A bad namespace or a store that is not a BaseStore fails at construction."""
    with pytest.raises(ConfigurationError, match=match):
        BackscrollStore(CursorProvider(api_key=CURSOR_API_KEY), **kwargs)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_and_async_lookups_share_one_store_over_real_sockets(backend: str) -> None:
    """Sync get from plain code and aget from fresh asyncio or trio loops, on one provider."""

    async def serve_and_read() -> None:
        sandbox = Sandbox(seed=0)
        async with serving(sandbox) as url:
            provider = CursorProvider(api_key=CURSOR_API_KEY, base_url=f"{url}/cursor/v1")
            store = BackscrollStore(provider, max_messages=2)
            synced = await anyio.to_thread.run_sync(store.get, ("backscroll",), DOCS_CONVERSATION)
            awaited = await store.aget(("backscroll",), DOCS_CONVERSATION)
            assert synced is not None
            assert awaited is not None
            assert synced.value == awaited.value
            assert len(awaited.value["messages"]) == 2
            await anyio.to_thread.run_sync(run, provider.aclose)

    anyio.run(serve_and_read, backend=backend)


def growing(sandbox: Sandbox, *counts: int) -> Callable[[float], Awaitable[None]]:
    """A fake sleep: each wait grows the conversation by the next count; none is left to wait."""
    script = list(counts)

    async def sleep(seconds: float) -> None:
        del seconds  # never waits on real time
        await anyio.lowlevel.checkpoint()
        if not script:
            msg = "the follow waited again after the scripted growth"
            raise AssertionError(msg)
        sandbox.grow(DOCS_CONVERSATION, script.pop(0))

    return sleep


async def _updates(follower: Any, count: int) -> list[ThreadUpdate]:
    return [await anext(follower) for _ in range(count)]


async def test_a_followed_thread_gets_the_history_then_each_new_message() -> None:
    """follow_thread loads the history, then appends each grown message once; no model call."""
    chat = Chat()
    sandbox = Sandbox(seed=0)
    async with sandbox.cursor() as provider:
        history = await aload_messages(provider, DOCS_CONVERSATION)
        sleep = growing(sandbox, 2, 3)
        async with follow_thread(
            chat.graph, CONFIG, provider, DOCS_CONVERSATION, sleep=sleep
        ) as follower:
            updates = await _updates(follower, 1 + 5)
        everything = await aload_messages(provider, DOCS_CONVERSATION)
    assert updates[0].messages == history
    assert [len(u.messages) for u in updates[1:]] == [1] * 5
    assert [m for u in updates for m in u.messages] == everything
    state = await chat.graph.aget_state(CONFIG)
    assert state.values["messages"] == everything
    assert (
        updates[-1].config["configurable"]["checkpoint_id"]
        == state.config["configurable"]["checkpoint_id"]
    )
    assert chat.seen == []


async def test_a_followed_thread_resumes_from_saved_state_with_no_repeat_and_no_gap() -> None:
    """A state saved with an update, through JSON, resumes right after that update's message."""
    chat = Chat()
    sandbox = Sandbox(seed=0)
    async with sandbox.cursor() as provider:
        async with follow_thread(
            chat.graph, CONFIG, provider, DOCS_CONVERSATION, sleep=growing(sandbox, 4)
        ) as follower:
            first = await _updates(follower, 1 + 2)
            saved = json.dumps(backscroll.to_dict(first[-1].state))
        sandbox.grow(DOCS_CONVERSATION, 3)  # while the service is down
        state = backscroll.from_dict(FollowState, json.loads(saved))
        async with follow_thread(
            chat.graph, CONFIG, provider, DOCS_CONVERSATION, state=state, sleep=growing(sandbox)
        ) as follower:
            rest = await _updates(follower, 2 + 3)
        everything = await aload_messages(provider, DOCS_CONVERSATION)
    assert [m for u in first + rest for m in u.messages] == everything
    thread = await chat.graph.aget_state(CONFIG)
    assert thread.values["messages"] == everything


class _GrowsBeforeLoading:
    """A provider that grows the conversation just before it is read oldest first."""

    def __init__(self, provider: CursorProvider, sandbox: Sandbox) -> None:
        self.name = provider.name
        self._provider = provider
        self._sandbox = sandbox
        self._grown = False

    def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        """The provider's messages; the first ascending read comes after two new ones."""
        if options.get("order", "asc") == "asc" and not self._grown:
            self._grown = True
            self._sandbox.grow(conversation_id, 2)
        return self._provider.messages(conversation_id, **options)


async def test_a_message_arriving_between_the_start_and_the_load_is_written_once() -> None:
    """Messages in both the loaded history and the follow's first poll are not written twice."""
    chat = Chat()
    sandbox = Sandbox(seed=0)
    async with sandbox.cursor() as provider:
        before = await aload_messages(provider, DOCS_CONVERSATION)
        racing: Any = _GrowsBeforeLoading(provider, sandbox)
        async with follow_thread(
            chat.graph, CONFIG, racing, DOCS_CONVERSATION, sleep=growing(sandbox, 1)
        ) as follower:
            updates = await _updates(follower, 2)
        everything = await aload_messages(provider, DOCS_CONVERSATION)
    assert len(everything) == len(before) + 3
    assert updates[0].messages == everything[:-1]
    assert updates[1].messages == everything[-1:]
    thread = await chat.graph.aget_state(CONFIG)
    assert thread.values["messages"] == everything


class _BlanksSome:
    """A provider whose messages with the given ids come with empty content."""

    def __init__(self, provider: CursorProvider, blank: set[str]) -> None:
        self.name = provider.name
        self._provider = provider
        self._blank = blank

    async def messages(self, conversation_id: str, **options: Any) -> AsyncIterator[Message]:
        """The provider's messages, the chosen ones emptied."""
        async for message in self._provider.messages(conversation_id, **options):
            yield attrs.evolve(message, content="") if message.id in self._blank else message


async def test_a_message_drop_empty_leaves_out_writes_nothing_and_the_follow_goes_on() -> None:
    """A new message the conversion drops is not written or yielded; the next one is."""
    chat = Chat()
    sandbox = Sandbox(seed=0)
    async with sandbox.cursor() as provider:
        blank: set[str] = set()
        before = await aload_messages(provider, DOCS_CONVERSATION)

        async def grow_one_blank(seconds: float) -> None:
            del seconds
            await anyio.lowlevel.checkpoint()
            first, _ = sandbox.grow(DOCS_CONVERSATION, 2)
            blank.add(first["id"])

        blanking: Any = _BlanksSome(provider, blank)
        async with follow_thread(
            chat.graph, CONFIG, blanking, DOCS_CONVERSATION, drop_empty=True, sleep=grow_one_blank
        ) as follower:
            updates = await _updates(follower, 2)
            assert follower.state == updates[-1].state
            assert DOCS_CONVERSATION in repr(follower)
        everything = await aload_messages(provider, DOCS_CONVERSATION)
    assert updates[0].messages == before
    assert updates[1].messages == everything[-1:]
    thread = await chat.graph.aget_state(CONFIG)
    assert thread.values["messages"] == [*before, everything[-1]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"unmapped": "drop"}, "unmapped"),
        ({"max_messages": 0}, "max_messages"),
        ({"interval": 0}, "interval"),
        (
            {"state": FollowState(conversation_id="other", provider="cursor")},
            "follows conversation 'other'",
        ),
    ],
)
def test_follow_thread_refuses_bad_options_at_the_call(kwargs: dict[str, Any], match: str) -> None:
    """A bad option or a state saved for another conversation fails before anything is read."""
    provider = CursorProvider(api_key=CURSOR_API_KEY)
    with pytest.raises(ConfigurationError, match=match):
        follow_thread(Chat().graph, CONFIG, provider, DOCS_CONVERSATION, **kwargs)


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/langgraph.md run against the sandbox."""
    assert run_page("langgraph.md", tmp_path, monkeypatch) >= 3
