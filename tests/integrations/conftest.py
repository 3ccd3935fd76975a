"""Messages of every role, and sandbox providers, as the adapters' tests use them."""

from __future__ import annotations

import pathlib
import unittest
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from backscroll import ConvaiProvider, CursorProvider, Message, Role
from backscroll.sandbox import (
    BASE_URL,
    CONVAI_API_KEY,
    CONVAI_CHARACTER_ID,
    CURSOR_API_KEY,
    Sandbox,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

START = datetime(2026, 3, 15, 13, 59, 11, tzinfo=UTC)
#: The sandbox's copy of the conversation the cursor-API document shows.
DOCS_CONVERSATION = "con_9s2kd81"
PAGES = pathlib.Path(__file__).parents[2] / "docs" / "integrations"


def run_page(name: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """
    Run the python blocks of ``docs/integrations/<name>`` in order, in one namespace.

    Offline, against the sandbox, in a scratch directory; returns how many ran (blocks
    after ``<!-- skip: next -->`` need a real vendor or a framework not installed).
    """
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    for variable in ("CONVAI_API_KEY", "TALKIFAI_TOKEN", "EXAMPLE_AI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    ran = 0
    for example in (
        Sybil(parsers=[PythonCodeBlockParser(), SkipParser()]).parse(PAGES / name).examples()
    ):
        try:
            example.evaluate()
        except unittest.SkipTest:
            continue
        ran += 1
    return ran


def cursor(sandbox: Sandbox) -> CursorProvider:
    """
    A cursor-API provider on the sandbox, in-process, outside any ``async with``.

    For code that cannot enter the sandbox's async context managers (synchronous tests);
    the in-process client holds no sockets, so it needs no closing beyond the provider's.
    """
    return CursorProvider(
        api_key=CURSOR_API_KEY, base_url=f"{BASE_URL}/cursor/v1", http_client=sandbox.client()
    )


def convai(sandbox: Sandbox) -> ConvaiProvider:
    """A Convai provider on the sandbox, in-process, outside any ``async with``."""
    return ConvaiProvider(
        api_key=CONVAI_API_KEY,
        character_id=CONVAI_CHARACTER_ID,
        base_url=f"{BASE_URL}/convai",
        http_client=sandbox.client(),
    )


def message(
    index: int,
    role: Role,
    content: str | None = None,
    *,
    sender_id: str | None = None,
    created_at: datetime | None = START,
) -> Message:
    """The *index*-th message of conversation ``con_1``, one second after the previous."""
    return Message(
        id=f"msg_{index}",
        conversation_id="con_1",
        role=role,
        content=f"{role.value} says {index}" if content is None else content,
        created_at=None if created_at is None else created_at + timedelta(seconds=index),
        provider="cursor",
        sender_id=sender_id,
    )


@pytest.fixture
def every_role() -> list[Message]:
    """One message of each role, system first, in conversation order."""
    return [
        message(0, Role.SYSTEM, "Be brief."),
        message(1, Role.USER, "Hey, can you summarize today's calls?", sender_id="usr_82hd92"),
        message(2, Role.ASSISTANT, "12 inbound, 5 outbound.", sender_id="ai_default_bot"),
        message(3, Role.TOOL, '{"calls": 17}'),
        message(4, Role.UNKNOWN, "Narrator: the day ends."),
    ]


class ListProvider:
    """A provider over a fixed list of messages, in either order, honouring since/until."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages_given = messages

    async def messages(
        self,
        conversation_id: str,
        *,
        order: Any = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """The messages of *conversation_id*, oldest or newest first."""
        del page_size  # one page holds them all
        chosen = [
            m
            for m in self.messages_given
            if m.conversation_id == conversation_id
            and (since is None or (m.created_at is not None and m.created_at >= since))
            and (until is None or (m.created_at is not None and m.created_at < until))
        ]
        for item in chosen if order == "asc" else chosen[::-1]:
            yield item
