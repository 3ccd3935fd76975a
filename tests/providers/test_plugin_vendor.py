"""
A vendor from outside backscroll, by its entry point: the same exactly-once sweep.

tests/plugin_vendor is a separate package (``tokenchat-backscroll``) that registers a
token-paged vendor under ``backscroll.vendors``, as a user's package would; the test
environment installs it. Nothing in backscroll names it.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenchat_backscroll.fake import TokenChatFake, TokenChatQuirks
from tokenchat_backscroll.provider import TokenChatProvider

import backscroll
from backscroll import Message, Role
from backscroll.errors import AuthenticationError, ConfigurationError
from backscroll.sandbox import Faults, Sandbox

from .test_paging_properties import SETTINGS, orders, page_sizes, read, read_against_truth, windows

if TYPE_CHECKING:
    from backscroll import Order

pytestmark = pytest.mark.anyio

quirks = st.sampled_from(
    [
        TokenChatQuirks(),
        TokenChatQuirks(overlap=True),
        TokenChatQuirks(stale_every=2),
        TokenChatQuirks(stale_every=3, overlap=True),
    ]
)


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    """backscroll.vendors() lists the plugin after the built-ins, from its distribution."""
    vendor = backscroll.vendors()["tokenchat"]

    assert vendor.provider is TokenChatProvider
    assert vendor.distribution == "tokenchat-backscroll"
    assert not vendor.lists_conversations
    assert not vendor.deletes_conversations


def test_the_sandbox_serves_the_plugin_fake() -> None:
    """Every sandbox serves the plugin's fake beside the built-ins, fault targets included."""
    sandbox = Sandbox(faults={"tokenchat/messages": Faults(rate=0.5)})

    assert isinstance(sandbox.fakes["tokenchat"], TokenChatFake)
    assert "tokenchat/messages" in sandbox.faults


@SETTINGS
@given(
    size=st.integers(0, 180),
    burst_rate=st.sampled_from([0.0, 0.3, 1.0]),
    page_size=page_sizes,
    order=orders,
    window=windows,
    quirk=quirks,
)
async def test_tokenchat_exactly_once(  # noqa: PLR0917 - one argument per drawn dimension
    size: int,
    burst_rate: float,
    page_size: int | None,
    order: Order,
    window: tuple[float, float] | None,
    quirk: TokenChatQuirks,
) -> None:
    """tokenchat: each message once, in order, inside the window, despite the quirk."""
    factory = functools.partial(TokenChatFake, sizes=(size,), burst_rate=burst_rate, quirks=quirk)
    sandbox = Sandbox(
        convai_sizes=(), talkifai_sizes=(), cursor_sizes=(), fakes={"tokenchat": factory}
    )
    fake = sandbox.fakes["tokenchat"]
    assert isinstance(fake, TokenChatFake)
    (conversation_id,) = fake.store.conversation_ids()
    got, want = await read_against_truth(
        sandbox, "tokenchat", conversation_id, order=order, window=window, page_size=page_size
    )
    assert got == want


async def test_users_messages_load_into_the_plugin_fake() -> None:
    """add_messages(vendor="tokenchat") writes through the plugin's store; they read back."""
    sandbox = Sandbox()
    at = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    given_messages = [
        Message(
            id=f"mine-{n}",
            conversation_id="mine",
            role=role,
            content=f"line {n}",
            created_at=at,
            provider="cursor",
        )
        for n, role in enumerate([Role.USER, Role.ASSISTANT, Role.SYSTEM])
    ]

    assert sandbox.data.add_messages(given_messages, vendor="tokenchat") == ["mine"]
    assert sandbox.fakes["tokenchat"].store.message_count() == 1 + 49 + 50 + 51 + 130 + 3
    async with sandbox.provider("tokenchat") as provider:
        back = await read(provider, "mine", "asc", None, None, None)
    assert [(m.id, m.role, m.content, m.created_at) for m in back] == [
        ("mine-0", Role.USER, "line 0", at),
        ("mine-1", Role.ASSISTANT, "line 1", at),
        ("mine-2", Role.UNKNOWN, "line 2", at),
    ]


def test_options_of_another_vendors_store_are_refused_for_the_plugin() -> None:
    """character_id= is the Convai store's: given for the plugin, the error names its taker."""
    sandbox = Sandbox()
    with pytest.raises(ConfigurationError, match="character_id is for convai only"):
        sandbox.data.add_records("tokenchat", "mine", [], character_id="c")
    assert not sandbox.data.store("tokenchat").holds("mine")


async def test_a_wrong_key_hint_names_the_keyword_in_python() -> None:
    """From Python, the plugin's 401 hint says api_key= and its variable, never the key."""
    sandbox = Sandbox()
    async with sandbox.provider("tokenchat", api_key="wrong-key") as provider:
        with pytest.raises(AuthenticationError) as caught:
            await read(provider, "tc_1", "asc", None, None, None)
    message = str(caught.value)
    assert "api_key=" in message
    assert "TOKENCHAT_API_KEY" in message
    assert "wrong-key" not in message
