"""What the providers share: `async with` for every one; the rest of the HTTP ones."""

from __future__ import annotations

import abc
import copy
import os
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, ClassVar, Self, TypedDict, Unpack
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backscroll._closing import Closeable
from backscroll._http import DEFAULT_ERROR_KEYS, DEFAULT_MAX_RESPONSE_BYTES, HTTPCore
from backscroll._paging import Window, clamp_page_size, windowed
from backscroll._validate import credential, nonempty_str
from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    import httpx
    import httpx2

    from backscroll._models import Message
    from backscroll._protocols import Order
    from backscroll._ratelimit import RateLimiter

__all__ = [
    "Closeable",
    "HTTPProvider",
    "ProviderOptions",
    "resolve_credential",
    "resolve_timezone",
]


class ProviderOptions(TypedDict, total=False):
    """
    The keyword arguments every HTTP provider takes besides its credential and ``base_url``.

    Declared once, here; each constructor takes them as ``**options``, and type checkers
    and IDEs still check and complete each name (PEP 692).

    Attributes:
        http_client: Your own ``httpx.AsyncClient`` or ``httpx2.AsyncClient``, used as is
            and never closed by the provider (its transport is how tests plug in). Its
            errors are mapped the same way whichever library it comes from.
        timeout: Seconds, or an ``httpx.Timeout``, bounding each whole attempt, the body
            included (for an ``httpx.Timeout``, its longest phase bounds the attempt and
            each phase keeps its own bound). Default 30 s (10 s to connect).
        max_retries: Retries of a failed request (connection errors, timeouts,
            408/409/429/5xx). Default 2.
        rate_limit: At most this many requests per second across everything the provider
            sends, however many tasks share it; a 429 slows it further until the vendor
            recovers. A `RateLimiter` instead shares one quota between several providers
            (and lets you read its waits). Default ``None``: no pacing.
        timezone: The zone of the vendor's naive timestamps (a ``tzinfo`` or IANA name).
            Default UTC.
        allow_insecure_http: Allow a plain ``http://`` base URL to a non-loopback host.
        max_response_bytes: The largest response body read before failing (64 MiB).

    .. versionadded:: 0.1.0
    """

    http_client: httpx.AsyncClient | httpx2.AsyncClient | None
    timeout: float | httpx.Timeout | None
    max_retries: int
    rate_limit: float | RateLimiter | None
    timezone: tzinfo | str
    allow_insecure_http: bool
    max_response_bytes: int


def resolve_credential(value: str | None, *, parameter: str, env_var: str, provider: str) -> str:
    """
    The credential given, else the one in *env_var*.

    Raises:
        ConfigurationError: neither is set (a `ValueError`, never an API call).
    """
    if value is None:
        value = os.environ.get(env_var)
    if not value:
        msg = f"{provider} needs a credential: pass {parameter}=... or set {env_var}"
        raise ConfigurationError(msg)
    return credential(value, f"{provider} {parameter}")


def resolve_timezone(value: tzinfo | str) -> tzinfo:
    """A `tzinfo` from a zone or an IANA name (``"Europe/Berlin"``)."""
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'"
        raise ConfigurationError(msg) from None


class HTTPProvider(Closeable):
    """
    The shared body of the HTTP providers (Convai, Talkifai, the cursor API).

    A subclass names itself, says how to fetch pages (`_pages`) and reads its vendor's
    records; retries, errors, windows and lifecycle are here.
    """

    name: ClassVar[str]
    #: The keys of the vendor's JSON error body that hold its error text, tried in order.
    error_keys: ClassVar[tuple[str, ...]] = DEFAULT_ERROR_KEYS
    #: Messages per request when the caller gives no ``page_size``, and the vendor's maximum.
    default_page_size: ClassVar[int]
    max_page_size: ClassVar[int]
    min_page_size: ClassVar[int] = 1

    def __init__(
        self,
        *,
        base_url: str,
        credential_hint: str,
        secrets: Sequence[str],
        send_request_id: bool = False,
        **options: Unpack[ProviderOptions],
    ) -> None:
        unknown = sorted(set(options) - ProviderOptions.__optional_keys__)
        if unknown:
            # What Python would say of a named parameter: the type checker says it too.
            msg = f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
            raise TypeError(msg)
        self.timezone = resolve_timezone(options.get("timezone", "UTC"))
        self._http = HTTPCore(
            provider=self.name,
            base_url=base_url,
            credential_hint=credential_hint,
            http_client=options.get("http_client"),
            timeout=options.get("timeout"),
            max_retries=options.get("max_retries", 2),
            allow_insecure_http=options.get("allow_insecure_http", False),
            max_response_bytes=options.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
            secrets=secrets,
            send_request_id=send_request_id,
            rate_limit=options.get("rate_limit"),
            error_keys=self.error_keys,
        )

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """
        A copy of this provider with another ``timeout`` or ``max_retries``.

        The copy sends through the same connection pool and the same rate limit; closing it
        leaves the pool open (the original owns it), and closing the original closes both.

        Example::

            patient = provider.with_options(timeout=120, max_retries=5)

        Raises:
            ConfigurationError: an option is invalid.

        .. versionadded:: 0.1.0
        """
        derived = copy.copy(self)
        derived._http = self._http.with_options(timeout=timeout, max_retries=max_retries)  # noqa: SLF001
        return derived

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """
        The provider's rate limit (``None`` without ``rate_limit=``), to observe its waits.

        Its ``waiting``, ``waits``, ``waited`` and ``rate`` say how many tasks wait right
        now, how often and how long they waited, and how fast the provider may send now.

        .. versionadded:: 0.1.0
        """
        return self._http.limiter

    @property
    def base_url(self) -> str:
        """The vendor's base URL, without a trailing slash."""
        return self._http.base_url

    @property
    def retries(self) -> int:
        """How many requests this provider has retried so far."""
        return self._http.stats.retries

    def identity(self) -> dict[str, str]:
        """
        Its name and base URL (without user, password, query or fragment), for checkpoints.

        See `backscroll.Identifiable`.
        """
        parts = urlsplit(self.base_url)
        host = parts.netloc.rpartition("@")[2]
        return {"name": self.name, "base_url": urlunsplit((parts.scheme, host, parts.path, "", ""))}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client the provider created; a caller's ``http_client`` stays open."""
        await self._http.aclose()

    def messages(
        self,
        conversation_id: str,
        *,
        order: Order = "asc",
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Message]:
        """
        Yield every message of a conversation exactly once, lazily, page by page.

        Args:
            conversation_id: The vendor's conversation (session) id.
            order: ``"asc"`` (oldest first, the default) or ``"desc"`` (newest first).
            since: Inclusive lower bound on `Message.created_at` (naive means UTC).
            until: Exclusive upper bound on `Message.created_at` (naive means UTC).
            page_size: Messages per request, clamped to the vendor's maximum; the default
                is the maximum, for the fewest requests.

        Raises:
            ConfigurationError: an argument is invalid (raised here, before any request).

        Iterating raises the `backscroll.errors` of the requests it makes.
        """
        if order not in {"asc", "desc"}:
            msg = f"order must be 'asc' or 'desc', got {order!r}"
            raise ConfigurationError(msg)
        nonempty_str(conversation_id, "conversation_id")
        window = Window.of(since, until)
        limit = clamp_page_size(
            page_size,
            default=self.default_page_size,
            maximum=self.max_page_size,
            minimum=self.min_page_size,
        )
        batches = self._pages(conversation_id, order, window, limit)
        return windowed(batches, window, order, guard=self._http.redact.errors)

    @abc.abstractmethod
    def _pages(
        self, conversation_id: str, order: Order, window: Window, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        """Batches of the conversation's messages, in *order*, each message once."""
