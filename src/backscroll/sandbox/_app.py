"""
The sandbox: one Starlette app serving the three fake vendors, and the handles tests need.

`Sandbox` owns the ground truth (`SandboxData`), the quirks, the fault plan and the app.
It also hands out what a test needs in two lines: an in-process `httpx` transport and
client, and providers already wired to the app with the sandbox's credentials.
"""

from __future__ import annotations

import collections
import contextlib
from typing import TYPE_CHECKING, Any, Final

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

from backscroll.providers import ConvaiProvider, CursorProvider, TalkifaiProvider
from backscroll.sandbox import _convai, _cursor, _talkifai
from backscroll.sandbox._data import (
    CONVAI_CHARACTER_ID,
    DEFAULT_CONVAI_SIZES,
    DEFAULT_CURSOR_SIZES,
    DEFAULT_TALKIFAI_SIZES,
    SandboxData,
)
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

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence

    from starlette.responses import Response
    from starlette.routing import BaseRoute

__all__ = ["BASE_URL", "Sandbox", "create_app"]

#: Where the in-process app answers: never resolved (the transport is the app itself), and
#: https so that providers accept it without allow_insecure_http.
BASE_URL: Final = "https://sandbox.localhost"

_VENDORS: Final[
    Mapping[str, tuple[str, Callable[[str], str | None], Callable[[int], Response]]]
] = {
    "convai": (_convai.PREFIX, _convai.classify, _convai.error_response),
    "talkifai": (_talkifai.PREFIX, _talkifai.classify, _talkifai.error_response),
    "cursor": (_cursor.PREFIX, _cursor.classify, _cursor.error_response),
}
_ROUTES: Final = {
    "convai": _convai.ROUTES,
    "talkifai": _talkifai.ROUTES,
    "cursor": _cursor.ROUTES,
}
_MAX_LOG: Final = 10_000


class Sandbox:
    """
    Faithful fakes of the Convai, Talkifai and cursor-paged APIs, as one ASGI app.

    Args:
        seed: Seeds the data: the same seed gives byte-identical conversations.
        convai_sizes: Interactions per generated Convai session.
        talkifai_sizes: Messages per generated Talkifai conversation.
        cursor_sizes: Messages per generated cursor-API conversation.
        burst_rate: Share of moments that start a burst of messages sharing one second.
        max_burst: The most messages one burst holds (2 to this many).
        convai_quirks: Convai misbehaviour to switch on.
        talkifai_quirks: Talkifai behaviour (limits, past-the-end answer, repeats).
        cursor_quirks: Cursor-API behaviour (limits, page order, cursor misbehaviour).
        faults: Fault plans by target: ``"convai"``, ``"talkifai"``, ``"cursor"``, or one
            route, ``"convai/list"``, ``"convai/details"``, ``"convai/delete"``,
            ``"talkifai/messages"``, ``"cursor/history"`` (a route's plan beats its
            vendor's).

    Attributes:
        app: The Starlette app (``app.state.sandbox`` is this object).
        data: The ground truth: every conversation as served.
        requests: The requests answered so far, newest last (the last 10,000).

    Quirks may be replaced between requests (``sandbox.cursor_quirks = CursorQuirks(...)``);
    faults with `set_faults`.

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
        convai_sizes: Sequence[int] = DEFAULT_CONVAI_SIZES,
        talkifai_sizes: Sequence[int] = DEFAULT_TALKIFAI_SIZES,
        cursor_sizes: Sequence[int] = DEFAULT_CURSOR_SIZES,
        burst_rate: float = 0.3,
        max_burst: int = 8,
        convai_quirks: _convai.ConvaiQuirks | None = None,
        talkifai_quirks: _talkifai.TalkifaiQuirks | None = None,
        cursor_quirks: _cursor.CursorQuirks | None = None,
        faults: Mapping[str, Faults] | None = None,
    ) -> None:
        self.data = SandboxData(
            seed=seed,
            convai_sizes=convai_sizes,
            talkifai_sizes=talkifai_sizes,
            cursor_sizes=cursor_sizes,
            burst_rate=burst_rate,
            max_burst=max_burst,
        )
        self.convai_quirks = convai_quirks or _convai.ConvaiQuirks()
        self.talkifai_quirks = talkifai_quirks or _talkifai.TalkifaiQuirks()
        self.cursor_quirks = cursor_quirks or _cursor.CursorQuirks()
        self._plan = FaultPlan(faults or {}, _ROUTES)
        self._repeater = PageRepeater()
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=_MAX_LOG)
        routes: list[BaseRoute] = [
            *_convai.routes(self),
            *_talkifai.routes(self),
            *_cursor.routes(self),
        ]
        layer = Middleware(FaultLayer, plan=self._plan, classify=_classify, log=self.requests)
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
        return grow(self.data, conversation_id, count, vendor=vendor)

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
        options.setdefault("api_key", _convai.API_KEY)
        async with (
            self._http_client(base_url) as (client, root),
            ConvaiProvider(
                character_id=character_id, base_url=f"{root}/convai", http_client=client, **options
            ) as provider,
        ):
            yield provider

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
        options.setdefault("token", _talkifai.MASTER_TOKEN)
        async with (
            self._http_client(base_url) as (client, root),
            TalkifaiProvider(
                base_url=f"{root}/talkifai", http_client=client, **options
            ) as provider,
        ):
            yield provider

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
        options.setdefault("api_key", _cursor.API_KEY)
        async with (
            self._http_client(base_url) as (client, root),
            CursorProvider(base_url=f"{root}/cursor/v1", http_client=client, **options) as provider,
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


def _classify(path: str) -> Target | None:
    for vendor, (prefix, classify, error) in _VENDORS.items():
        if path.startswith(prefix + "/"):
            route = classify(path)
            return Target(vendor, route, error) if route else None
    return None


def create_app(
    *,
    seed: int = 0,
    convai_sizes: Sequence[int] = DEFAULT_CONVAI_SIZES,
    talkifai_sizes: Sequence[int] = DEFAULT_TALKIFAI_SIZES,
    cursor_sizes: Sequence[int] = DEFAULT_CURSOR_SIZES,
    burst_rate: float = 0.3,
    max_burst: int = 8,
    convai_quirks: _convai.ConvaiQuirks | None = None,
    talkifai_quirks: _talkifai.TalkifaiQuirks | None = None,
    cursor_quirks: _cursor.CursorQuirks | None = None,
    faults: Mapping[str, Faults] | None = None,
) -> Starlette:
    """
    The sandbox's ASGI app; ``app.state.sandbox`` is its `Sandbox` (ground truth and all).

    The arguments are those of `Sandbox`. Serve it with any ASGI server, or in-process with
    ``httpx.ASGITransport(app=app)``.

    .. versionadded:: 0.1.0
    """
    return Sandbox(
        seed=seed,
        convai_sizes=convai_sizes,
        talkifai_sizes=talkifai_sizes,
        cursor_sizes=cursor_sizes,
        burst_rate=burst_rate,
        max_burst=max_burst,
        convai_quirks=convai_quirks,
        talkifai_quirks=talkifai_quirks,
        cursor_quirks=cursor_quirks,
        faults=faults,
    ).app
