"""
The OpenAI examples of docs/integrations/openai.md, type-checked against openai's own types.

Never run, only checked: ``nox -s typecheck`` runs ``mypy --strict`` over this file with the
real ``openai`` package installed (the ``openai`` extra). Each function holds one documented
example, character for character (tests/integrations/test_openai.py checks that), so a
change to the return types of `to_openai_messages` or `to_responses_input` that would break
the documented code fails the type check. The ``type: ignore`` lines prove the types still
reject what openai rejects: mypy's ``warn_unused_ignores`` (part of ``--strict``) fails the
check if one of them stops being an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_type

from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import ResponseInputItemParam

from backscroll.integrations.openai import to_openai_messages, to_responses_input

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    from backscroll import ChatHistoryProvider


async def chat_completions(client: AsyncOpenAI, provider: ChatHistoryProvider) -> ChatCompletion:
    """The chat-completions example: the history, then a new user turn."""
    history = [m async for m in provider.messages("con_9s2kd81")]
    messages = to_openai_messages(history, names=True)
    # --- docs: chat-completions
    completion = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[*messages, {"role": "user", "content": "Which kind dominated?"}],
    )
    # --- end
    return completion  # noqa: RET504 - the page binds the result, as users do


async def responses(client: AsyncOpenAI, provider: ChatHistoryProvider) -> Response:
    """The Responses example: input items, then a new user turn."""
    history = [m async for m in provider.messages("con_9s2kd81")]
    # --- docs: responses
    response = await client.responses.create(
        model="gpt-4o-mini",
        input=[*to_responses_input(history), {"role": "user", "content": "Which kind dominated?"}],
    )
    # --- end
    return response  # noqa: RET504 - the page binds the result, as users do


def the_types_are_openai_own() -> None:
    """Both helpers return openai's own types, and those types still reject a wrong role."""
    assert_type(to_openai_messages([]), list[ChatCompletionMessageParam])
    assert_type(to_responses_input([]), list[ResponseInputItemParam])
    wrong: list[ChatCompletionMessageParam] = [
        *to_openai_messages([]),
        {"role": "human", "content": "not a role openai knows"},  # type: ignore[misc,list-item]
    ]
    del wrong
