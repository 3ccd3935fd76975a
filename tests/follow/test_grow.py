"""The sandbox grows conversations on demand and on a schedule, for follow to watch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from backscroll.errors import ConfigurationError
from backscroll.sandbox._grow import Growth

from .scripting import CONVERSATIONS, FakeClock, Stop, stop

if TYPE_CHECKING:
    from backscroll.sandbox import Sandbox


def test_grow_appends_to_the_vendor_that_holds_the_conversation(sandbox: Sandbox) -> None:
    """Sandbox.grow finds the vendor by id and appends as many records as asked."""
    before = {v: len(sandbox.data.cursor.get(c, sandbox.data.talkifai.get(c, []))) for v, c in (
        ("cursor", CONVERSATIONS["cursor"]), ("talkifai", CONVERSATIONS["talkifai"]))}  # fmt: skip
    added = sandbox.grow(CONVERSATIONS["cursor"], 3)
    assert len(added) == 3
    assert sandbox.data.cursor[CONVERSATIONS["cursor"]][-3:] == added
    assert len(sandbox.data.talkifai[CONVERSATIONS["talkifai"]]) == before["talkifai"]


def test_grow_refuses_a_conversation_no_vendor_holds(sandbox: Sandbox) -> None:
    """An unknown id is refused, naming vendor= as the way to create one."""
    with pytest.raises(ConfigurationError, match="vendor="):
        sandbox.grow("nobody_has_this")


def test_grow_creates_a_conversation_of_the_vendor_named(sandbox: Sandbox) -> None:
    """With vendor=, a new Talkifai or cursor-API conversation is created."""
    sandbox.grow("chat_brand_new", 2, vendor="talkifai")
    assert len(sandbox.data.talkifai["chat_brand_new"]) == 2


def test_growth_parse_refuses_a_spec_without_a_vendor() -> None:
    """--grow takes VENDOR:ID; anything else says so."""
    with pytest.raises(ConfigurationError, match="VENDOR:CONVERSATION_ID"):
        Growth.parse(["con_9s2kd81"], every=1.0, count=1)


def test_growth_check_refuses_a_vendor_whose_fake_does_not_grow(sandbox: Sandbox) -> None:
    """Growth.check names the fakes that grow when a spec's vendor is not one of them."""
    growth = Growth.parse(["nosuchvendor:abc"], every=1.0, count=1)
    with pytest.raises(ConfigurationError, match=r"vendor must be one of .*cursor"):
        growth.check(sandbox)


def test_growth_check_refuses_a_conversation_the_fake_cannot_create(sandbox: Sandbox) -> None:
    """A fake that cannot create a conversation (Convai sessions) refuses it at check time."""
    growth = Growth.parse(["convai:no_such_session"], every=1.0, count=1)
    with pytest.raises(ConfigurationError, match="no convai session"):
        growth.check(sandbox)


@pytest.mark.anyio
async def test_growth_runs_on_its_schedule(sandbox: Sandbox) -> None:
    """Growth.run waits its interval, then grows each conversation by its count."""
    growth = Growth.parse(["cursor:con_9s2kd81"], every=2.0, count=3)
    size = len(sandbox.data.cursor["con_9s2kd81"])
    clock = FakeClock(steps=[lambda: None, lambda: None, stop])
    with pytest.raises(Stop):
        await growth.run(sandbox, sleep=clock.sleep)
    assert clock.waits == [2.0, 2.0, 2.0]
    assert len(sandbox.data.cursor["con_9s2kd81"]) == size + 6
