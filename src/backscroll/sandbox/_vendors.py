"""
The built-in vendors' conveniences on `Sandbox`: their options, quirks and typed openers.

The sandbox itself is vendor-neutral: it serves whatever fakes the registry names and
opens any of them with `Sandbox.provider`. What the three built-in fakes add for the
reader's comfort (``Sandbox(cursor_sizes=..., cursor_quirks=...)``,
``sandbox.cursor_quirks = ...``, ``sandbox.cursor()``) is declared here, once, so that a
fourth built-in vendor is one more entry here and nothing changes in ``_app.py``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, TypedDict, cast

from backscroll.errors import ConfigurationError
from backscroll.sandbox._convai import ConvaiQuirks
from backscroll.sandbox._cursor import CursorQuirks
from backscroll.sandbox._data import (
    CONVAI_CHARACTER_ID,
    DEFAULT_CONVAI_SIZES,
    DEFAULT_CURSOR_SIZES,
    DEFAULT_TALKIFAI_SIZES,
)
from backscroll.sandbox._talkifai import TalkifaiQuirks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from backscroll._registry import VendorProvider
    from backscroll.providers import ConvaiProvider, CursorProvider, TalkifaiProvider

__all__ = ["SIZE_OPTIONS", "BuiltinFakes", "BuiltinOptions", "sizes_of"]


class BuiltinOptions(TypedDict, total=False):
    """The built-in fakes' `Sandbox` keywords: generated sizes and quirks, per vendor."""

    convai_sizes: Sequence[int]
    talkifai_sizes: Sequence[int]
    cursor_sizes: Sequence[int]
    convai_quirks: ConvaiQuirks | None
    talkifai_quirks: TalkifaiQuirks | None
    cursor_quirks: CursorQuirks | None


#: The options that shape the generated data (they go to `SandboxData`), with defaults.
SIZE_OPTIONS: Final = {
    "convai_sizes": DEFAULT_CONVAI_SIZES,
    "talkifai_sizes": DEFAULT_TALKIFAI_SIZES,
    "cursor_sizes": DEFAULT_CURSOR_SIZES,
}


def sizes_of(options: BuiltinOptions) -> dict[str, Sequence[int]]:
    """
    The data-shaping options, defaults filled in.

    Raises:
        ConfigurationError: an option no built-in fake takes (a typo would otherwise be
            ignored, and the sandbox would serve other data than asked for).
    """
    given = cast("dict[str, Any]", options)
    unknown = sorted(set(given) - BuiltinOptions.__optional_keys__)
    if unknown:
        known = ", ".join(sorted(BuiltinOptions.__optional_keys__))
        names = ", ".join(repr(name) for name in unknown)
        msg = (
            f"Sandbox() got an unexpected keyword argument {names}: the fakes' own options "
            f"are {known}"
        )
        raise ConfigurationError(msg)
    return {name: given.get(name, default) for name, default in SIZE_OPTIONS.items()}


class BuiltinFakes:
    """
    The built-in fakes' quirks and typed provider openers, mixed into `Sandbox`.

    Attributes:
        convai_quirks: Convai misbehaviour in force.
        talkifai_quirks: Talkifai behaviour in force (limits, past-the-end answer, repeats).
        cursor_quirks: Cursor-API behaviour in force (limits, page order, cursor
            misbehaviour).
    """

    convai_quirks: ConvaiQuirks
    talkifai_quirks: TalkifaiQuirks
    cursor_quirks: CursorQuirks

    if TYPE_CHECKING:

        def provider(
            self, vendor: str, *, base_url: str | None = None, **options: Any
        ) -> contextlib.AbstractAsyncContextManager[VendorProvider]:
            """Declared by `Sandbox`."""
            ...

    def _set_quirks(self, options: BuiltinOptions) -> None:
        self.convai_quirks = options.get("convai_quirks") or ConvaiQuirks()
        self.talkifai_quirks = options.get("talkifai_quirks") or TalkifaiQuirks()
        self.cursor_quirks = options.get("cursor_quirks") or CursorQuirks()

    @contextlib.asynccontextmanager
    async def convai(
        self,
        *,
        character_id: str = CONVAI_CHARACTER_ID,
        base_url: str | None = None,
        **options: Any,
    ) -> AsyncIterator[ConvaiProvider]:
        """
        A `ConvaiProvider` for the sandbox's character, with the sandbox's key.

        Args:
            character_id: The character to read.
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `ConvaiProvider` arguments (``max_retries``, ``timezone``...).
        """
        async with self.provider(
            "convai", character_id=character_id, base_url=base_url, **options
        ) as provider:
            yield cast("ConvaiProvider", provider)

    @contextlib.asynccontextmanager
    async def talkifai(
        self, *, base_url: str | None = None, **options: Any
    ) -> AsyncIterator[TalkifaiProvider]:
        """
        A `TalkifaiProvider` with the sandbox's master token.

        Args:
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `TalkifaiProvider` arguments; ``token=`` replaces the master
                token (``token=backscroll.sandbox.session_token`` for per-conversation
                tokens).
        """
        async with self.provider("talkifai", base_url=base_url, **options) as provider:
            yield cast("TalkifaiProvider", provider)

    @contextlib.asynccontextmanager
    async def cursor(
        self, *, base_url: str | None = None, **options: Any
    ) -> AsyncIterator[CursorProvider]:
        """
        A `CursorProvider` with the sandbox's API key.

        Args:
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More `CursorProvider` arguments.
        """
        async with self.provider("cursor", base_url=base_url, **options) as provider:
            yield cast("CursorProvider", provider)
