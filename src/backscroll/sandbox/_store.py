"""
What a fake vendor holds: its conversations, as served, behind one small protocol.

Each fake owns a `ConversationStore`: the records it serves, exactly as it serves them
(plain JSON-ready dicts), so that a test compares what a client read with what the server
holds without any translation. `SandboxData` keeps every fake's store by vendor name and
loads users' history into it without knowing any vendor: the store writes `Message`
objects in its vendor's shape (`ConversationStore.records_of`, the inverse of that
vendor's provider), checks what it cannot serve, and answers the vendor-neutral ground
truth the property tests compare with (`ConversationStore.truth`).

Most vendors keep a conversation as a list of records, oldest first, each with a time and
a text: `RecordStore` is that store, written once; a vendor says where its records keep
their time and text and how it writes a message.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias, TypeVar, runtime_checkable

from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from backscroll._models import Message, Role

__all__ = [
    "ConversationStore",
    "GrowsConversations",
    "Record",
    "RecordStore",
    "check_not_older",
    "created_at",
    "iso_time",
    "record_time",
    "speaker",
    "typed_store",
]

#: One record as a fake serves it: a JSON object.
Record: TypeAlias = dict[str, Any]

_Store = TypeVar("_Store")


@runtime_checkable
class ConversationStore(Protocol):
    """
    One fake vendor's ground truth: its conversations, as served.

    `SandboxData` loads users' history through it (`records_of`, then `check` of every
    batch, then `write`: a refused call leaves the data as it was) and the sandbox counts
    and samples it. Subclass `RecordStore` for a vendor whose conversations are lists of
    records.

    .. versionadded:: 0.2.0
    """

    @property
    def options(self) -> frozenset[str]:
        """The keywords `check` and `write` take (``{"character_id"}``), empty for none."""
        ...

    def conversation_ids(self) -> list[str]:
        """The ids of the conversations the vendor's provider reads by default."""
        ...

    def message_count(self) -> int:
        """How many messages those conversations hold: the ground truth a copy is checked by."""
        ...

    def holds(self, conversation_id: str) -> bool:
        """Whether the store holds this conversation."""
        ...

    def truth(self, conversation_id: str) -> list[tuple[str, datetime]]:
        """
        The text and instant of each message the provider reads from it, oldest first.

        Raises:
            KeyError: no such conversation.
        """
        ...

    def records_of(self, messages: Sequence[Message]) -> list[Record]:
        """*messages* (one conversation's, oldest first) as the vendor would have served them."""
        ...

    def check(self, conversation_id: str, records: list[Record], **options: Any) -> None:
        """
        Raise if *records* cannot join the conversation; change nothing.

        Raises:
            ConfigurationError: the fake could not serve them (what, and what to do).
        """
        ...

    def write(self, conversation_id: str, records: list[Record], **options: Any) -> None:
        """Append *records* (checked) to the conversation, creating it if new."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything, keyed by names that start with the vendor's."""
        ...


@runtime_checkable
class GrowsConversations(Protocol):
    """
    A store whose conversations can grow while they are read (`Sandbox.grow`, ``--grow``).

    .. versionadded:: 0.2.0
    """

    def holds(self, conversation_id: str) -> bool:
        """Whether the store holds this conversation."""
        ...

    def grow(self, conversation_id: str, count: int) -> list[Record]:
        """
        Append *count* messages to the conversation, as if sent now; the new records.

        Raises:
            ConfigurationError: the store cannot grow this conversation (it cannot create it).
        """
        ...


class RecordStore:
    """
    Conversations as lists of records, oldest first: the store most fakes need.

    A subclass names the fields its records keep their time and text in, and writes a
    `Message` as its vendor serves one (`record_of`); it may check more than that loaded
    records do not go back before a conversation's last one (`check`).

    Args:
        vendor: The vendor's name, as errors and `snapshot` name it.

    Attributes:
        conversations: Conversation id to its records, oldest first.

    .. versionadded:: 0.2.0
    """

    #: The field a record's time is in (an ISO 8601 string).
    time_field: ClassVar[str]
    #: The field a record's text is in.
    text_field: ClassVar[str]
    options: frozenset[str] = frozenset()

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.conversations: dict[str, list[Record]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self.conversations)} conversations>"

    def conversation_ids(self) -> list[str]:
        """Every conversation's id."""
        return list(self.conversations)

    def message_count(self) -> int:
        """Every conversation's records."""
        return sum(map(len, self.conversations.values()))

    def holds(self, conversation_id: str) -> bool:
        """Whether the store holds this conversation."""
        return conversation_id in self.conversations

    def truth(self, conversation_id: str) -> list[tuple[str, datetime]]:
        """Each record's text and time, oldest first."""
        return [
            (r[self.text_field], iso_time(r[self.time_field]))
            for r in self.conversations[conversation_id]
        ]

    def records_of(self, messages: Sequence[Message]) -> list[Record]:
        """Each message written by `record_of`."""
        return [self.record_of(message) for message in messages]

    def record_of(self, message: Message) -> Record:
        """One message as the vendor serves it; a subclass says how."""
        raise NotImplementedError

    def check(self, conversation_id: str, records: list[Record], **options: Any) -> None:  # noqa: ARG002 - the protocol's keywords
        """
        Refuse records older than the conversation's last one.

        Raises:
            ConfigurationError: they would be served out of order.
        """
        existing = self.conversations.get(conversation_id, [])
        if existing and records:
            check_not_older(
                self.vendor, conversation_id, existing[-1], records[0], self.time_field, iso_time
            )

    def write(self, conversation_id: str, records: list[Record], **options: Any) -> None:  # noqa: ARG002 - the protocol's keywords
        """Append *records* to the conversation, creating it if new."""
        self.conversations.setdefault(conversation_id, []).extend(records)

    def snapshot(self) -> dict[str, Any]:
        """``{vendor: conversations}``, deep-copied."""
        return {self.vendor: copy.deepcopy(self.conversations)}


def typed_store(stores: Mapping[str, ConversationStore], vendor: str, kind: type[_Store]) -> _Store:
    """
    *vendor*'s store, as the *kind* its built-in fake keeps.

    Raises:
        ConfigurationError: there is none, or another kind of store holds its data.
    """
    store = stores.get(vendor)
    if not isinstance(store, kind):
        held = "no store" if store is None else f"a {type(store).__name__}"
        msg = (
            f"the sandbox holds {held} for {vendor}, not the built-in {kind.__name__}: its "
            "own spellings work with the built-in fake only; use sandbox.data.store("
            f"{vendor!r}) for the one in its place"
        )
        raise ConfigurationError(msg)
    return store


def iso_time(stamp: str) -> datetime:
    """An ISO 8601 time in UTC (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(stamp)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record_time(record: Record, field: str, parse: Callable[[str], datetime]) -> datetime | None:
    """The time in *field* of *record*, ``None`` when it is missing or does not parse."""
    try:
        return parse(record[field])
    except (KeyError, TypeError, ValueError):
        return None


def check_not_older(  # noqa: PLR0917 - the two records and how to read them
    vendor: str,
    conversation_id: str,
    last: Record,
    first: Record,
    field: str,
    parse: Callable[[str], datetime],
) -> None:
    """
    Refuse loading *first* after *last* when it is older.

    Raises:
        ConfigurationError: the fake would serve them out of order.
    """
    held, added = record_time(last, field, parse), record_time(first, field, parse)
    if held is not None and added is not None and added < held:
        msg = (
            f"the messages for {vendor} conversation {conversation_id!r} start at {added}, "
            f"before its last one ({held}): the fake would serve them out of order. Load "
            "older messages first, or into a new conversation"
        )
        raise ConfigurationError(msg)


def created_at(message: Message) -> datetime:
    """A loaded message's time (`SandboxData.add_messages` refuses one without)."""
    if message.created_at is None:  # pragma: no cover - add_messages checked it
        msg = f"message {message.id!r} has no created_at"
        raise ConfigurationError(msg)
    return message.created_at


def speaker(message: Message, words: Mapping[Role, str], *raw_path: str) -> str:
    """The vendor's word for the role, else the speaker *raw_path* finds in ``raw``."""
    word = words.get(message.role)
    if word is not None:
        return word
    found: object = message.raw
    for key in raw_path:
        found = found.get(key) if isinstance(found, Mapping) else None
    return found if isinstance(found, str) and found else message.role.value
