"""
The sandbox's ground truth: every fake's store, by vendor name, and users' own history.

`SandboxData` names no vendor. It holds one `ConversationStore` per fake (the built-in
fakes' seeded stores, made from the generation settings, and the store of every other
fake the sandbox serves), and loads users' history into them, checked so that a fake never
serves a history its vendor could not have: `SandboxData.add_messages` writes `Message`
objects as each vendor would have served them (each store's inverse of its provider), and
`SandboxData.add_records` takes records already in the vendor's shape, as they are.

The built-in vendors' own spellings (``data.cursor``, ``data.extend_talkifai(...)``,
``data.convai_sessions``...) are conveniences declared with the built-ins, in
``_vendors.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Unpack

from backscroll._models import Message
from backscroll._validate import nonempty_str
from backscroll.errors import ConfigurationError
from backscroll.sandbox._generate import Generation
from backscroll.sandbox._store import created_at
from backscroll.sandbox._vendors import BuiltinData, builtin_stores

if TYPE_CHECKING:
    from collections.abc import Iterable

    from backscroll.sandbox._store import ConversationStore, Record
    from backscroll.sandbox._vendors import BuiltinSizes, StoreOptions

__all__ = ["SandboxData"]


class SandboxData(BuiltinData):
    """
    Every conversation the sandbox serves, as the vendors would serve it: one store a fake.

    Records are the served JSON objects themselves (cursor-API records with their
    ``metadata``, which the server leaves out unless ``include_meta=true``). Treat them
    as read-only; grow them with `Sandbox.grow` or the built-ins' ``extend_*`` helpers,
    load your own with `add_messages` and `add_records`.

    Args:
        seed: Seeds the data: the same seed gives byte-identical conversations.
        burst_rate: Share of moments that start a burst of messages sharing one second.
        max_burst: The most messages one burst holds (2 to this many).
        **sizes: The built-in fakes' generated sizes (``cursor_sizes=(0, 1, 7)``...).

    Attributes:
        convai_sessions: Character id to its session records, newest first (as ``list``
            answers).
        convai_interactions: Session id to its interaction records, oldest first (as
            ``details`` answers).
        talkifai: Conversation id to its message records, oldest first.
        cursor: Conversation id to its message records, oldest first.

    Raises:
        ConfigurationError: an option is unusable.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A container of stores, one a fake (`stores`, `store`), plugins' fakes' included.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        burst_rate: float = 0.3,
        max_burst: int = 8,
        **sizes: Unpack[BuiltinSizes],
    ) -> None:
        self.generation = Generation(seed, burst_rate, max_burst)
        self._stores: dict[str, ConversationStore] = builtin_stores(self.generation, sizes)

    @property
    def seed(self) -> int:
        """The seed the data was drawn with."""
        return self.generation.seed

    @property
    def burst_rate(self) -> float:
        """Share of moments that start a burst of messages sharing one second."""
        return self.generation.burst_rate

    @property
    def max_burst(self) -> int:
        """The most messages one burst holds."""
        return self.generation.max_burst

    def __repr__(self) -> str:
        held = ", ".join(
            f"{len(store.conversation_ids())} {name}" for name, store in self._stores.items()
        )
        return f"<SandboxData seed={self.seed}: {held} conversations>"

    @property
    def stores(self) -> Mapping[str, ConversationStore]:
        """
        Every fake's store, by vendor name (read-only).

        .. versionadded:: 0.2.0
        """
        return MappingProxyType(self._stores)

    def store(self, vendor: str) -> ConversationStore:
        """
        The store of *vendor*'s fake.

        Raises:
            ConfigurationError: no fake of that name holds data here; the message lists those
                that do.

        .. versionadded:: 0.2.0
        """
        store = self._stores.get(vendor)
        if store is None:
            msg = (
                f"vendor {vendor!r} has no fake in the sandbox: pass vendor= one of "
                f"{', '.join(self._stores)}"
            )
            raise ConfigurationError(msg)
        return store

    def attach(self, vendor: str, store: ConversationStore) -> None:
        """
        Hold *store* as *vendor*'s (the sandbox attaches each fake's own; replaces one).

        .. versionadded:: 0.2.0
        """
        self._stores[vendor] = store

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything, JSON-ready: compare two sandboxes or save a fixture."""
        snapshot: dict[str, Any] = {}
        for store in self._stores.values():
            snapshot |= copy.deepcopy(store.snapshot())
        return snapshot

    # -- users' own history -----------------------------------------------------------------

    def add_messages(
        self,
        messages: Iterable[Message],
        *,
        vendor: str | None = None,
        **options: Unpack[StoreOptions],
    ) -> list[str]:
        """
        Serve these messages from the fake vendors, as each vendor would have served them.

        Each message goes to the fake of its ``provider`` (or of *vendor*, for all of them),
        into the conversation ``conversation_id``, created if new, after the messages it
        already holds; a conversation's messages are written oldest first whatever order
        they come in. Reading them back through that vendor's provider gives their role,
        content, ``created_at`` and what else the vendor keeps (``sender_id``,
        ``token_count``, ``metadata``); the ids are the vendor's: the message's own where
        the vendor serves ids, derived ones where it has none. A role the vendor has no
        word for is written with the speaker from ``raw`` when the message came from that
        vendor, else as the role's name, and reads back as `Role.UNKNOWN`.

        Args:
            messages: The messages, from any provider, `JsonlProvider` or your own code.
            vendor: Load every message into this vendor's fake (``"cursor"``, say, or a
                plugin's) instead of its ``provider``'s.
            **options: A store's own keywords, given to the stores that take them:
                ``character_id``, the Convai character new sessions belong to (default:
                the sandbox's `CONVAI_CHARACTER_ID`, created if needed).

        Returns:
            The ids of the conversations written to, in the order they first appeared.

        Raises:
            ConfigurationError: a message has no ``created_at`` (every vendor serves a time),
                a vendor is not one of the sandbox's, an option is for another vendor,
                the messages are older than the conversation's last one (the fake would
                serve them out of order), or a cursor-API id is taken.

        .. versionadded:: 0.2.0
        """
        given = self._options(vendor, dict(options))
        batches: dict[tuple[str, str], list[Message]] = {}
        for item in messages:
            message = _message(item)
            target = vendor or message.provider
            self._known(target, "a message's provider")
            if message.created_at is None:
                msg = (
                    f"message {message.id!r} of {message.conversation_id!r} has no created_at: "
                    f"the {target} fake serves a time with every message; give it one"
                )
                raise ConfigurationError(msg)
            batches.setdefault((target, message.conversation_id), []).append(message)
        written: list[tuple[ConversationStore, str, list[Record], dict[str, Any]]] = []
        for (target, conversation_id), batch in batches.items():
            store = self._stores[target]
            batch.sort(key=created_at)
            records = store.records_of(batch)
            taken = {key: value for key, value in given.items() if key in store.options}
            store.check(conversation_id, records, **taken)
            written.append((store, conversation_id, records, taken))
        # All checked before any is written: a refused call leaves the data as it was.
        for store, conversation_id, records, taken in written:
            store.write(conversation_id, records, **taken)
        return list(dict.fromkeys(conversation_id for _, conversation_id in batches))

    def add_records(
        self,
        vendor: str,
        conversation_id: str,
        records: Iterable[Mapping[str, Any]],
        **options: Unpack[StoreOptions],
    ) -> None:
        """
        Serve records already in a vendor's own shape, in one conversation, as they are.

        The records are what the vendor's document shows, oldest first: Convai
        interactions (``timestamp``, ``interaction``, ...), Talkifai messages (``role``,
        ``content``, ``timestamp``, ...), cursor-API messages (``id``, ``sender_type``,
        ``text``, ``metadata``, ``created_at``, ...), a plugin's own. They are served as
        given (deep copies), odd fields and all, so that your code can meet exactly what
        you saw a vendor send; only what the fake itself needs is checked. The
        conversation is created if new (with no records, an empty one); a new Convai
        session starts at its first interaction's time.

        Args:
            vendor: The fake's vendor name (``"convai"``, ``"talkifai"``, ``"cursor"``, a
                plugin's).
            conversation_id: The conversation (Convai: session) to add to.
            records: The vendor-shaped records, oldest first.
            **options: The store's own keywords: ``character_id``, for Convai only, the
                character a new session belongs to (default: `CONVAI_CHARACTER_ID`).

        Raises:
            ConfigurationError: an unknown vendor, a record that is not an object, an
                option for another vendor, a Convai session of another character, or
                cursor-API records whose ``created_at`` does not parse or goes backwards
                (that fake pages by it).

        .. versionadded:: 0.2.0
        """
        store = self._known(vendor, "vendor")
        taken = self._options(vendor, dict(options))
        nonempty_str(conversation_id, "conversation_id")
        copied = [_record(record, index) for index, record in enumerate(records)]
        store.check(conversation_id, copied, **taken)
        store.write(conversation_id, copied, **taken)

    def _known(self, vendor: object, what: str) -> ConversationStore:
        store = self._stores.get(vendor) if isinstance(vendor, str) else None
        if store is None:
            known = ", ".join(self._stores)
            msg = f"{what} {vendor!r} has no fake in the sandbox: pass vendor= one of {known}"
            raise ConfigurationError(msg)
        return store

    def _options(self, vendor: str | None, options: dict[str, Any]) -> dict[str, Any]:
        """The options given (``None`` is not given), each taken by *vendor* or by some store."""
        given = {key: value for key, value in options.items() if value is not None}
        for key in given:
            takers = [name for name, store in self._stores.items() if key in store.options]
            if vendor is not None and vendor in self._stores and vendor not in takers:
                msg = f"{key} is for {' and '.join(takers) or 'no fake'} only, not for {vendor}"
                raise ConfigurationError(msg)
            if not takers:
                msg = f"no fake in the sandbox takes {key}="
                raise ConfigurationError(msg)
        return given


def _message(item: object) -> Message:
    if not isinstance(item, Message):
        msg = f"add_messages takes backscroll.Message objects, got {type(item).__name__}"
        raise ConfigurationError(msg)
    return item


def _record(item: object, index: int) -> Record:
    if not isinstance(item, Mapping):
        msg = f"records[{index}] is a {type(item).__name__}, not a JSON object (dict)"
        raise ConfigurationError(msg)
    return copy.deepcopy(dict(item))
