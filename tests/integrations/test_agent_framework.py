"""Microsoft Agent Framework: BackscrollHistoryProvider under a real Agent, fake chat client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip(
    "agent_framework", reason="needs the agent-framework extra (nox -s integrations)"
)

from agent_framework import (
    Agent,
    AgentSession,
    BaseChatClient,
    ChatResponse,
    HistoryProvider,
    InMemoryHistoryProvider,
)
from agent_framework import Message as AgentMessage

from backscroll import ConfigurationError, ConversionError, Message, Role
from backscroll.integrations.agent_framework import BackscrollHistoryProvider, to_agent_messages
from backscroll.sandbox import Sandbox, serving

from .conftest import DOCS_CONVERSATION, ListProvider, message, run_page

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Agent Framework runs on asyncio."""
    return "asyncio"


class EchoClient(BaseChatClient):
    """A fake chat client: answers with a fixed text and keeps the messages it was sent."""

    def __init__(self, answer: str = "Inbound.") -> None:
        super().__init__()
        self.answer = answer
        self.sent: list[list[AgentMessage]] = []

    async def _respond(self, messages: Sequence[AgentMessage]) -> ChatResponse:
        self.sent.append(list(messages))
        return ChatResponse(messages=[AgentMessage("assistant", [self.answer])])

    def _inner_get_response(
        self,
        *,
        messages: Sequence[AgentMessage],
        stream: bool,
        options: Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        """Answer, without streaming."""
        del options, kwargs
        assert not stream
        return self._respond(messages)


def _texts(messages: Sequence[AgentMessage]) -> list[str]:
    return [m.text for m in messages if m.role != "system"]


def test_every_field_maps_onto_the_framework_message(every_role: list[Message]) -> None:
    """Role, text, id, sender, provenance and the message itself land where documented."""
    converted = to_agent_messages(every_role)
    assert [m.role for m in converted] == ["system", "user", "assistant", "user", "user"]
    assert [m.text for m in converted] == [m.content for m in every_role]
    assert [m.message_id for m in converted] == [m.id for m in every_role]
    assert converted[1].author_name == "usr_82hd92"
    origin = converted[3].additional_properties["backscroll"]
    assert origin["role"] == "tool"
    assert origin["created_at"] == every_role[3].created_at.isoformat()  # type: ignore[union-attr]
    assert origin["metadata"] == {}
    assert converted[2].raw_representation is every_role[2]


def test_unmapped_follows_the_shared_policy(every_role: list[Message]) -> None:
    """unmapped='skip' leaves tool and unknown out; 'error' names the message."""
    assert len(to_agent_messages(every_role, unmapped="skip")) == 3
    with pytest.raises(ConversionError, match="'msg_3'"):
        to_agent_messages(every_role, unmapped="error")


async def test_the_agent_sees_the_vendor_history_then_its_turn() -> None:
    """A real Agent run sends the vendor's conversation, then the new prompt, to the client."""
    client = EchoClient()
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        agent = Agent(client=client, context_providers=[BackscrollHistoryProvider(provider)])
        session = agent.create_session(session_id=DOCS_CONVERSATION)
        response = await agent.run("Which kind dominated?", session=session)
    assert response.text == "Inbound."
    assert _texts(client.sent[0]) == [*(m.content for m in history), "Which kind dominated?"]


async def test_new_turns_persist_across_runs_and_serialised_sessions() -> None:
    """The second run sees the first turn; the turns travel with session.to_dict()."""
    client = EchoClient()
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        agent = Agent(client=client, context_providers=[BackscrollHistoryProvider(provider)])
        session = agent.create_session(session_id=DOCS_CONVERSATION)
        await agent.run("First?", session=session)
        restored = AgentSession.from_dict(session.to_dict())
        await agent.run("Second?", session=restored)
    assert _texts(client.sent[1])[len(history) :] == ["First?", "Inbound.", "Second?"]


async def test_a_given_store_keeps_the_turns_and_the_vendor_only_is_read() -> None:
    """save_messages goes to store=; get_messages puts the vendor's history before it."""
    store = InMemoryHistoryProvider()
    state: dict[str, Any] = {}
    backscroll = BackscrollHistoryProvider(
        ListProvider([message(0, Role.USER), message(1, Role.ASSISTANT)]), store=store
    )
    await backscroll.save_messages("con_1", [AgentMessage("user", ["later"])], state=state)
    assert [m.text for m in await store.get_messages("con_1", state=state)] == ["later"]
    got = await backscroll.get_messages("con_1", state=state)
    assert [m.text for m in got] == ["user says 0", "assistant says 1", "later"]


async def test_max_messages_keeps_the_newest() -> None:
    """max_messages reads only the newest vendor messages, oldest first."""
    provider = ListProvider([message(i, Role.USER) for i in range(5)])
    got = await BackscrollHistoryProvider(provider, max_messages=2).get_messages("con_1")
    assert [m.text for m in got] == ["user says 3", "user says 4"]


async def test_a_session_without_an_id_is_refused() -> None:
    """The session id names the conversation: without one, a ConfigurationError says so."""
    with pytest.raises(ConfigurationError, match="session_id="):
        await BackscrollHistoryProvider(ListProvider([])).get_messages(None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"store": object()}, "store must be"),
        ({"max_messages": 0}, "max_messages"),
        ({"unmapped": "assistant"}, "unmapped must be one of"),
    ],
)
def test_unusable_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """A bad store, limit or unmapped choice fails at construction."""
    with pytest.raises(ConfigurationError, match=match):
        BackscrollHistoryProvider(ListProvider([]), **kwargs)


def test_it_is_a_history_provider() -> None:
    """The framework sees a HistoryProvider with its own source id."""
    provider = BackscrollHistoryProvider(ListProvider([]))
    assert isinstance(provider, HistoryProvider)
    assert provider.source_id == "backscroll"
    assert "store=" in repr(provider)


async def test_over_a_real_socket_two_runs_share_the_history() -> None:
    """End to end over a loopback server: the second run sees the vendor history and turn one."""
    client = EchoClient()
    sandbox = Sandbox(seed=0)
    async with serving(sandbox) as url, sandbox.cursor(base_url=url) as provider:
        agent = Agent(client=client, context_providers=[BackscrollHistoryProvider(provider)])
        session = agent.create_session(session_id=DOCS_CONVERSATION)
        await agent.run("First?", session=session)
        await agent.run("Second?", session=session)
    assert _texts(client.sent[1])[-3:] == ["First?", "Inbound.", "Second?"]


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/agent-framework.md run against the sandbox."""
    assert run_page("agent-framework.md", tmp_path, monkeypatch) >= 1
