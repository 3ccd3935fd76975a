"""
Growing the sandbox's conversations while they are read: what ``follow`` is tried against.

`grow` appends to one conversation of whichever vendor holds it; `Growth` does it on a
schedule (``backscroll sandbox serve --grow``), in a task beside the server.
"""

from __future__ import annotations

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

    async def run(self, data: SandboxData, *, sleep: Callable[[float], Any] = anyio.sleep) -> None:
        """Grow until cancelled."""
        while True:
            await sleep(self.every)
            for vendor, conversation_id in self.conversations:
                grow(data, conversation_id, self.count, vendor=vendor)
