"""pydantic-ai: model messages an Agent continues, on the real package."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("pydantic_ai", reason="needs the pydantic-ai extra (nox -s integrations)")

from pydantic_ai import Agent
from pydantic_ai.conversation_store import InMemoryConversationStore
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from backscroll import ConversionError, Message, Role
from backscroll.integrations.pydantic_ai import aload_conversation, to_model_messages
from backscroll.sandbox import Sandbox

from .conftest import DOCS_CONVERSATION, message, run_page

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


def _text(model_message: ModelMessage) -> str:
    part = model_message.parts[0]
    assert isinstance(part, UserPromptPart | SystemPromptPart | TextPart)
    assert isinstance(part.content, str)
    return part.content


def test_every_role_maps_as_documented(every_role: list[Message]) -> None:
    """System and user become requests, assistant a response, tool and unknown user prompts."""
    converted = to_model_messages(every_role)
    assert [(type(m), type(m.parts[0])) for m in converted] == [
        (ModelRequest, SystemPromptPart),
        (ModelRequest, UserPromptPart),
        (ModelResponse, TextPart),
        (ModelRequest, UserPromptPart),
        (ModelRequest, UserPromptPart),
    ]


def test_content_order_and_timestamps_are_kept(every_role: list[Message]) -> None:
    """One model message per message, same order and text; its time on message and part."""
    converted = to_model_messages(every_role)
    assert [_text(m) for m in converted] == [m.content for m in every_role]
    for original, result in zip(every_role, converted, strict=True):
        assert result.timestamp == original.created_at
        part = result.parts[0]
        assert isinstance(part, UserPromptPart | SystemPromptPart) or result.kind == "response"
        if isinstance(part, UserPromptPart | SystemPromptPart):
            assert part.timestamp == original.created_at


def test_provenance_is_in_metadata(every_role: list[Message]) -> None:
    """metadata['backscroll'] holds the id, conversation, provider, original role and time."""
    converted = to_model_messages(every_role)
    assert converted[4].metadata is not None
    assert converted[4].metadata["backscroll"] == {
        "id": "msg_4",
        "conversation_id": "con_1",
        "provider": "cursor",
        "role": "unknown",
        "created_at": every_role[4].created_at.isoformat() if every_role[4].created_at else None,
        "sender_id": None,
    }


def test_a_message_without_time_leaves_the_request_timestamp_unset() -> None:
    """No created_at: ModelRequest.timestamp stays None, provenance says None."""
    [request] = to_model_messages([message(0, Role.USER, created_at=None)])
    assert isinstance(request, ModelRequest)
    assert request.timestamp is None
    assert request.metadata is not None
    assert request.metadata["backscroll"]["created_at"] is None


def test_unmapped_skip_and_error(every_role: list[Message]) -> None:
    """unmapped='skip' drops tool and unknown; unmapped='error' refuses them."""
    assert len(to_model_messages(every_role, unmapped="skip")) == 3
    with pytest.raises(ConversionError, match="'unknown'"):
        to_model_messages(every_role[4:], unmapped="error")


def test_drop_empty_leaves_out_blank_messages() -> None:
    """Blank content is left out only when asked."""
    blank = [message(0, Role.USER, "  "), message(1, Role.ASSISTANT, "ok")]
    assert len(to_model_messages(blank)) == 2
    assert [_text(m) for m in to_model_messages(blank, drop_empty=True)] == ["ok"]


def test_history_round_trips_through_pydantic_ais_adapter(every_role: list[Message]) -> None:
    """ModelMessagesTypeAdapter stores and loads the converted history unchanged."""
    converted = to_model_messages(every_role)
    loaded = ModelMessagesTypeAdapter.validate_json(ModelMessagesTypeAdapter.dump_json(converted))
    assert loaded == converted


# pydantic-ai's Agent runs on asyncio only (it creates asyncio tasks); converting works anywhere.
@pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])
async def test_an_agent_continues_a_sandbox_conversation() -> None:
    """An Agent given the sandbox history sends it, in order, before the new prompt."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
    seen: list[list[ModelMessage]] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        del info
        seen.append(messages)
        return ModelResponse(parts=[TextPart("Mostly inbound.")])

    agent = Agent(FunctionModel(answer))
    result = await agent.run("Which kind dominated?", message_history=to_model_messages(history))
    assert result.output == "Mostly inbound."
    sent = [
        part.content
        for model_message in seen[0]
        for part in model_message.parts
        if isinstance(part, UserPromptPart | TextPart | SystemPromptPart)
    ]
    assert sent == [m.content for m in history] + ["Which kind dominated?"]
    assert result.all_messages()[-1].timestamp > history[-1].created_at  # type: ignore[operator]


@pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])
async def test_test_model_runs_on_the_history(every_role: list[Message]) -> None:
    """TestModel runs on a history of every role; pydantic-ai keeps every part, in order."""
    result = await Agent(TestModel()).run("go on", message_history=to_model_messages(every_role))
    assert isinstance(result.output, str)
    # pydantic-ai merges consecutive requests, so compare the parts, not the messages.
    parts = [
        (part.content, part.timestamp)
        for model_message in result.all_messages()
        for part in model_message.parts
        if isinstance(part, UserPromptPart | SystemPromptPart)
    ]
    expected = [(m.content, m.created_at) for m in every_role if m.role is not Role.ASSISTANT]
    assert parts[: len(expected)] == expected
    assert parts[-1][0] == "go on"
    assert datetime.now(UTC) >= parts[-1][1]


def test_every_model_message_carries_the_vendors_conversation_id(
    every_role: list[Message],
) -> None:
    """Each request and response has conversation_id set to the vendor's id."""
    assert {m.conversation_id for m in to_model_messages(every_role)} == {"con_1"}


@pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])
async def test_a_run_on_the_history_keeps_the_vendors_conversation_id() -> None:
    """message_history= alone: the run's new messages carry the vendor's id, not a fresh one."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
    result = await Agent(TestModel()).run("go on", message_history=to_model_messages(history))
    assert {m.conversation_id for m in result.new_messages()} == {DOCS_CONVERSATION}


@pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])
async def test_a_loaded_conversation_runs_and_saves_under_the_vendors_id() -> None:
    """aload_conversation feeds run(conversation=...); a ConversationStore saves it by that id."""
    store = InMemoryConversationStore()
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        conversation = await aload_conversation(provider, DOCS_CONVERSATION)
    assert conversation.conversation_id == DOCS_CONVERSATION
    assert conversation.messages == to_model_messages(history)
    first = await Agent(TestModel()).run("first?", conversation=conversation)
    assert first.conversation.conversation_id == DOCS_CONVERSATION
    await store.save(first)
    again = await store.load(DOCS_CONVERSATION)
    assert again is not None
    second = await Agent(TestModel()).run("second?", conversation=again)
    await store.save(second)
    kept = await store.load(DOCS_CONVERSATION)
    assert kept is not None
    # pydantic-ai merges consecutive requests (and responses) as it runs: compare the parts.
    texts = [
        part.content
        for model_message in kept.messages
        for part in model_message.parts
        if isinstance(part, UserPromptPart | TextPart)
    ]
    assert texts[: len(history)] == [m.content for m in history]
    assert texts[len(history) :: 2] == ["first?", "second?"]


async def test_a_loaded_conversation_can_keep_only_the_newest() -> None:
    """max_messages keeps the newest few, oldest first; converting works on trio as well."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        conversation = await aload_conversation(provider, DOCS_CONVERSATION, max_messages=2)
    assert conversation.messages == to_model_messages(history[-2:])


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/pydantic-ai.md run, offline, against the sandbox."""
    assert run_page("pydantic-ai.md", tmp_path, monkeypatch) >= 2
