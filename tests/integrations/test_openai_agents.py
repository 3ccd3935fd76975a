"""OpenAI Agents SDK: BackscrollSession under the real Runner, with a fake model."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("agents", reason="needs the openai-agents extra (nox -s integrations)")

from agents import Agent, RunConfig, Runner, SQLiteSession, Usage
from agents.items import ModelResponse
from agents.memory import Session, SessionSettings
from agents.models.interface import Model
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from backscroll import ConfigurationError, ConversionError, Message, Role
from backscroll.integrations.openai import to_responses_input
from backscroll.integrations.openai_agents import BackscrollSession
from backscroll.sandbox import Sandbox, serving

from .conftest import DOCS_CONVERSATION, ListProvider, message, run_page

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from datetime import datetime
    from pathlib import Path

    from backscroll import ChatHistoryProvider

# The Agents SDK runs on asyncio only.
pytestmark = pytest.mark.anyio
NO_TRACING = RunConfig(tracing_disabled=True)


@pytest.fixture
def anyio_backend() -> str:
    """The Agents SDK is asyncio-only."""
    return "asyncio"


class EchoModel(Model):
    """A fake model: answers with a fixed text and keeps every input it was given."""

    def __init__(self, answer: str = "Inbound.") -> None:
        self.answer = answer
        self.inputs: list[list[Any]] = []

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        """Record the input, answer with one assistant message."""
        given = kwargs["input"] if "input" in kwargs else args[1]
        self.inputs.append([given] if isinstance(given, str) else list(given))
        text = ResponseOutputText(type="output_text", text=self.answer, annotations=[])
        output = ResponseOutputMessage(
            id=f"msg_fake_{len(self.inputs)}",
            type="message",
            role="assistant",
            status="completed",
            content=[text],
        )
        return ModelResponse(output=[output], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Not used by these tests."""
        raise NotImplementedError


class CountingProvider:
    """A provider wrapper that counts the messages drawn from it, and the orders asked."""

    def __init__(self, inner: ChatHistoryProvider) -> None:
        self.inner = inner
        self.drawn = 0
        self.orders: list[str] = []

    async def messages(
        self,
        conversation_id: str,
        *,
        order: Any = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """The inner provider's messages, counted."""
        self.orders.append(order)
        iterator = self.inner.messages(
            conversation_id, order=order, since=since, until=until, page_size=page_size
        )
        async with contextlib.aclosing(iterator):  # type: ignore[type-var]
            async for item in iterator:
                self.drawn += 1
                yield item


def _texts(items: list[Any]) -> list[str]:
    """The text of each message item (easy input or output message)."""
    texts = []
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.append("".join(part.get("text", "") for part in content))
    return texts


async def test_the_agent_sees_the_vendor_history_then_its_turn() -> None:
    """Runner.run sends the vendor's conversation as input items, then the new user turn."""
    model = EchoModel()
    agent = Agent(name="helper", instructions="Be brief.", model=model)
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        session = BackscrollSession(provider, DOCS_CONVERSATION)
        result = await Runner.run(
            agent, "Which kind dominated?", session=session, run_config=NO_TRACING
        )
    assert result.final_output == "Inbound."
    sent = model.inputs[0]
    assert sent[: len(history)] == to_responses_input(history)
    assert _texts(sent[len(history) :]) == ["Which kind dominated?"]


async def test_new_turns_persist_across_runs_in_the_store() -> None:
    """A second run sees the history, the first turn and its answer; the store holds only turns."""
    model = EchoModel()
    agent = Agent(name="helper", model=model)
    store = SQLiteSession(DOCS_CONVERSATION)
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        session = BackscrollSession(provider, DOCS_CONVERSATION, store=store)
        await Runner.run(agent, "First?", session=session, run_config=NO_TRACING)
        await Runner.run(agent, "Second?", session=session, run_config=NO_TRACING)
        everything = await session.get_items()
    assert _texts(model.inputs[1][len(history) :]) == ["First?", "Inbound.", "Second?"]
    assert _texts(await store.get_items()) == ["First?", "Inbound.", "Second?", "Inbound."]
    assert len(everything) == len(history) + 4


async def test_a_limit_returns_the_latest_items_reading_newest_first() -> None:
    """get_items(limit=N) is the last N items, oldest first; only that many are read."""
    async with Sandbox(seed=0).cursor() as inner:
        history = [m async for m in inner.messages(DOCS_CONVERSATION)]
        provider = CountingProvider(inner)
        session = BackscrollSession(provider, DOCS_CONVERSATION)
        latest = await session.get_items(limit=3)
    assert latest == to_responses_input(history[-3:])
    assert provider.orders == ["desc"]
    assert provider.drawn == 3 < len(history)


async def test_a_limit_counts_added_items_first() -> None:
    """With more added items than the limit, the vendor is not read at all."""
    async with Sandbox(seed=0).cursor() as inner:
        provider = CountingProvider(inner)
        session = BackscrollSession(provider, DOCS_CONVERSATION)
        await session.add_items([{"role": "user", "content": f"turn {i}"} for i in range(3)])
        mixed = await session.get_items(limit=4)
        added_only = await session.get_items(limit=2)
        nothing = await session.get_items(limit=0)
    assert _texts(mixed)[1:] == ["turn 0", "turn 1", "turn 2"]
    assert _texts(added_only) == ["turn 1", "turn 2"]
    assert nothing == []
    assert provider.drawn == 1


async def test_session_settings_limit_reaches_the_model() -> None:
    """SessionSettings(limit=N) on the session gives the model only the latest N items."""
    model = EchoModel()
    agent = Agent(name="helper", model=model)
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        session = BackscrollSession(
            provider, DOCS_CONVERSATION, session_settings=SessionSettings(limit=2)
        )
        await Runner.run(agent, "And now?", session=session, run_config=NO_TRACING)
    assert model.inputs[0][:2] == to_responses_input(history[-2:])
    assert len(model.inputs[0]) == 3


async def test_the_limit_skips_what_is_left_out() -> None:
    """With unmapped='skip', the latest N are N converted items, not N vendor records."""
    messages = [message(0, Role.USER), message(1, Role.UNKNOWN), message(2, Role.ASSISTANT)]
    session = BackscrollSession(ListProvider(messages), "con_1", unmapped="skip")
    assert _texts(await session.get_items(limit=2)) == ["user says 0", "assistant says 2"]


async def test_pop_and_clear_never_touch_the_vendor() -> None:
    """pop_item removes the latest added item, then returns None; clear forgets added items."""
    messages = [message(0, Role.USER), message(1, Role.ASSISTANT)]
    session = BackscrollSession(ListProvider(messages), "con_1")
    await session.add_items([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    popped = await session.pop_item()
    assert popped is not None
    assert _texts([popped]) == ["b"]
    await session.clear_session()
    assert await session.pop_item() is None
    assert _texts(await session.get_items()) == ["user says 0", "assistant says 1"]


async def test_unmapped_error_raises_when_read() -> None:
    """unmapped='error' raises ConversionError naming the message when the history is read."""
    session = BackscrollSession(ListProvider([message(3, Role.TOOL)]), "con_1", unmapped="error")
    with pytest.raises(ConversionError, match="'msg_3'"):
        await session.get_items()


def test_the_session_is_an_agents_session() -> None:
    """The SDK's runtime-checkable Session protocol recognises it; session_id is the id."""
    session = BackscrollSession(ListProvider([]), "con_1")
    assert isinstance(session, Session)
    assert session.session_id == "con_1"
    assert "con_1" in repr(session)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"store": object()}, "store must be an agents session"),
        ({"unmapped": "assistant"}, "unmapped must be one of"),
    ],
)
def test_unusable_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """A store that is not a session, or an unknown unmapped choice, fails at construction."""
    with pytest.raises(ConfigurationError, match=match):
        BackscrollSession(ListProvider([]), "con_1", **kwargs)


def test_a_non_provider_is_refused() -> None:
    """Something that is not a provider fails at construction, naming what it got."""
    with pytest.raises(ConfigurationError, match="got str"):
        BackscrollSession("not a provider", "con_1")  # type: ignore[arg-type]


async def test_a_negative_limit_is_refused() -> None:
    """A negative limit is a ConfigurationError, not an empty answer."""
    with pytest.raises(ConfigurationError, match="limit must be"):
        await BackscrollSession(ListProvider([]), "con_1").get_items(limit=-1)


async def test_over_a_real_socket_two_runs_share_the_history() -> None:
    """End to end over a loopback server: two runs, the second sees the first turn."""
    model = EchoModel()
    agent = Agent(name="helper", model=model)
    sandbox = Sandbox(seed=0)
    async with serving(sandbox) as url, sandbox.cursor(base_url=url) as provider:
        session = BackscrollSession(provider, DOCS_CONVERSATION)
        await Runner.run(agent, "First?", session=session, run_config=NO_TRACING)
        await Runner.run(agent, "Second?", session=session, run_config=NO_TRACING)
    assert _texts(model.inputs[1])[-3:] == ["First?", "Inbound.", "Second?"]


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/openai-agents.md run against the sandbox."""
    assert run_page("openai-agents.md", tmp_path, monkeypatch) >= 2
