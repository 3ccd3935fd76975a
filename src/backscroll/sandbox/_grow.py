"""
Growing the sandbox's conversations while they are read: what ``follow`` is tried against.

`grow` appends to one conversation of whichever vendor holds it; `Growth` does it on a
schedule (``backscroll sandbox serve --grow``), in a thread beside the server: uvicorn
runs its own loop, and the records are plain lists whose appends are atomic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs

from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from backscroll.sandbox._data import SandboxData

__all__ = ["VENDORS", "Growth", "grow"]

VENDORS: Final = ("convai", "talkifai", "cursor")


def grow(
    data: SandboxData, conversation_id: str, count: int = 1, *, vendor: str | None = None
) -> list[dict[str, Any]]:
    """
    Append *count* messages (Convai: interactions) to a conversation; return the records.

    Raises:
        ConfigurationError: no vendor holds the conversation, or more than one does
            (name it with *vendor*).
    """
    holders = {
        "convai": conversation_id in data.convai_interactions,
        "talkifai": conversation_id in data.talkifai,
        "cursor": conversation_id in data.cursor,
    }
    if vendor is not None:
        if vendor not in holders:
            msg = f"vendor must be one of {', '.join(VENDORS)}, got {vendor!r}"
            raise ConfigurationError(msg)
        if vendor == "convai" and not holders["convai"]:
            msg = f"no convai session {conversation_id!r} in the sandbox"
            raise ConfigurationError(msg)
        chosen = vendor
    else:
        found = [name for name, held in holders.items() if held]
        if len(found) != 1:
            where = "no vendor" if not found else f"{' and '.join(found)} both"
            msg = f"{where} hold conversation {conversation_id!r}: pass vendor="
            raise ConfigurationError(msg)
        chosen = found[0]
    if chosen == "convai":
        return data.extend_convai(conversation_id, count)
    if chosen == "talkifai":
        return data.extend_talkifai(conversation_id, count)
    return data.extend_cursor(conversation_id, count)


@attrs.frozen
class Growth:
    """
    Grow conversations on a schedule: *count* messages each, every *every* seconds.

    Attributes:
        conversations: ``(vendor, conversation_id)`` pairs to grow.
        every: Seconds between growths.
        count: Messages (Convai: interactions) added to each conversation each time.
    """

    conversations: Sequence[tuple[str, str]]
    every: float = 5.0
    count: int = 1

    @classmethod
    def parse(cls, specs: Sequence[str], *, every: float, count: int) -> Growth:
        """
        Read ``VENDOR:CONVERSATION_ID`` specs (``cursor:con_9s2kd81``).

        Raises:
            ConfigurationError: a spec without a known vendor or an id.
        """
        conversations: list[tuple[str, str]] = []
        for spec in specs:
            vendor, colon, conversation_id = spec.partition(":")
            if not colon or vendor not in VENDORS or not conversation_id:
                msg = (
                    f"--grow takes VENDOR:CONVERSATION_ID, as in cursor:con_9s2kd81 "
                    f"(VENDOR one of {', '.join(VENDORS)}); got {spec!r}"
                )
                raise ConfigurationError(msg)
            conversations.append((vendor, conversation_id))
        return cls(conversations, every, count)

    def check(self, data: SandboxData) -> None:
        """
        Grow nothing, but fail now if a conversation cannot be grown.

        Raises:
            ConfigurationError: a Convai session that does not exist.
        """
        for vendor, conversation_id in self.conversations:
            grow(data, conversation_id, 0, vendor=vendor)

    def step(self, data: SandboxData) -> None:
        """Grow each conversation once."""
        for vendor, conversation_id in self.conversations:
            grow(data, conversation_id, self.count, vendor=vendor)

    async def run(self, data: SandboxData, *, sleep: Callable[[float], Any] = anyio.sleep) -> None:
        """Grow until cancelled."""
        while True:
            await sleep(self.every)
            self.step(data)

    def in_thread(self, data: SandboxData) -> threading.Event:
        """Grow in a daemon thread until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.every):
                self.step(data)

        threading.Thread(target=loop, name="backscroll-sandbox-grow", daemon=True).start()
        return stop
