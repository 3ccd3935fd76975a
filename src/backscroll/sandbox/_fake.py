"""
What a fake vendor API gives the sandbox: its routes, its error wording, its store.

A vendor's `backscroll.Vendor` names its fake (``fake="package.module:Factory"``); the
sandbox calls that factory with itself, serves what it returns under the fake's
``prefix``, behind the shared fault layer, and keeps the fake's `ConversationStore` in
`SandboxData` under the vendor's name. The built-in fakes and a plugin's are the same
kind of object, so the demo, ``backscroll sandbox serve`` and the property tests treat
them alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from backscroll.sandbox._app import Sandbox
    from backscroll.sandbox._store import ConversationStore

__all__ = ["FakeFactory", "RoutedFake", "SandboxFake"]


@runtime_checkable
class SandboxFake(Protocol):
    """
    One fake vendor API inside a `Sandbox`.

    Plain attributes do for the four properties.

    .. versionadded:: 0.2.0
    """

    @property
    def prefix(self) -> str:
        """The path every route of the fake starts with (``"/tokenchat"``)."""
        ...

    @property
    def api_root(self) -> str:
        """The provider's ``base_url`` below the sandbox's root (``"/tokenchat/v1"``)."""
        ...

    @property
    def route_names(self) -> tuple[str, ...]:
        """The fake's routes, as fault targets (``"messages"`` for ``"tokenchat/messages"``)."""
        ...

    def routes(self) -> Sequence[BaseRoute]:
        """The Starlette routes that answer as the vendor does."""
        ...

    def classify(self, path: str) -> str | None:
        """The route name a request path belongs to, ``None`` for none of the fake's."""
        ...

    def error_response(self, status: int) -> Response:
        """An injected error status, worded as the vendor words its errors."""
        ...

    def provider_options(self) -> Mapping[str, Any]:
        """The provider keywords the fake accepts: its credential and settings."""
        ...

    @property
    def store(self) -> ConversationStore:
        """
        The fake's ground truth: what it serves, what users load, what a copy is checked by.

        `SandboxData` keeps it under the vendor's name (`SandboxData.store`).
        """
        ...


#: What a vendor's ``fake`` names: called with the sandbox, once per sandbox.
FakeFactory: TypeAlias = "Callable[[Sandbox], SandboxFake]"


class RoutedFake:
    """
    The adapter every built-in fake shares: a vendor module's route functions, bound.

    A vendor's fake module writes its routes, its path classifier and its error wording as
    plain functions; a subclass passes them here once and adds only what is its own (its
    store, its quirks, its credentials).

    Args:
        sandbox: The sandbox the fake serves in.
        routes: Makes the Starlette routes, bound to the fake (its store and quirks).
        classify: The route name of a request path, ``None`` for none of the fake's.
        error_response: An injected error status, worded as the vendor does.

    Attributes:
        sandbox: The sandbox the fake serves in.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        routes: Callable[[Any], Sequence[BaseRoute]],  # called with the subclass itself
        classify: Callable[[str], str | None],
        error_response: Callable[[int], Response],
    ) -> None:
        self.sandbox = sandbox
        self._routes = routes
        self._classify = classify
        self._error_response = error_response

    def routes(self) -> Sequence[BaseRoute]:
        """The fake's routes, bound to it."""
        return self._routes(self)

    def classify(self, path: str) -> str | None:
        """The route name of *path*, or ``None``."""
        return self._classify(path)

    def error_response(self, status: int) -> Response:
        """An injected error status, worded as the vendor does."""
        return self._error_response(status)
