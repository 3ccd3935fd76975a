"""
The built-in vendors' conveniences: their options, stores, quirks and typed spellings.

The sandbox and its data are vendor-neutral: they serve whatever fakes the registry names,
open any of them with `Sandbox.provider` and keep each fake's store by name. What the
three built-in fakes add for the reader's comfort (``Sandbox(cursor_sizes=...,
cursor_quirks=...)``, ``sandbox.cursor_quirks = ...``, ``sandbox.cursor()``,
``sandbox.data.cursor``, ``data.extend_cursor(...)``) is declared here, once, as typed
delegations to the fake or store that owns the thing, so that a fourth built-in vendor is
one more entry here and nothing changes in ``_app.py`` or ``_data.py``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypedDict, TypeVar, cast

from backscroll.errors import ConfigurationError
from backscroll.providers import ConvaiProvider, CursorProvider, TalkifaiProvider
from backscroll.sandbox import _convai_data, _cursor_data, _talkifai_data
from backscroll.sandbox._convai import ConvaiFake, ConvaiQuirks
from backscroll.sandbox._convai_data import CONVAI_CHARACTER_ID, ConvaiStore
from backscroll.sandbox._cursor import CursorFake, CursorQuirks
from backscroll.sandbox._cursor_data import CursorStore
from backscroll.sandbox._generate import is_count
from backscroll.sandbox._store import typed_store
from backscroll.sandbox._talkifai import TalkifaiFake, TalkifaiQuirks
from backscroll.sandbox._talkifai_data import TalkifaiStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence

    from backscroll._registry import VendorProvider
    from backscroll.sandbox._fake import SandboxFake
    from backscroll.sandbox._generate import Generation
    from backscroll.sandbox._store import ConversationStore, Record

__all__ = [
    "BuiltinData",
    "BuiltinFakes",
    "BuiltinOptions",
    "BuiltinSizes",
    "StoreOptions",
    "builtin_stores",
    "sizes_of",
]

_Fake = TypeVar("_Fake")
_Provider = TypeVar("_Provider")


class BuiltinSizes(TypedDict, total=False):
    """The built-in fakes' generated sizes, per vendor (`SandboxData` and `Sandbox` keywords)."""

    convai_sizes: Sequence[int]
    talkifai_sizes: Sequence[int]
    cursor_sizes: Sequence[int]


class BuiltinOptions(BuiltinSizes, total=False):
    """The built-in fakes' `Sandbox` keywords: generated sizes and quirks, per vendor."""

    convai_quirks: ConvaiQuirks | None
    talkifai_quirks: TalkifaiQuirks | None
    cursor_quirks: CursorQuirks | None


class StoreOptions(TypedDict, total=False):
    """The built-in stores' own keywords to `SandboxData.add_messages` and `add_records`."""

    character_id: str | None


_StoreFactory: TypeAlias = "Callable[[Generation, Sequence[int]], ConversationStore]"

#: Each built-in vendor's store: its size option, its factory and its default sizes.
_STORES: Final[Mapping[str, tuple[str, _StoreFactory, Sequence[int]]]] = {
    "convai": ("convai_sizes", ConvaiStore, _convai_data.DEFAULT_SIZES),
    "talkifai": ("talkifai_sizes", TalkifaiStore, _talkifai_data.DEFAULT_SIZES),
    "cursor": ("cursor_sizes", CursorStore, _cursor_data.DEFAULT_SIZES),
}


def builtin_stores(generation: Generation, sizes: BuiltinSizes) -> dict[str, ConversationStore]:
    """
    The built-in fakes' seeded stores, by vendor name.

    Raises:
        ConfigurationError: a size option no built-in takes, or sizes that are not a
            sequence of non-negative integers.
    """
    given = cast("dict[str, Any]", sizes)
    _refuse_unknown(given, BuiltinSizes.__optional_keys__, "SandboxData()")
    for name, value in given.items():
        if isinstance(value, str | bytes) or not all(is_count(s) for s in value):
            msg = f"{name} must be a sequence of non-negative integers, got {value!r}"
            raise ConfigurationError(msg)
    return {
        vendor: factory(generation, given.get(option, default))
        for vendor, (option, factory, default) in _STORES.items()
    }


def sizes_of(options: BuiltinOptions) -> BuiltinSizes:
    """
    The data-shaping options among the `Sandbox` keywords given.

    Raises:
        ConfigurationError: an option no built-in fake takes (a typo would otherwise be
            ignored, and the sandbox would serve other data than asked for).
    """
    given = cast("dict[str, Any]", options)
    _refuse_unknown(given, BuiltinOptions.__optional_keys__, "Sandbox()")
    sizes = {name: given[name] for name in BuiltinSizes.__optional_keys__ if name in given}
    return cast("BuiltinSizes", sizes)


def _refuse_unknown(given: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        msg = (
            f"{where} got an unexpected keyword argument {names}: the fakes' own options "
            f"are {', '.join(sorted(known))}"
        )
        raise ConfigurationError(msg)


class BuiltinData:
    """
    The built-in stores' own spellings, mixed into `SandboxData`.

    Each delegates to the vendor's store (`SandboxData.store`), typed.
    """

    if TYPE_CHECKING:

        @property
        def stores(self) -> Mapping[str, ConversationStore]:
            """Declared by `SandboxData`."""
            ...

    @property
    def convai_sessions(self) -> dict[str, list[Record]]:
        """Character id to its Convai session records, newest first (as ``list`` answers)."""
        return typed_store(self.stores, "convai", ConvaiStore).sessions

    @property
    def convai_interactions(self) -> dict[str, list[Record]]:
        """Session id to its Convai interaction records, oldest first."""
        return typed_store(self.stores, "convai", ConvaiStore).interactions

    @property
    def talkifai(self) -> dict[str, list[Record]]:
        """Talkifai conversation id to its message records, oldest first."""
        return typed_store(self.stores, "talkifai", TalkifaiStore).conversations

    @property
    def cursor(self) -> dict[str, list[Record]]:
        """Cursor-API conversation id to its message records, oldest first."""
        return typed_store(self.stores, "cursor", CursorStore).conversations

    def extend_convai(self, session_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* interactions to a Convai session (see `ConvaiStore.extend`).

        Returns:
            The new interaction records.

        Raises:
            ConfigurationError: the session does not exist.
        """
        return typed_store(self.stores, "convai", ConvaiStore).extend(session_id, count)

    def extend_talkifai(self, conversation_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* messages to a Talkifai conversation, creating it if needed.

        Returns:
            The new message records.
        """
        return typed_store(self.stores, "talkifai", TalkifaiStore).grow(conversation_id, count)

    def extend_cursor(self, conversation_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* messages to a cursor-API conversation, creating it if needed.

        Returns:
            The new message records (with their ``metadata``).
        """
        return typed_store(self.stores, "cursor", CursorStore).grow(conversation_id, count)

    def add_convai_character(self, character_id: str) -> None:
        """Create a Convai character without sessions (no-op if it exists)."""
        typed_store(self.stores, "convai", ConvaiStore).add_character(character_id)

    def add_convai_session(
        self, character_id: str = CONVAI_CHARACTER_ID, *, interactions: int = 0
    ) -> str:
        """
        Start a new Convai session, newer than every other session of the character.

        Returns:
            The new session's id.
        """
        store = typed_store(self.stores, "convai", ConvaiStore)
        return store.add_session(character_id, interactions=interactions)

    def delete_convai_sessions(self, character_id: str, session_ids: Sequence[str]) -> None:
        """Delete Convai sessions of a character; ids it does not have are ignored."""
        typed_store(self.stores, "convai", ConvaiStore).delete_sessions(character_id, session_ids)

    def convai_session_owner(self, session_id: str) -> str | None:
        """The character a Convai session belongs to, or ``None``."""
        return typed_store(self.stores, "convai", ConvaiStore).session_owner(session_id)


class BuiltinFakes:
    """
    The built-in fakes' quirks and typed provider openers, mixed into `Sandbox`.

    Each quirk is the fake's own (``sandbox.fakes["cursor"].quirks``); these properties
    read and replace it.
    """

    if TYPE_CHECKING:
        fakes: Mapping[str, SandboxFake]

        def provider(
            self, vendor: str, *, base_url: str | None = None, **options: Any
        ) -> contextlib.AbstractAsyncContextManager[VendorProvider]:
            """Declared by `Sandbox`."""
            ...

    def _builtin(self, vendor: str, kind: type[_Fake]) -> _Fake:
        fake = self.fakes.get(vendor)
        if not isinstance(fake, kind):
            msg = (
                f"the sandbox serves no built-in {vendor} fake here ({type(fake).__name__} in "
                f"its place): use sandbox.fakes[{vendor!r}] and sandbox.provider({vendor!r})"
            )
            raise ConfigurationError(msg)
        return fake

    def _set_quirks(self, options: BuiltinOptions) -> None:
        """Give each built-in fake the quirks the `Sandbox` keywords name."""
        if (convai := options.get("convai_quirks")) is not None:
            self.convai_quirks = convai
        if (talkifai := options.get("talkifai_quirks")) is not None:
            self.talkifai_quirks = talkifai
        if (cursor := options.get("cursor_quirks")) is not None:
            self.cursor_quirks = cursor

    @property
    def convai_quirks(self) -> ConvaiQuirks:
        """Convai misbehaviour in force; replace it between requests."""
        return self._builtin("convai", ConvaiFake).quirks

    @convai_quirks.setter
    def convai_quirks(self, quirks: ConvaiQuirks) -> None:
        self._builtin("convai", ConvaiFake).quirks = quirks

    @property
    def talkifai_quirks(self) -> TalkifaiQuirks:
        """Talkifai behaviour in force (limits, past-the-end answer, repeats)."""
        return self._builtin("talkifai", TalkifaiFake).quirks

    @talkifai_quirks.setter
    def talkifai_quirks(self, quirks: TalkifaiQuirks) -> None:
        self._builtin("talkifai", TalkifaiFake).quirks = quirks

    @property
    def cursor_quirks(self) -> CursorQuirks:
        """Cursor-API behaviour in force (limits, page order, cursor misbehaviour)."""
        return self._builtin("cursor", CursorFake).quirks

    @cursor_quirks.setter
    def cursor_quirks(self, quirks: CursorQuirks) -> None:
        self._builtin("cursor", CursorFake).quirks = quirks

    @contextlib.asynccontextmanager
    async def _typed(
        self, vendor: str, kind: type[_Provider], **options: Any
    ) -> AsyncIterator[_Provider]:
        """`Sandbox.provider`, as the built-in provider class it opens."""
        async with self.provider(vendor, **options) as provider:
            if not isinstance(provider, kind):  # pragma: no cover - a registry swapped it
                msg = f"the {vendor} vendor opened a {type(provider).__name__}, not {kind.__name__}"
                raise ConfigurationError(msg)
            yield provider

    def convai(
        self,
        *,
        character_id: str = CONVAI_CHARACTER_ID,
        base_url: str | None = None,
        **options: Any,
    ) -> contextlib.AbstractAsyncContextManager[ConvaiProvider]:
        """
        A `ConvaiProvider` for the sandbox's character, with the sandbox's key.

        Args:
            character_id: The character to read.
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `ConvaiProvider` arguments (``max_retries``, ``timezone``...).
        """
        return self._typed(
            "convai", ConvaiProvider, character_id=character_id, base_url=base_url, **options
        )

    def talkifai(
        self, *, base_url: str | None = None, **options: Any
    ) -> contextlib.AbstractAsyncContextManager[TalkifaiProvider]:
        """
        A `TalkifaiProvider` with the sandbox's master token.

        Args:
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `TalkifaiProvider` arguments; ``token=`` replaces the master
                token (``token=backscroll.sandbox.session_token`` for per-conversation
                tokens).
        """
        return self._typed("talkifai", TalkifaiProvider, base_url=base_url, **options)

    def cursor(
        self, *, base_url: str | None = None, **options: Any
    ) -> contextlib.AbstractAsyncContextManager[CursorProvider]:
        """
        A `CursorProvider` with the sandbox's API key.

        Args:
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `CursorProvider` arguments.
        """
        return self._typed("cursor", CursorProvider, base_url=base_url, **options)
