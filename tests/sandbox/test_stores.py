"""Each fake owns its store and its quirks; the sandbox's data is the stores, by vendor name."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from backscroll import errors
from backscroll.sandbox import (
    ConversationStore,
    CursorQuirks,
    GrowsConversations,
    RecordStore,
    Sandbox,
    SandboxData,
)
from backscroll.sandbox._cursor import CursorFake
from backscroll.sandbox._talkifai import TalkifaiFake


def test_each_fake_owns_the_store_the_data_holds_under_its_name() -> None:
    """sandbox.data.store(name) is the fake's own store, for every fake, plugins' included."""
    sandbox = Sandbox()

    assert set(sandbox.data.stores) == set(sandbox.fakes)
    for name, fake in sandbox.fakes.items():
        assert sandbox.data.store(name) is fake.store
        assert isinstance(fake.store, ConversationStore)


def test_the_builtin_spellings_read_the_stores() -> None:
    """data.cursor and data.talkifai are the stores' own conversations, not copies."""
    sandbox = Sandbox()
    cursor, talkifai = sandbox.fakes["cursor"].store, sandbox.fakes["talkifai"].store

    assert isinstance(cursor, RecordStore)
    assert isinstance(talkifai, RecordStore)
    assert sandbox.data.cursor is cursor.conversations
    assert sandbox.data.talkifai is talkifai.conversations


def test_an_unknown_store_names_the_known_ones() -> None:
    """data.store() of a vendor without a fake is a ConfigurationError listing those with one."""
    with pytest.raises(errors.ConfigurationError, match="pass vendor= one of convai, talkifai"):
        Sandbox().data.store("slack")


def test_a_standalone_data_holds_the_builtin_stores() -> None:
    """SandboxData() alone holds the three built-in stores, and refuses an unknown size option."""
    assert list(SandboxData().stores) == ["convai", "talkifai", "cursor"]
    with pytest.raises(errors.ConfigurationError, match="cursr_sizes"):
        SandboxData(cursr_sizes=(1,))  # type: ignore[call-arg]


def test_the_snapshot_keeps_its_keys() -> None:
    """The snapshot's built-in keys are unchanged; a plugin's store adds its own."""
    assert set(Sandbox().data.snapshot()) == {
        "convai_sessions",
        "convai_interactions",
        "talkifai",
        "cursor",
        "tokenchat",
    }


def test_quirk_attributes_are_the_fakes_own() -> None:
    """sandbox.cursor_quirks reads and replaces the cursor fake's quirks, at once."""
    sandbox = Sandbox(cursor_quirks=CursorQuirks(max_limit=10))
    fake = sandbox.fakes["cursor"]
    assert isinstance(fake, CursorFake)
    assert fake.quirks.max_limit == 10

    sandbox.cursor_quirks = CursorQuirks(page_order="asc")

    assert fake.quirks.page_order == "asc"
    assert sandbox.cursor_quirks is fake.quirks


def test_a_fake_takes_its_quirks_itself() -> None:
    """A built-in fake made with quirks (Sandbox(fakes=...)) serves with them."""
    factory = functools.partial(CursorFake, quirks=CursorQuirks(stuck_cursor=True))
    sandbox = Sandbox(fakes={"cursor": factory})

    assert sandbox.cursor_quirks.stuck_cursor


def test_quirks_of_a_replaced_builtin_fake_are_refused() -> None:
    """With another fake in the cursor API's place, sandbox.cursor_quirks says where to look."""

    def other(sandbox: Sandbox) -> TalkifaiFake:
        return TalkifaiFake(sandbox)

    sandbox = Sandbox(fakes={"cursor": other})
    with pytest.raises(errors.ConfigurationError, match=r"sandbox.fakes\['cursor'\]"):
        _ = sandbox.cursor_quirks


def test_a_fake_without_a_store_is_refused() -> None:
    """A fake factory whose fake has no store is a ConfigurationError that names what is missing."""

    class Storeless:
        prefix = api_root = "/storeless"
        route_names = ("x",)

    def factory(_sandbox: Sandbox) -> Any:
        return Storeless()

    with pytest.raises(errors.ConfigurationError, match=r"needs prefix.*a store"):
        Sandbox(fakes={"tokenchat": factory})


def test_only_stores_that_grow_are_grown() -> None:
    """The plugin's store cannot grow: sandbox.grow names the vendors whose stores can."""
    sandbox = Sandbox()

    assert not isinstance(sandbox.data.store("tokenchat"), GrowsConversations)
    with pytest.raises(errors.ConfigurationError, match="one of convai, talkifai, cursor"):
        sandbox.grow("tc_1", vendor="tokenchat")
