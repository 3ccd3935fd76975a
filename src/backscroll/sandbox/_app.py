"""
The sandbox: one Starlette app serving the three fake vendors, and the handles tests need.

`Sandbox` owns the fakes (each with its store and its quirks), the ground truth that
holds their stores (`SandboxData`), the fault plan and the app. It also hands out what a
test needs in two lines: an in-process `httpx` transport and client, and providers
already wired to the app with the sandbox's credentials.
"""

from __future__ import annotations

import collections
import contextlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Unpack

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

from backscroll._registry import load_object, vendors
from backscroll.errors import ConfigurationError
from backscroll.sandbox._data import SandboxData
from backscroll.sandbox._fake import SandboxFake
from backscroll.sandbox._faults import (
    FaultLayer,
    FaultPlan,
    Faults,
    PageRepeater,
    RequestRecord,
    SandboxTransport,
    Target,
)
from backscroll.sandbox._grow import grow
from backscroll.sandbox._store import ConversationStore
from backscroll.sandbox._vendors import BuiltinFakes, sizes_of

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterator,
        Awaitable,
        Callable,
        Hashable,
        Mapping,
    )

    from starlette.routing import BaseRoute

    from backscroll._registry import VendorProvider
    from backscroll.sandbox._fake import FakeFactory
    from backscroll.sandbox._vendors import BuiltinOptions

__all__ = ["BASE_URL", "Sandbox", "create_app"]

#: Where the in-process app answers: never resolved (the transport is the app itself), and
#: https so that providers accept it without allow_insecure_http.
BASE_URL: Final = "https://sandbox.localhost"

_MAX_LOG: Final = 10_000


class Sandbox(BuiltinFakes):
    """
    Faithful fakes of the Convai, Talkifai and cursor-paged APIs, as one ASGI app.

    Args:
        seed: Seeds the data: the same seed gives byte-identical conversations.
        burst_rate: Share of moments that start a burst of messages sharing one second.
        max_burst: The most messages one burst holds (2 to this many).
        faults: Fault plans by target: a vendor's name (``"cursor"``) or one of its
            routes (``"convai/list"``, ``"convai/details"``, ``"convai/delete"``,
            ``"talkifai/messages"``, ``"cursor/history"``; a route's plan beats its
            vendor's).
        fakes: Fake factories by vendor name, in place of the registered vendors' own
            (a plugin's fake with other sizes or quirks, say). Every registered vendor
            that declares a fake is served, plugins' included.
        fault_clock: The clock ``Faults(quota=...)`` counts seconds with (default
            `time.monotonic`): give a test's fake clock, the one the client waits on.
        fault_sleep: How ``latency`` and ``slow`` faults wait (default `anyio.sleep`): give
            a test's own to observe the waits without waiting.
        **builtin: The built-in fakes' own options, below.

    Other Parameters:
        convai_sizes (Sequence[int]): Interactions per generated Convai session.
        talkifai_sizes (Sequence[int]): Messages per generated Talkifai conversation.
        cursor_sizes (Sequence[int]): Messages per generated cursor-API conversation.
        convai_quirks (ConvaiQuirks | None): Convai misbehaviour to switch on.
        talkifai_quirks (TalkifaiQuirks | None): Talkifai behaviour to switch on.
        cursor_quirks (CursorQuirks | None): Cursor-API behaviour to switch on.

    Attributes:
        app: The Starlette app (``app.state.sandbox`` is this object).
        fakes: The fake vendor APIs served, by vendor name (`SandboxFake` objects, each
            with its ``store`` and, for the built-ins, its ``quirks``).
        data: The ground truth: every fake's store, by vendor name.
        requests: The requests answered so far, newest last (the last 10,000).

    Quirks may be replaced between requests (``sandbox.cursor_quirks = CursorQuirks(...)``,
    which sets ``sandbox.fakes["cursor"].quirks``);
    faults with `set_faults`; the fault layer's clock and sleep with `fault_clock` and
    `fault_sleep`; `forget_repeats` starts the ``repeat_page_every`` count afresh.

    Raises:
        ConfigurationError: an option is unusable.

    .. code-block:: python

        sandbox = Sandbox(seed=0)
        async with sandbox.cursor() as provider:
            messages = [m async for m in provider.messages("con_9s2kd81")]

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        burst_rate: float = 0.3,
        max_burst: int = 8,
        faults: Mapping[str, Faults] | None = None,
        fakes: Mapping[str, FakeFactory] | None = None,
        fault_clock: Callable[[], float] | None = None,
        fault_sleep: Callable[[float], Awaitable[None]] | None = None,
        **builtin: Unpack[BuiltinOptions],
    ) -> None:
        self.data = SandboxData(
            seed=seed, burst_rate=burst_rate, max_burst=max_burst, **sizes_of(builtin)
        )
        self._repeater = PageRepeater()
        self.fakes: Mapping[str, SandboxFake] = _fakes(self, fakes or {})
        for name, fake in self.fakes.items():
            self.data.attach(name, fake.store)
        self._set_quirks(builtin)
        targets = {name: fake.route_names for name, fake in self.fakes.items()}
        self._plan = FaultPlan(faults or {}, targets)
        if fault_clock is not None:
            self.fault_clock = fault_clock
        if fault_sleep is not None:
            self.fault_sleep = fault_sleep
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=_MAX_LOG)
        routes: list[BaseRoute] = [route for fake in self.fakes.values() for route in fake.routes()]
        layer = Middleware(FaultLayer, plan=self._plan, classify=self._classify, log=self.requests)
        self.app = Starlette(routes=routes, middleware=[layer])
        self.app.state.sandbox = self

    def __repr__(self) -> str:
        return f"<Sandbox seed={self.data.seed} faults={sorted(self._plan.faults)}>"

    @property
    def faults(self) -> Mapping[str, Faults]:
        """The fault plans in force, by target."""
        return dict(self._plan.faults)

    def set_faults(self, target: str, faults: Faults | None) -> None:
        """
        Attach a fault plan to a vendor or route (``None`` removes it).

        Raises:
            ConfigurationError: no such target.
        """
        self._plan.set(target, faults)

    @property
    def fault_clock(self) -> Callable[[], float]:
        """
        The clock ``Faults(quota=...)`` counts with, in seconds; assign a fake one in tests.

        .. versionadded:: 0.2.0
        """
        return self._plan.clock

    @fault_clock.setter
    def fault_clock(self, clock: Callable[[], float]) -> None:
        self._plan.clock = clock

    @property
    def fault_sleep(self) -> Callable[[float], Awaitable[None]]:
        """
        How ``latency`` and ``slow`` faults wait; assign your own to observe the waits.

        It runs on the loop that serves the request (uvicorn's own under `serving`).

        .. versionadded:: 0.2.0
        """
        return self._plan.sleep

    @fault_sleep.setter
    def fault_sleep(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._plan.sleep = sleep

    def forget_repeats(self) -> None:
        """
        Start the ``repeat_page_every`` quirks counting afresh, as in a new sandbox.

        Use it between reads that should each meet the repeats at the same pages.

        .. versionadded:: 0.2.0
        """
        self._repeater.forget()

    def stale_or(self, key: Hashable, every: int | None, page: Any, stale: Any = None) -> Any:
        """The ``repeat_page_every`` quirk: *page*, or on every n-th call a stale answer."""
        return self._repeater(key, every, page, stale)

    def grow(
        self, conversation_id: str, count: int = 1, *, vendor: str | None = None
    ) -> list[dict[str, Any]]:
        """
        Append *count* messages (Convai: interactions) to a conversation, as if sent now.

        The vendor is the one that holds *conversation_id* (name it with *vendor* when
        several do, or to create a Talkifai or cursor-API conversation).

        Returns:
            The new records, as served.

        .. versionadded:: 0.1.0
        """
        return grow(self.data.stores, conversation_id, count, vendor=vendor)

    # -- wiring ----------------------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An httpx transport that serves requests from this sandbox, in-process."""
        return SandboxTransport(self.app)

    def client(self, **options: Any) -> httpx.AsyncClient:
        """
        An `httpx.AsyncClient` wired to this sandbox in-process, based at `BASE_URL`.

        *options* go to `httpx.AsyncClient`. Close it when done (``async with``).
        """
        options.setdefault("base_url", BASE_URL)
        return httpx.AsyncClient(transport=self.transport(), **options)

    @contextlib.asynccontextmanager
    async def provider(
        self, vendor: str, *, base_url: str | None = None, **options: Any
    ) -> AsyncIterator[VendorProvider]:
        """
        A provider of any registered vendor with a fake, wired to this sandbox.

        Args:
            vendor: The vendor's name (see `backscroll.vendors`).
            base_url: A running sandbox's root URL (see `serving`); default in-process.
            **options: More provider arguments; they replace the fake's credentials.

        Raises:
            ConfigurationError: no fake of that name is served.

        .. versionadded:: 0.2.0
        """
        fake = self.fakes.get(vendor)
        if fake is None:
            msg = f"the sandbox has no fake {vendor!r}; it serves {', '.join(self.fakes)}"
            raise ConfigurationError(msg)
        for key, value in fake.provider_options().items():
            options.setdefault(key, value)
        registered = vendors()[vendor]
        async with (
            self._http_client(base_url) as (client, root),
            registered.open(
                base_url=f"{root}{fake.api_root}", http_client=client, **options
            ) as provider,
        ):
            yield provider

    @contextlib.asynccontextmanager
    async def _http_client(
        self, base_url: str | None
    ) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
        if base_url is None:
            client, root = self.client(), BASE_URL
        else:
            # Loopback: a proxy from the environment would only get in the way.
            client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
            root = base_url.rstrip("/")
        async with client:
            yield client, root

    def serving(
        self, *, host: str = "127.0.0.1", port: int = 0
    ) -> contextlib.AbstractAsyncContextManager[str]:
        """
        Serve this sandbox under uvicorn on loopback while the block runs.

        Yields the root URL (``http://127.0.0.1:<port>``); see `backscroll.sandbox.serving`.
        """
        from backscroll.sandbox._server import serving  # noqa: PLC0415 - uvicorn on demand

        return serving(self, host=host, port=port)

    def _classify(self, path: str) -> Target | None:
        for vendor, fake in self.fakes.items():
            if path.startswith(fake.prefix + "/"):
                route = fake.classify(path)
                return Target(vendor, route, fake.error_response) if route else None
        return None


def _fakes(sandbox: Sandbox, factories: Mapping[str, FakeFactory]) -> Mapping[str, SandboxFake]:
    """Every registered vendor's fake (or the one *factories* gives instead), made for *sandbox*."""
    registered = vendors()
    unknown = sorted(set(factories) - set(registered))
    if unknown:
        msg = f"Sandbox(fakes=...) names no registered vendor: {', '.join(unknown)}"
        raise ConfigurationError(msg)
    made: dict[str, SandboxFake] = {}
    for name, vendor in registered.items():
        factory = factories.get(name)
        if factory is None and vendor.fake is not None:
            factory = load_object(vendor.fake)
        if factory is not None:
            made[name] = _checked(name, factory(sandbox))
    return MappingProxyType(made)


def _checked(name: str, fake: object) -> SandboxFake:
    """*fake*, if it is one: a fake without its store would serve data nobody can load or count."""
    if not isinstance(fake, SandboxFake) or not isinstance(fake.store, ConversationStore):
        msg = (
            f"the {name} fake ({type(fake).__name__}) is not a backscroll.sandbox.SandboxFake: "
            "it needs prefix, api_root, route_names, routes(), classify(), error_response(), "
            "provider_options() and a store (a ConversationStore; subclass "
            "backscroll.sandbox.RecordStore for lists of records)"
        )
        raise ConfigurationError(msg)
    return fake


def create_app(
    *,
    seed: int = 0,
    burst_rate: float = 0.3,
    max_burst: int = 8,
    faults: Mapping[str, Faults] | None = None,
    **builtin: Unpack[BuiltinOptions],
) -> Starlette:
    """
    The sandbox's ASGI app; ``app.state.sandbox`` is its `Sandbox` (ground truth and all).

    The arguments are those of `Sandbox`. Serve it with any ASGI server, or in-process with
    ``httpx.ASGITransport(app=app)``.

    .. versionadded:: 0.1.0
    """
    return Sandbox(
        seed=seed, burst_rate=burst_rate, max_burst=max_burst, faults=faults, **builtin
    ).app
