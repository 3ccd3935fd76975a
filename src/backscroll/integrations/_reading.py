"""
How the adapters read a conversation: whole and oldest first, or only its newest part.

Frameworks ask for "the latest N" (a window of short-term memory, the Agents SDK's
``get_items(limit=...)``). Reading the whole history to keep its tail would fetch every page
of a long conversation; reading newest first (``order="desc"``) and stopping after N fetches
only the pages that hold them wherever the vendor can page backwards, and no more than the
whole where it cannot. The reading is closed as soon as enough is kept, so no request is left
in flight.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from backscroll._models import Message
    from backscroll._protocols import ChatHistoryProvider

__all__ = ["read_history"]


async def read_history(
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    newest: int | None = None,
    keep: Callable[[Message], bool] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Message]:
    """
    The conversation's messages, oldest first: all of them, or the *newest* few.

    With *keep*, only messages it accepts count towards *newest* and are returned (the
    adapters pass whether they would convert a message, so that "the latest N" means N
    items of the framework's, not N vendor records some of which are left out).
    """
    if newest is None:
        messages = provider.messages(conversation_id, since=since, until=until)
        return [m async for m in messages if keep is None or keep(m)]
    tail: list[Message] = []
    if newest > 0:
        iterator = provider.messages(conversation_id, order="desc", since=since, until=until)
        async with contextlib.aclosing(iterator):  # type: ignore[type-var]
            async for message in iterator:
                if keep is None or keep(message):
                    tail.append(message)
                    if len(tail) == newest:
                        break
    tail.reverse()
    return tail
