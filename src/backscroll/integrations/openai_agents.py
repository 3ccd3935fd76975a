"""
OpenAI Agents SDK: a session whose history starts with the vendor's conversation.

Needs the ``openai-agents`` extra: ``pip install 'backscroll[openai-agents]'``.

.. code-block:: python

    session = BackscrollSession(provider, "con_9s2kd81")
    result = await Runner.run(agent, "Which kind dominated?", session=session)

`BackscrollSession` implements the SDK's ``Session`` protocol. What the agent sees is the
vendor's history, converted by `backscroll.integrations.openai.to_responses_input`, then the
turns added since, which live in *store*, an ``agents`` session of your choice (an
in-memory ``SQLiteSession`` by default; a ``SQLiteSession("id", "turns.db")`` keeps them
across processes). The vendor is only ever read: ``add_items``, ``pop_item`` and
``clear_session`` act on the store alone.

The vendor history is read anew at each ``get_items``, so a conversation that grows at the
vendor shows its new messages at the next turn. ``get_items(limit=N)`` (the SDK's
``SessionSettings(limit=N)``) returns the latest N items; it reads the vendor newest first
and stops once it has enough, so a long conversation is not fetched whole where the vendor
pages backwards.

There is no follow here (`backscroll.follow`), on purpose: the session is read when a turn
starts, and each read already brings the vendor's newest messages, so polling between turns
would keep nothing more current.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backscroll._protocols import ChatHistoryProvider
from backscroll._validate import nonempty_str
from backscroll.errors import ConfigurationError
from backscroll.integrations._mapping import missing_extra, select
from backscroll.integrations._reading import read_history
from backscroll.integrations.openai import to_responses_input

try:
    from agents.memory import Session, SessionSettings, SQLiteSession
except ImportError as exc:
    raise missing_extra(
        "backscroll.integrations.openai_agents", "openai-agents", "openai-agents"
    ) from exc

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

    from backscroll._models import Message
    from backscroll.integrations._mapping import Unmapped

__all__ = ["BackscrollSession"]


class BackscrollSession:
    """
    An Agents SDK session: the vendor's conversation first, then the turns added since.

    Args:
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor; also the session's ``session_id``.
        store: The ``agents`` session that keeps the turns added by the agent; ``None``
            makes an in-memory ``SQLiteSession`` (gone with the process).
        session_settings: The SDK's ``SessionSettings`` (for example ``limit``); the
            store's own are not used.
        drop_empty: Leave out vendor messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` vendor messages: ``"user"``
            sends them as the user, ``"skip"`` leaves them out, ``"error"`` raises when read.

    Raises:
        ConfigurationError: an argument is unusable.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        conversation_id: str,
        *,
        store: Session | None = None,
        session_settings: SessionSettings | None = None,
        drop_empty: bool = False,
        unmapped: Unmapped = "user",
    ) -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = f"BackscrollSession reads through a provider, got {type(candidate).__name__}"
            raise ConfigurationError(msg)
        nonempty_str(conversation_id, "conversation_id")
        chosen: object = store
        if chosen is not None and not isinstance(chosen, Session):
            msg = (
                "store must be an agents session (agents.SQLiteSession, or anything with "
                f"get_items, add_items, pop_item and clear_session), got {type(chosen).__name__}"
            )
            raise ConfigurationError(msg)
        select([], unmapped=unmapped, drop_empty=drop_empty, target="BackscrollSession")
        self.provider = provider
        self.session_id = conversation_id
        self.session_settings = session_settings
        self.store: Session = SQLiteSession(conversation_id) if store is None else store
        self._drop_empty = drop_empty
        self._unmapped: Unmapped = unmapped

    def __repr__(self) -> str:
        return f"BackscrollSession({self.provider!r}, {self.session_id!r}, store={self.store!r})"

    def _converted(self, messages: list[Message]) -> list[TResponseInputItem]:
        return to_responses_input(messages, drop_empty=self._drop_empty, unmapped=self._unmapped)

    def _kept(self, message: Message) -> bool:
        return bool(self._converted([message]))

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """
        The vendor's history, then the items added since, oldest first.

        Args:
            limit: Only the latest this many items (still oldest first); ``None`` for all.

        Raises:
            ConfigurationError: *limit* is negative.

        Reading raises the provider's errors (`backscroll.errors`), and `ConversionError`
        for a message ``unmapped="error"`` refuses.
        """
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            msg = f"limit must be None or a number of items >= 0, got {limit!r}"
            raise ConfigurationError(msg)
        added = await self.store.get_items(limit)
        if limit is None:
            history = await read_history(self.provider, self.session_id)
            return [*self._converted(history), *added]
        added = added[-limit:] if limit else []
        wanted = limit - len(added)
        history = await read_history(self.provider, self.session_id, newest=wanted, keep=self._kept)
        return [*self._converted(history), *added]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Keep the items the agent added, in the store (never at the vendor)."""
        await self.store.add_items(items)

    async def pop_item(self) -> TResponseInputItem | None:
        """
        Remove and return the latest item the agent added.

        The vendor's history is never removed: with no added item left, this returns
        ``None``, as for an empty session.
        """
        return await self.store.pop_item()

    async def clear_session(self) -> None:
        """Forget the items the agent added; the vendor's history stays (it is only read)."""
        await self.store.clear_session()
