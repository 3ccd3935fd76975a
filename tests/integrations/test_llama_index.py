"""LlamaIndex: ChatMessage lists for memory and chat engines, on the real package."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("llama_index.core", reason="needs the llama-index extra (nox -s integrations)")

from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import ChatMessage, MessageRole, MockLLM
from llama_index.core.memory import Memory

from backscroll import ConfigurationError, ConversionError, Message, Role
from backscroll.integrations.llama_index import aload_memory, to_chat_messages
from backscroll.sandbox import Sandbox

from .conftest import DOCS_CONVERSATION, message, run_page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [
    pytest.mark.anyio,
    # LlamaIndex's Memory opens an aiosqlite connection for its default in-memory store and
    # offers no way to close it; aiosqlite reports that when the connection is collected.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <function Connection.__del__"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]


def _words(text: str) -> list[str]:
    """A tokenizer that needs no download (LlamaIndex's default fetches tiktoken data)."""
    return text.split()


def test_every_role_maps_as_documented(every_role: list[Message]) -> None:
    """System, user and assistant keep their role; tool and unknown become USER."""
    assert [m.role for m in to_chat_messages(every_role)] == [
        MessageRole.SYSTEM,
        MessageRole.USER,
        MessageRole.ASSISTANT,
        MessageRole.USER,
        MessageRole.USER,
    ]


def test_content_and_order_are_kept(every_role: list[Message]) -> None:
    """One ChatMessage per message, in order, with the same text and nothing else by default."""
    converted = to_chat_messages(every_role)
    assert [m.content for m in converted] == [m.content for m in every_role]
    assert all(m.additional_kwargs == {} for m in converted)


def test_provenance_carries_ids_and_timestamps(every_role: list[Message]) -> None:
    """provenance=True adds the id, original role and ISO time under 'backscroll'."""
    converted = to_chat_messages(every_role, provenance=True)
    for original, result in zip(every_role, converted, strict=True):
        assert original.created_at is not None
        origin = result.additional_kwargs["backscroll"]
        assert (origin["id"], origin["role"], origin["created_at"]) == (
            original.id,
            original.role.value,
            original.created_at.isoformat(),
        )


def test_unmapped_skip_and_error(every_role: list[Message]) -> None:
    """unmapped='skip' drops tool and unknown; unmapped='error' refuses them."""
    assert len(to_chat_messages(every_role, unmapped="skip")) == 3
    with pytest.raises(ConversionError, match="'tool'"):
        to_chat_messages(every_role[3:], unmapped="error")


def test_drop_empty_leaves_out_blank_messages() -> None:
    """Blank content is left out only when asked."""
    blank = [message(0, Role.USER, "\n"), message(1, Role.ASSISTANT, "ok")]
    assert len(to_chat_messages(blank)) == 2
    assert [m.content for m in to_chat_messages(blank, drop_empty=True)] == ["ok"]


def test_messages_survive_llama_index_serialisation(every_role: list[Message]) -> None:
    """ChatMessage's own dump and validate round-trip the converted messages."""
    converted = to_chat_messages(every_role, provenance=True)
    assert [ChatMessage.model_validate(m.model_dump()) for m in converted] == converted


@pytest.fixture(autouse=True)
def collect_memories() -> Iterator[None]:
    """Collect this test's Memory objects now, while its warning filter still applies."""
    yield
    gc.collect()


@pytest.fixture
def anyio_backend() -> str:
    """LlamaIndex's Memory keeps its messages in an asyncio SQLAlchemy store."""
    return "asyncio"


async def test_a_loaded_memory_holds_the_whole_history() -> None:
    """aload_memory fills a new Memory, whose session id is the conversation id."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        memory = await aload_memory(provider, DOCS_CONVERSATION)
    assert isinstance(memory, Memory)
    assert memory.session_id == DOCS_CONVERSATION
    assert await memory.aget_all() == to_chat_messages(history)


async def test_a_given_memory_gets_the_newest_messages_after_its_own() -> None:
    """With memory= and max_messages=, the newest few are added after what it held."""
    own = Memory.from_defaults(session_id="mine", token_limit=100_000)
    await own.aput(ChatMessage(role=MessageRole.SYSTEM, content="Be brief."))
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        memory = await aload_memory(provider, DOCS_CONVERSATION, memory=own, max_messages=2)
    assert memory is own
    assert [m.content for m in await memory.aget_all()] == [
        "Be brief.",
        *(m.content for m in history[-2:]),
    ]


async def test_a_chat_engine_continues_a_sandbox_conversation() -> None:
    """A chat engine on the loaded Memory puts the history, in order, before the question."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages(DOCS_CONVERSATION)]
        memory = await aload_memory(
            provider,
            DOCS_CONVERSATION,
            memory=Memory.from_defaults(
                session_id=DOCS_CONVERSATION, token_limit=100_000, tokenizer_fn=_words
            ),
        )
    # MockLLM answers with the prompt it was given: the history as LlamaIndex renders it.
    engine = SimpleChatEngine.from_defaults(llm=MockLLM(), memory=memory)
    prompt = str(await engine.achat("Which kind dominated?"))
    assert prompt.endswith(
        "user: Hey, can you summarize today's calls?\n"
        "assistant: Sure, you had 12 inbound and 5 outbound calls today.\n"
        "user: Which kind dominated?\n"
        "assistant: "
    )
    assert prompt.count("\n") >= len(history)
    assert len(await memory.aget_all()) == len(history) + 2


async def test_a_memory_of_another_kind_is_refused() -> None:
    """memory= must be a Memory: a ChatMessage list or a buffer is a ConfigurationError."""
    async with Sandbox(seed=0).cursor() as provider:
        with pytest.raises(ConfigurationError, match="memory must be"):
            await aload_memory(provider, DOCS_CONVERSATION, memory=[])  # type: ignore[arg-type]


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/llama-index.md run, offline, against the sandbox."""
    assert run_page("llama-index.md", tmp_path, monkeypatch) >= 2
