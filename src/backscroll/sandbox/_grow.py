"""
Growing the sandbox's conversations while they are read: what ``follow`` is tried against.

`grow` appends to one conversation of whichever fake's store holds it (each store that can
grow says so by `GrowsConversations`, and grows in its vendor's own shape); `Growth` does it on a
schedule (``backscroll sandbox serve --grow``), in a thread beside the server: uvicorn
runs its own loop, and the records are plain lists whose appends are atomic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from backscroll.errors import ConfigurationError
from backscroll.sandbox._store import GrowsConversations

if TYPE_CHECKING:
    from backscroll.sandbox._app import Sandbox
    from backscroll.sandbox._store import ConversationStore

__all__ = ["Growth", "grow"]


def grow(
    stores: Mapping[str, ConversationStore],
    conversation_id: str,
    count: int = 1,
    *,
    vendor: str | None = None,
) -> list[dict[str, Any]]:
    """
    Append *count* messages to a conversation of whichever store holds it; return the records.

    Raises:
        ConfigurationError: *vendor* names no fake that grows, no fake holds the
            conversation or more than one does (name it with *vendor*), or the fake
            cannot grow it.
    """
    growers = {
        name: store for name, store in stores.items() if isinstance(store, GrowsConversations)
    }
    if vendor is not None:
        chosen = growers.get(vendor)
        if chosen is None:
            msg = f"vendor must be one of {', '.join(growers)}, got {vendor!r}"
            raise ConfigurationError(msg)
        return chosen.grow(conversation_id, count)
    found = [name for name, store in growers.items() if store.holds(conversation_id)]
    if len(found) != 1:
        where = "no vendor" if not found else f"{' and '.join(found)} both"
        msg = f"{where} hold conversation {conversation_id!r}: pass vendor="
        raise ConfigurationError(msg)
    return growers[found[0]].grow(conversation_id, count)


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

        Which vendors can grow is the sandbox's to say: `check` tells.

        Raises:
            ConfigurationError: a spec without a vendor or an id.
        """
        conversations: list[tuple[str, str]] = []
        for spec in specs:
            vendor, colon, conversation_id = spec.partition(":")
            if not colon or not vendor or not conversation_id:
                msg = (
                    "--grow takes VENDOR:CONVERSATION_ID, as in cursor:con_9s2kd81 "
                    f"(VENDOR one of backscroll's sandbox fakes); got {spec!r}"
                )
                raise ConfigurationError(msg)
            conversations.append((vendor, conversation_id))
        return cls(conversations, every, count)

    def check(self, sandbox: Sandbox) -> None:
        """
        Grow nothing, but fail now if a conversation cannot be grown.

        Raises:
            ConfigurationError: a vendor without a fake that grows, or a conversation its
                fake cannot grow (one it cannot create).
        """
        for vendor, conversation_id in self.conversations:
            sandbox.grow(conversation_id, 0, vendor=vendor)

    def step(self, sandbox: Sandbox) -> None:
        """Grow each conversation once."""
        for vendor, conversation_id in self.conversations:
            sandbox.grow(conversation_id, self.count, vendor=vendor)

    async def run(self, sandbox: Sandbox, *, sleep: Callable[[float], Any] = anyio.sleep) -> None:
        """Grow until cancelled."""
        while True:
            await sleep(self.every)
            self.step(sandbox)

    def in_thread(self, sandbox: Sandbox) -> threading.Event:
        """Grow in a daemon thread until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.every):
                self.step(sandbox)

        threading.Thread(target=loop, name="backscroll-sandbox-grow", daemon=True).start()
        return stop
