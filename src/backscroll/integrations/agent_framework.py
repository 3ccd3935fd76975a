"""
Microsoft Agent Framework: a history provider whose history starts with the vendor's.

Needs the ``agent-framework`` extra: ``pip install 'backscroll[agent-framework]'``
(agent-framework-core).

.. code-block:: python

    agent = Agent(client=client, context_providers=[BackscrollHistoryProvider(provider)])
    session = agent.create_session(session_id="con_9s2kd81")  # the vendor's conversation id
    response = await agent.run("Which kind dominated?", session=session)

`BackscrollHistoryProvider` is the framework's ``HistoryProvider``: before each run the
agent is given the vendor's conversation (the session id is the conversation id), then the
messages stored since, which live in *store*, another history provider (an
``InMemoryHistoryProvider`` by default, which keeps them in the session's state). The vendor
is only read.

The mapping onto the framework's ``Message``:

=====================  ==============================================================
backscroll             Agent Framework ``Message``
=====================  ==============================================================
``role``               ``role``: ``"user"``, ``"assistant"``, ``"system"``;
                       ``UNKNOWN`` and ``TOOL`` by ``unmapped`` (a ``"tool"`` message
                       needs the call it answers, which a backscroll message lacks)
``content``            one text content
``id``                 ``message_id``
``sender_id``          ``author_name``
the rest               ``additional_properties["backscroll"]``: backscroll's
                       provenance (id, conversation id, provider, role,
                       ``created_at``, sender id) plus ``token_count`` and ``metadata``
the `Message` itself   ``raw_representation`` (not serialised with the session)
=====================  ==============================================================

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from backscroll._models import Role
from backscroll._protocols import ChatHistoryProvider
from backscroll._validate import positive_int
from backscroll.errors import ConfigurationError
from backscroll.integrations._mapping import missing_extra, provenance, select
from backscroll.integrations._reading import read_history

try:
    from agent_framework import HistoryProvider, InMemoryHistoryProvider
    from agent_framework import Message as AgentMessage
except ImportError as exc:
    raise missing_extra(
        "backscroll.integrations.agent_framework", "agent-framework", "agent-framework-core"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from backscroll._models import Message
    from backscroll.integrations._mapping import Unmapped

__all__ = ["BackscrollHistoryProvider", "to_agent_messages"]

_ROLES: Final = {Role.USER: "user", Role.ASSISTANT: "assistant", Role.SYSTEM: "system"}


def to_agent_messages(
    messages: Iterable[Message],
    *,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> list[AgentMessage]:
    """
    Turn messages into Agent Framework messages, in the order given (see the module).

    Args:
        messages: The messages, already read (a list, or any iterable of `Message`).
        drop_empty: Leave out messages whose content is empty or only whitespace.
        unmapped: What to do with `Role.UNKNOWN` and `Role.TOOL` messages: ``"user"`` sends
            them as the user, ``"skip"`` leaves them out, ``"error"`` raises.

    Raises:
        ConfigurationError: an option is invalid, or *messages* are not `Message` objects.
        ConversionError: ``unmapped="error"`` and a message has no Agent Framework role.

    .. versionadded:: 0.1.0
    """
    converted: list[AgentMessage] = []
    for message, role in select(
        messages, unmapped=unmapped, drop_empty=drop_empty, target="to_agent_messages"
    ):
        origin: dict[str, Any] = {
            **provenance(message),
            "token_count": message.token_count,
            "metadata": dict(message.metadata),
        }
        converted.append(
            AgentMessage(
                _ROLES[role],
                [message.content],
                author_name=message.sender_id,
                message_id=message.id,
                additional_properties={"backscroll": origin},
                raw_representation=message,
            )
        )
    return converted


class BackscrollHistoryProvider(HistoryProvider):
    """
    An Agent Framework history provider: the vendor's conversation, then the turns since.

    The agent's session id is the vendor's conversation id (``agent.create_session(
    session_id="con_...")``). ``get_messages`` reads the vendor's history anew at each run,
    then the messages *store* holds for the session; ``save_messages`` stores the run's
    new messages in *store* only.

    Args:
        provider: Where the conversations live.
        store: The history provider that keeps the turns added by the agent; ``None`` makes
            an ``InMemoryHistoryProvider`` (kept in the session's state, so it travels with
            ``session.to_dict()``).
        source_id: The provider's id among the agent's context providers.
        max_messages: Only the newest this many vendor messages (read newest first).
        drop_empty: As for `to_agent_messages`.
        unmapped: As for `to_agent_messages`.

    Raises:
        ConfigurationError: an argument is unusable.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        *,
        store: HistoryProvider | None = None,
        source_id: str = "backscroll",
        max_messages: int | None = None,
        drop_empty: bool = False,
        unmapped: Unmapped = "user",
    ) -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = (
                "BackscrollHistoryProvider reads through a provider, "
                f"got {type(candidate).__name__}"
            )
            raise ConfigurationError(msg)
        given: object = store
        if given is not None and not isinstance(given, HistoryProvider):
            msg = f"store must be an agent_framework HistoryProvider, got {type(given).__name__}"
            raise ConfigurationError(msg)
        if max_messages is not None:
            positive_int(max_messages, "max_messages")
        select([], unmapped=unmapped, drop_empty=drop_empty, target="BackscrollHistoryProvider")
        super().__init__(source_id)
        self.provider = provider
        self.store: HistoryProvider = InMemoryHistoryProvider() if store is None else store
        self._max_messages = max_messages
        self._drop_empty = drop_empty
        self._unmapped: Unmapped = unmapped

    def __repr__(self) -> str:
        return f"BackscrollHistoryProvider({self.provider!r}, store={self.store!r})"

    async def get_messages(
        self, session_id: str | None, *, state: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[AgentMessage]:
        """
        The vendor's conversation *session_id*, then the messages stored for the session.

        Raises:
            ConfigurationError: the session has no id (it names the conversation).

        Reading raises the provider's errors (`backscroll.errors`).
        """
        if not session_id:
            msg = (
                "BackscrollHistoryProvider reads the conversation named by the session id: "
                "create the session with agent.create_session(session_id='<conversation id>')"
            )
            raise ConfigurationError(msg)
        history = await read_history(self.provider, session_id, newest=self._max_messages)
        converted = to_agent_messages(history, drop_empty=self._drop_empty, unmapped=self._unmapped)
        added = await self.store.get_messages(session_id, state=state, **kwargs)
        return [*converted, *added]

    async def save_messages(
        self,
        session_id: str | None,
        messages: Sequence[AgentMessage],
        *,
        state: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Store the run's messages in *store* (never at the vendor)."""
        await self.store.save_messages(session_id, messages, state=state, **kwargs)
