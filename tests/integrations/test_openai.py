"""The OpenAI formats: no extra needed, every role mapped as documented, openai accepts them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from backscroll import ConfigurationError, ConversionError, Message, Role
from backscroll.integrations.openai import to_openai_messages, to_responses_input
from backscroll.sandbox import Sandbox

from .conftest import PAGES, message, run_page

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

pytestmark = pytest.mark.anyio


def test_every_role_maps_as_documented(every_role: list[Message]) -> None:
    """System, user and assistant keep their role; tool and unknown are sent as the user."""
    assert [m["role"] for m in to_openai_messages(every_role)] == [
        "system",
        "user",
        "assistant",
        "user",
        "user",
    ]


def test_content_and_order_are_kept(every_role: list[Message]) -> None:
    """Each dict holds exactly role and content, in the order given, content untouched."""
    converted = to_openai_messages(every_role)
    assert [m["content"] for m in converted] == [m.content for m in every_role]
    assert all(set(m) == {"role", "content"} for m in converted)


def test_reversed_input_gives_reversed_output(every_role: list[Message]) -> None:
    """The adapter never sorts: newest-first input stays newest first."""
    assert to_openai_messages(every_role[::-1]) == to_openai_messages(every_role)[::-1]


def test_unmapped_skip_leaves_tool_and_unknown_out(every_role: list[Message]) -> None:
    """unmapped='skip' drops exactly the tool and unknown messages."""
    converted = to_openai_messages(every_role, unmapped="skip")
    assert [m["content"] for m in converted] == [m.content for m in every_role[:3]]


@pytest.mark.parametrize("role", [Role.TOOL, Role.UNKNOWN])
def test_unmapped_error_names_the_message_and_role(role: Role) -> None:
    """unmapped='error' raises a ConversionError naming the message id and its role."""
    with pytest.raises(ConversionError, match=rf"'msg_7'.*'{role.value}'.*unmapped="):
        to_openai_messages([message(7, role)], unmapped="error")


def test_unknown_unmapped_choice_is_a_configuration_error() -> None:
    """An unmapped value outside the three choices raises before converting anything."""
    with pytest.raises(ConfigurationError, match="unmapped must be one of"):
        to_openai_messages([], unmapped="assistant")  # type: ignore[arg-type]


def test_names_come_from_sender_ids(every_role: list[Message]) -> None:
    """names=True adds the sender id as the name, and no name where there is none."""
    converted = to_openai_messages(every_role, names=True)
    assert [m.get("name") for m in converted] == [None, "usr_82hd92", "ai_default_bot", None, None]


def test_names_callable_is_cleaned_to_openai_alphabet() -> None:
    """A names function's result is reduced to [A-Za-z0-9_-], at most 64 characters."""
    converted = to_openai_messages(
        [message(0, Role.USER), message(1, Role.USER, sender_id="x")],
        names=lambda m: "Ada Lovelace <ada@example.org>" if m.sender_id is None else "é" * 100,
    )
    assert converted[0].get("name") == "Ada_Lovelace_ada_example_org"
    assert "name" not in converted[1]  # nothing left after cleaning


def test_names_callable_returning_none_adds_no_name() -> None:
    """A names function may decline with None."""
    assert to_openai_messages([message(0, Role.USER)], names=lambda _: None) == [
        {"role": "user", "content": "user says 0"}
    ]


def test_names_of_the_wrong_type_are_a_configuration_error() -> None:
    """The names option takes a bool or a callable returning a string or None."""
    with pytest.raises(ConfigurationError, match="names must be a bool or a callable"):
        to_openai_messages([message(0, Role.USER)], names="sender")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="must return a string or None"):
        to_openai_messages([message(0, Role.USER)], names=lambda _: 42)  # type: ignore[arg-type,return-value]


def test_drop_empty_leaves_out_blank_messages_only() -> None:
    """drop_empty removes empty and whitespace-only content and keeps everything else."""
    messages = [
        message(0, Role.USER, ""),
        message(1, Role.ASSISTANT, " \n\t"),
        message(2, Role.USER, " ok "),
    ]
    assert len(to_openai_messages(messages)) == 3
    assert to_openai_messages(messages, drop_empty=True) == [{"role": "user", "content": " ok "}]


async def test_an_unread_async_iterator_is_refused() -> None:
    """Passing provider.messages(...) itself says how to read it first."""

    async def unread() -> AsyncGenerator[Message, None]:
        yield message(0, Role.USER)

    iterator = unread()
    with pytest.raises(ConfigurationError, match=r"async for m in provider\.messages"):
        to_openai_messages(iterator)  # type: ignore[arg-type]
    await iterator.aclose()


def test_items_that_are_not_messages_are_refused() -> None:
    """Dicts (say, from to_dict) are not messages: the error says what was given."""
    with pytest.raises(ConfigurationError, match="got dict"):
        to_openai_messages([{"role": "user", "content": "hi"}])  # type: ignore[list-item]


async def test_sandbox_conversation_end_to_end() -> None:
    """A cursor-API conversation from the sandbox becomes valid, JSON-ready OpenAI messages."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages("con_9s2kd81")]
    converted = to_openai_messages(history, names=True)
    assert len(converted) == len(history)
    assert json.loads(json.dumps(converted)) == converted
    assert {m["role"] for m in converted} <= {"system", "user", "assistant"}
    assert converted[-2:] == [
        {
            "role": "user",
            "content": "Hey, can you summarize today's calls?",
            "name": "usr_82hd92",
        },
        {
            "role": "assistant",
            "content": "Sure, you had 12 inbound and 5 outbound calls today.",
            "name": "ai_default_bot",
        },
    ]


def test_the_documentation_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks of docs/integrations/openai.md run, offline, against the sandbox."""
    assert run_page("openai.md", tmp_path, monkeypatch) >= 2


# -- to_responses_input ----------------------------------------------------------------


def test_responses_items_map_every_role_as_documented(every_role: list[Message]) -> None:
    """Each item is an easy input message; tool and unknown speakers are sent as the user."""
    items = to_responses_input(every_role)
    assert [(i.get("type"), i.get("role")) for i in items] == [
        ("message", "system"),
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "user"),
    ]
    assert [i.get("content") for i in items] == [m.content for m in every_role]


def test_responses_items_follow_unmapped_and_drop_empty(every_role: list[Message]) -> None:
    """unmapped='skip' and drop_empty=True leave out what they say, as for chat messages."""
    blank = message(5, Role.USER, "  ")
    items = to_responses_input([*every_role, blank], unmapped="skip", drop_empty=True)
    assert [i.get("content") for i in items] == [m.content for m in every_role[:3]]
    with pytest.raises(ConversionError, match="to_responses_input cannot express"):
        to_responses_input(every_role, unmapped="error")


# -- the real openai client ------------------------------------------------------------


def _openai_client(seen: list[dict[str, Any]], answer: dict[str, Any]) -> Any:
    """An openai AsyncOpenAI whose requests go to a handler that keeps their JSON bodies."""
    openai = pytest.importorskip("openai", reason="needs the openai extra (nox -s integrations)")

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=answer)

    return openai.AsyncOpenAI(
        api_key="sk-test",
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
        max_retries=0,
    )


_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1773583151,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Inbound."},
        }
    ],
}
_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1773583151,
    "model": "gpt-4o-mini",
    "status": "completed",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Inbound.", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}


async def test_openai_sends_the_sandbox_history_as_chat_messages() -> None:
    """The real openai client sends the converted sandbox history, then the new turn, as is."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages("con_9s2kd81")]
    seen: list[dict[str, Any]] = []
    client = _openai_client(seen, _COMPLETION)
    messages = to_openai_messages(history, names=True)
    async with client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[*messages, {"role": "user", "content": "Which kind dominated?"}],
        )
    assert completion.choices[0].message.content == "Inbound."
    assert seen[0]["messages"] == [*messages, {"role": "user", "content": "Which kind dominated?"}]


async def test_openai_sends_the_sandbox_history_as_responses_input() -> None:
    """The real openai client sends the Responses input items unchanged."""
    async with Sandbox(seed=0).cursor() as provider:
        history = [m async for m in provider.messages("con_9s2kd81")]
    seen: list[dict[str, Any]] = []
    client = _openai_client(seen, _RESPONSE)
    items = to_responses_input(history)
    async with client:
        response = await client.responses.create(model="gpt-4o-mini", input=items)
    assert response.output_text == "Inbound."
    assert seen[0]["input"] == items
    assert len(items) == len(history)


def test_the_typechecked_examples_are_the_documented_ones() -> None:
    """Each example that tests/typing/check_openai.py type-checks is on the page, verbatim."""
    checked = (Path(__file__).parents[1] / "typing" / "check_openai.py").read_text("utf-8")
    page = (PAGES / "openai.md").read_text("utf-8")
    blocks = re.findall(r"# --- docs: [a-z-]+\n(.*?)\n *# --- end", checked, re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        assert f"```python\n{textwrap.dedent(block)}\n```" in page
