"""
The one HTTP core every provider sends its requests through.

It owns the things that must be right once and the same for every vendor:

- safe URLs: every value put into a path is percent-encoded (``..`` too), plain ``http://``
  is refused unless the host is loopback or the caller opted in, redirects are never
  followed;
- retries with exponential backoff and jitter, honouring ``Retry-After`` (a value that is
  not a finite, non-negative number or an HTTP-date falls back to the backoff), and the
  optional adaptive rate limit (`backscroll._ratelimit`);
- the mapping of transport failures and HTTP statuses onto `backscroll.errors`, quoting
  the vendor's own error text: one context manager (`HTTPCore._mapped`) around one attempt,
  as httpx's own ``map_httpcore_exceptions`` is, and the retry loop around that;
- one bound on each whole attempt (connect, headers and body), since httpx's own timeouts
  bound each read only and a server trickling a byte at a time would never trip them;
- both client libraries: an ``httpx.AsyncClient`` or an ``httpx2.AsyncClient`` (the fork
  several AI SDKs moved to); each one's own exception classes are mapped the same way;
- a cap on the size of a response body, read as a stream so a huge body is never held;
- redaction: credentials never reach an exception message, a ``repr`` or a log line.

Why not stamina for the retries: the core may depend on httpx, attrs, cattrs and anyio
only, and stamina brings tenacity with it. The policy needed here (exponential backoff with
jitter, a cap, ``Retry-After`` in seconds or as an HTTP-date) is a dozen lines in
`RetryPolicy.delay`, and having it in-house lets the tests drive it with a fake clock.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import ipaddress
import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import aclosing
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import quote, urlencode

import anyio
import attrs
import httpx

from backscroll import _speed, errors, testing
from backscroll._fields import describe
from backscroll._hints import spell
from backscroll._ratelimit import RateLimiter, check_rate

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "DEFAULT_ERROR_KEYS",
    "DEFAULT_TIMEOUT",
    "HTTPCore",
    "RetryPolicy",
    "encode_path_segment",
]

logger = logging.getLogger("backscroll")

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})
#: The keys of a JSON error body that hold the vendor's text, tried in order; a provider
#: declares its own vendor's (`HTTPProvider.error_keys`).
DEFAULT_ERROR_KEYS: Final = ("error", "message", "detail")
_REDACTED: Final = "[REDACTED]"
_MIN_SECRET_LENGTH: Final = 4
# How much of a vendor's error text or of an unexpected body an error message quotes.
_MAX_QUOTED: Final = 300
_MAX_PREVIEW: Final = 80
# How much of an error response's body is read: enough for any vendor's error text.
_MAX_ERROR_BODY: Final = 64 * 1024

_E = TypeVar("_E", bound=BaseException)

_HINTS: Final[Mapping[int, str]] = {
    403: "The credential is valid but may not read this; check its plan or scope.",
    404: "Check the id; the conversation may have been deleted or expired.",
    429: "Rate limited after all retries; lower {concurrency} or raise {max_retries}.",
}

_STATUS_ERRORS: Final[Mapping[int, type[errors.APIStatusError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    429: errors.RateLimitError,
}


def encode_path_segment(value: object, *, what: str = "id") -> str:
    """
    Percent-encode one URL path segment so that it can never change which endpoint is called.

    ``/``, ``?``, ``#``, ``%``, spaces, CR/LF and non-ASCII are encoded; a segment of only
    dots is encoded too, since HTTP clients collapse ``..`` segments.

    Raises:
        ConfigurationError: *value* is empty or not a string.
    """
    if not isinstance(value, str) or not value:
        msg = f"{what} must be a non-empty string, got {describe(value)}"
        raise errors.ConfigurationError(msg)
    encoded = quote(value, safe="")
    if encoded.strip(".") == "":
        encoded = encoded.replace(".", "%2E")
    return encoded


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """
    When to retry a request and how long to wait.

    Retried: connection errors, timeouts, 408, 409, 429 and 5xx. The wait before retry *n*
    (0-based) is ``min(maximum, initial * 2**n)`` less up to 25% jitter, unless the vendor
    sent ``Retry-After`` (seconds or an HTTP-date), which is honoured up to
    *max_retry_after*.
    """

    max_retries: int = 2
    initial: float = 0.5
    maximum: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry: int, response: httpx.Response | None) -> float:
        """The seconds to wait before retry number *retry* (0-based)."""
        return self.wait(retry, None if response is None else _retry_after(response))

    def wait(self, retry: int, retry_after: float | None) -> float:
        """The seconds to wait before retry *retry*, given the vendor's ``Retry-After``."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.maximum, self.initial * 2.0**retry)
        return backoff * (1 - 0.25 * random.random())  # noqa: S311 - jitter, not crypto

    def should_retry(self, status_code: int) -> bool:
        """Whether a response with *status_code* is worth another attempt."""
        return status_code in RETRYABLE_STATUSES or status_code >= 500  # noqa: PLR2004


def _now() -> float:
    """The wall clock, for ``Retry-After`` dates (a seam for the tests' fixed clock)."""
    return time.time()


def _seconds(value: str, scale: float = 1.0) -> float | None:
    """A finite, non-negative number of seconds, else ``None`` (nan, inf, -1, garbage)."""
    try:
        number = float(value) * scale
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _retry_after(response: Any) -> float | None:
    """
    The wait the vendor asked for, or ``None`` when it asked for none usable.

    ``Retry-After-Ms`` first, then ``Retry-After`` in seconds or as an HTTP-date; a value
    that is none of these (``nan``, ``-3``, ``soon``) is ignored, and the backoff decides.
    """
    milliseconds = response.headers.get("retry-after-ms")
    if milliseconds is not None:
        hinted = _seconds(milliseconds, 1 / 1000)
        if hinted is not None:
            return hinted
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        pass  # not a number: an HTTP-date, or garbage
    else:
        return number if math.isfinite(number) and number >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 5322's "-0000" (no zone known) parses naive; HTTP-dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - _now())


def _is_loopback(host: str) -> bool:
    # Only the exact name: "*.localhost" is loopback by RFC 6761, but whether a resolver
    # honours that is up to the machine, and a wrong answer would send credentials in clear.
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_NAMED_ENTITIES: Final = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


def _any_form(char: str) -> str:
    r"""
    A regex for *char* in any form a vendor may echo it in.

    As is; percent-encoded (either case); JSON-escaped (``\u00..`` in either case, ``\/``,
    ``\"``, ``\\``); an HTML entity (decimal, hex or named). Credentials are printable
    ASCII (checked at construction); other characters are covered all the same.
    """
    code = ord(char)
    hex_code = f"{code:02x}"
    utf8 = char.encode("utf-8", "surrogatepass")
    escaped = json.dumps(char)[1:-1]  # \uXXXX, or a surrogate pair past the BMP
    forms = [
        re.escape(char),
        "".join(f"%(?i:{byte:02x})" for byte in utf8),
        "".join(rf"\\u(?i:{unit})" for unit in escaped.split("\\u")[1:])
        if escaped.startswith("\\u")
        else rf"\\u(?i:{code:04x})",
        rf"&\#0*{code};",
        rf"&\#[xX]0*(?i:{hex_code});",
    ]
    if char in '/"\\':
        forms.append(re.escape("\\" + char))
    if char in _NAMED_ENTITIES:
        forms.append(f"&{_NAMED_ENTITIES[char]};")
    if char == " ":
        forms.append(r"\+")  # form-encoded
    return "(?:" + "|".join(forms) + ")"


class Redactor:
    """
    Replaces every known credential in a text with ``[REDACTED]``.

    Not only the credential as is: also every form a vendor may echo it in (percent-encoded
    in either case, JSON-escaped, HTML entities, and any mix of these), since a vendor's
    error page or a proxy's echo is quoted in messages.
    """

    __slots__ = ("_pattern", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember one more credential to hide."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH or secret in self._secrets:
            # Too short to hide (credentials that short are refused at construction), or
            # known already (a token callable's repeat).
            return
        self._secrets.add(secret)
        # Longest first, so a secret containing another is replaced whole. Compiled as
        # secrets arrive rather than per call: a token callable adds one per conversation.
        alternatives = (
            "".join(_any_form(char) for char in known)
            for known in sorted(self._secrets, key=len, reverse=True)
        )
        self._pattern = re.compile("|".join(alternatives))

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """
        Redact the message of any `BackscrollError` raised inside the block.

        Messages built from vendor data (a misshapen body that quotes the credential) are
        cleaned here, where the secrets are known, whatever module raised them.
        """
        try:
            yield
        except errors.BackscrollError as exc:
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (self(exc.args[0]), *exc.args[1:])
            raise

    def __call__(self, text: str) -> str:
        """Return *text* with every credential, in any of its forms, replaced."""
        if self._pattern is None:
            return text
        return self._pattern.sub(_REDACTED, text)

    def excerpt(self, text: str, limit: int) -> str:
        """
        The first *limit* characters of *text*, redacted.

        Redaction comes first: cutting first could leave half a credential that no longer
        matches.
        """
        redacted = self(text)
        return redacted if len(redacted) <= limit else redacted[: limit - 3] + "..."

    def __repr__(self) -> str:
        return "<Redactor>"


@attrs.define
class Stats:
    """Counters a caller (the migration report) can read."""

    requests: int = 0
    retries: int = 0


class _Library:
    """
    What differs between httpx and httpx2: the module whose classes a client raises and takes.

    httpx2 keeps httpx's API and exception tree under its own classes, so an
    ``httpx2.ConnectError`` is not an ``httpx.ConnectError``: every ``except`` here names the
    client's own library.
    """

    __slots__ = ("decoding_error", "invalid_url", "module", "retryable", "timeout", "transport")

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.transport: type[Exception] = module.TransportError
        self.timeout: type[Exception] = module.TimeoutException
        # Worth another attempt. A LocalProtocolError (we sent something malformed) or an
        # UnsupportedProtocol would fail the same way again.
        self.retryable: tuple[type[Exception], ...] = (
            module.TimeoutException,
            module.NetworkError,
            module.RemoteProtocolError,
            module.ProxyError,
        )
        self.decoding_error: type[Exception] = module.DecodingError
        self.invalid_url: type[Exception] = module.InvalidURL

    def convert_timeout(self, timeout: httpx.Timeout) -> Any:
        """*timeout* as this library's own ``Timeout``."""
        if self.module is httpx:
            return timeout
        return self.module.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        )


_HTTPX: Final = _Library(httpx)
_LIBRARIES: Final = ("httpx", "httpx2")


def _library_of(client: object) -> _Library:
    """
    The library *client* comes from: httpx or httpx2, detected, never imported unasked.

    Raises:
        ConfigurationError: *client* is neither library's ``AsyncClient``.
    """
    for cls in type(client).__mro__:
        root = cls.__module__.partition(".")[0]
        if cls.__name__ == "AsyncClient" and root in _LIBRARIES:
            module = importlib.import_module(root)
            if module is httpx:  # httpx2's alias_httpx() makes them one
                return _HTTPX
            return _Library(module)
    msg = (
        "http_client must be an httpx.AsyncClient or an httpx2.AsyncClient, "
        f"got {type(client).__name__}"
    )
    raise errors.ConfigurationError(msg)


def _total_seconds(timeout: Any) -> float | None:
    """The bound on a whole attempt: the longest phase of *timeout* (``None``: unbounded)."""
    phases = [timeout.connect, timeout.read, timeout.write, timeout.pool]
    known = [phase for phase in phases if phase is not None]
    return max(known) if known else None


class _AttemptTimedOut(Exception):  # noqa: N818 - an event inside the core, never raised out
    """The whole-attempt deadline passed (mapped like the library's own timeouts)."""


class HTTPCore:
    """
    Sends a provider's requests: safe URLs, retries, error mapping, size cap, redaction.

    Safe to use from many tasks at once (it holds no per-request state).
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        credential_hint: str,
        http_client: Any = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        secrets: Iterable[str] = (),
        send_request_id: bool = False,
        rate_limit: float | RateLimiter | None = None,
        error_keys: Iterable[str] = DEFAULT_ERROR_KEYS,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        _check_count(max_retries, "max_retries", minimum=0)
        _check_count(max_response_bytes, "max_response_bytes", minimum=1)
        self.provider = provider
        self.base_url = _check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.credential_hint = credential_hint
        self.retry = RetryPolicy(max_retries=max_retries)
        self.max_response_bytes = max_response_bytes
        self.redact = Redactor(secrets)
        self.stats = Stats()
        self.error_keys = tuple(error_keys)
        self.limiter = (
            rate_limit
            if isinstance(rate_limit, RateLimiter) or rate_limit is None
            else RateLimiter(cast("float", check_rate(rate_limit)), provider=provider)
        )
        self._send_request_id = send_request_id
        self._sleep = sleep
        self._closed = False
        self._owns_client = http_client is None
        self._lib = _HTTPX if http_client is None else _library_of(http_client)
        self._set_timeout(timeout, http_client)
        self._client: httpx.AsyncClient = http_client or httpx.AsyncClient(
            transport=_speed.default_transport(),
            timeout=self._timeout or DEFAULT_TIMEOUT,
            follow_redirects=False,
        )

    def _set_timeout(self, timeout: float | httpx.Timeout | None, client: Any) -> None:
        if timeout is None:
            self._timeout: httpx.Timeout | None = None if client else DEFAULT_TIMEOUT
        elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
            if not math.isfinite(timeout) or timeout <= 0:
                msg = f"timeout must be a positive number of seconds, got {describe(timeout)}"
                raise errors.ConfigurationError(msg)
            self._timeout = httpx.Timeout(timeout)
        elif type(timeout).__name__ == "Timeout" and hasattr(timeout, "read"):
            # httpx's or httpx2's: read the phases through one type.
            timeout = cast("httpx.Timeout", timeout)
            self._timeout = httpx.Timeout(
                connect=timeout.connect,
                read=timeout.read,
                write=timeout.write,
                pool=timeout.pool,
            )
        else:
            msg = f"timeout must be seconds or an httpx.Timeout, got {describe(timeout)}"
            raise errors.ConfigurationError(msg)
        # The whole attempt's bound: the caller's, else the caller's client's own.
        basis = self._timeout if self._timeout is not None else getattr(client, "timeout", None)
        self._attempt_seconds = None if basis is None else _total_seconds(basis)

    def __repr__(self) -> str:
        return f"<HTTPCore {self.provider} {self.base_url}>"

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> HTTPCore:
        """
        A core sending through the same client (pool), limiter and redactor, with new options.

        Closing it does not close the shared client: the original core owns that.
        """
        derived = copy.copy(self)
        derived._owns_client = False  # noqa: SLF001 - the same class
        derived.stats = self.stats  # one provider's counts, whichever options sent
        if max_retries is not None:
            _check_count(max_retries, "max_retries", minimum=0)
            derived.retry = attrs.evolve(self.retry, max_retries=max_retries)
        if timeout is not None:
            derived._set_timeout(timeout, self._client)  # noqa: SLF001 - the same class
        return derived

    async def aclose(self) -> None:
        """Close the HTTP client if this core created it; a caller's client stays open."""
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def url(self, *segments: str) -> str:
        """The absolute URL of a path under the base URL (encode ids with `encode_path_segment`)."""
        return self.base_url + "/" + "/".join(segments)

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """
        Send a request, retrying what is worth retrying, and return the decoded JSON body.

        Raises:
            APIConnectionError: could not connect, or the connection dropped (after retries).
            APITimeoutError: the vendor did not answer in time (after retries).
            APIStatusError: a non-success status (after retries, where they apply).
            ResponseFormatError: the body is not JSON, or larger than the cap.
        """
        try:
            return await self._request_json(method, url, params, json_body, headers)
        except errors.BackscrollError as exc:
            # Python chains the exception being handled while ours was raised: an httpx
            # error, whose request holds the credential's header. Drop the chain.
            _detach(exc)
            raise

    async def _request_json(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> Any:
        self._check_open()
        request = self._build(method, url, params, json_body, headers)
        path = request.url.path
        attempts = self.retry.max_retries + 1
        for attempt in range(1, attempts + 1):
            # Again on every attempt: the provider may be closed by another task during a
            # request or a backoff, and httpx would then raise a bare RuntimeError.
            self._check_open()
            slot = await self.limiter.acquire() if self.limiter else 0.0
            self.stats.requests += 1
            try:
                result = await self._attempt(request, method, path, attempt, attempts)
            except errors.APIConnectionError as exc:
                self._check_open()  # the connection broke because the provider was closed
                if attempt < attempts and getattr(exc, "_retryable", False):
                    await self._wait(attempt - 1, None, method, path, exc)
                    continue
                raise
            except errors.APIStatusError as exc:
                retry = attempt < attempts and self.retry.should_retry(exc.status_code)
                if self.limiter and exc.status_code == 429:  # noqa: PLR2004
                    # The whole bucket pauses, for Retry-After or the backoff, and the
                    # retry waits in it like every other task: no storm, no double wait.
                    pause = self.retry.wait(attempt - 1, exc.retry_after) if retry else None
                    self.limiter.throttled(slot, pause if retry else exc.retry_after)
                    if retry:
                        self._count_retry(attempt - 1, pause or 0.0, method, path, exc)
                        continue
                if retry:
                    await self._wait(attempt - 1, exc.retry_after, method, path, exc)
                    continue
                raise
            if self.limiter:
                self.limiter.succeeded()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _build(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        request_headers = dict(headers or {})
        if self._send_request_id:
            request_headers.setdefault("X-Request-Id", f"req_{uuid.uuid4().hex}")
        url, params = self._with_query(url, params)
        timeout = (
            self._lib.convert_timeout(self._timeout)
            if self._timeout is not None
            else self._lib.module.USE_CLIENT_DEFAULT
        )
        failure: str | None = None
        try:
            request = self._client.build_request(
                method, url, params=params, json=json_body, headers=request_headers, timeout=timeout
            )
        except self._lib.invalid_url as exc:
            # For example an id so long that the URL passes httpx's length limit.
            failure = f"cannot build a {self.provider} request: {exc}. Check the ids passed in."
        except UnicodeEncodeError:
            # Credentials are checked at construction; a token callable's are too, so this
            # is a header of ours. Never quote the value: it may be a credential.
            failure = f"cannot build a {self.provider} request: a header is not ASCII."
        if failure is not None:
            raise errors.ConfigurationError(self.redact(failure))
        if not str(request.url).startswith(self.base_url + "/"):
            # Defence in depth: encode_path_segment makes this unreachable.
            msg = f"refusing to send {self.provider} credentials outside {self.base_url}"
            raise errors.ConfigurationError(msg)
        return request

    async def _attempt(
        self, request: httpx.Request, method: str, path: str, attempt: int, attempts: int
    ) -> Any:
        """One attempt: send, read the body within the deadline, check the status, decode."""
        started = time.perf_counter()
        with self._mapped(method, path, attempt, attempts, started):
            with anyio.move_on_after(self._attempt_seconds) as deadline:
                status, body, response = await self._send(request)
            if deadline.cancelled_caught:
                raise _AttemptTimedOut
            self._log(method, path, status, attempt=attempt, attempts=attempts, started=started)
            if not 200 <= status < 300:  # noqa: PLR2004
                raise self._status_error(
                    status, body, response, request=request, method=method, path=path
                )
            return self._decode(body, response, method, path)

    @contextlib.contextmanager
    def _mapped(
        self, method: str, path: str, attempt: int, attempts: int, started: float
    ) -> Iterator[None]:
        """
        Map what one attempt raises onto `backscroll.errors`, redacted, with no chain.

        The one place where a transport failure (of either library), the attempt's deadline
        and a backscroll error built from vendor data meet their final form.
        """
        mapped: errors.BackscrollError | None = None
        try:
            yield
        except (self._lib.transport, _AttemptTimedOut) as exc:
            self._log(
                method,
                path,
                "AttemptTimeout" if isinstance(exc, _AttemptTimedOut) else type(exc).__name__,
                attempt=attempt,
                attempts=attempts,
                started=started,
            )
            mapped = self._transport_error(exc, method, path, attempt)
        except errors.BackscrollError as exc:
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (self.redact(exc.args[0]), *exc.args[1:])
            _detach(exc)
            raise
        if mapped is not None:
            # Raised here, outside the except block, so that the library's exception (its
            # request carries the credential's header) is not chained as __context__.
            raise _detach(mapped)

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, (*self._lib.retryable, _AttemptTimedOut))

    def _check_open(self) -> None:
        if self._closed or self._client.is_closed:
            msg = (
                f"this {self.provider} provider is closed (aclose() or the end of its "
                "async with) and cannot send requests; create a new one"
            )
            raise errors.ProviderClosedError(msg)

    def _with_query(
        self, url: str, params: Mapping[str, str] | None
    ) -> tuple[str, Mapping[str, str] | None]:
        """
        The URL with *params* encoded into it, as httpx would encode them (urlencode).

        httpx then parses one URL, instead of parsing it, merging the params and parsing
        it again: most of what building a request costs. A client with params of its own
        keeps httpx's merge.
        """
        if params and not self._client.params:
            return f"{url}?{urlencode(params)}", None
        return url, params

    async def _send(self, request: httpx.Request) -> tuple[int, bytes, httpx.Response]:
        response = await self._client.send(request, stream=True, follow_redirects=False)
        # The response is closed even when the deadline cancels the read (shielded below).
        try:
            body = await self._read_body(response)
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        return response.status_code, body, response

    async def _read_body(self, response: httpx.Response) -> bytes:
        """
        Read a body as a stream, never holding more than the cap.

        A success body over the cap is an error. An error body is only quoted in a message:
        its start is kept, whatever its size or encoding, so that the status still gets
        reported.
        """
        success = response.is_success
        declared = response.headers.get("content-length", "")
        if success and declared.isdigit() and "content-encoding" not in response.headers:
            self._check_size(int(declared))
        keep = self.max_response_bytes if success else _MAX_ERROR_BODY
        chunks: list[bytes] = []
        size = 0
        try:
            # Closed explicitly when left early: trio warns of (and asyncio may never run)
            # the cleanup of an async generator left to the garbage collector.
            chunks_in = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
            async with aclosing(chunks_in) as stream:
                # Decoded bytes are counted, so a small gzip bomb is cut off too.
                async for chunk in stream:
                    size += len(chunk)
                    if success:
                        self._check_size(size)
                    elif size >= keep:
                        chunks.append(chunk[: len(chunk) - (size - keep)])
                        break
                    chunks.append(chunk)
        except self._lib.decoding_error:
            if success:
                encoding = response.headers.get("content-encoding")
                msg = f"{self.provider} sent a body that does not decode as {encoding}"
                raise errors.ResponseFormatError(msg) from None
        return b"".join(chunks)

    def _check_size(self, size: int) -> None:
        if size > self.max_response_bytes:
            msg = (
                f"{self.provider} sent a response larger than {self.max_response_bytes} bytes; "
                "it was cut off unread. Use a smaller page_size, or raise max_response_bytes "
                "if this vendor really sends bodies that large."
            )
            raise errors.ResponseFormatError(msg)

    async def _wait(
        self,
        retry: int,
        retry_after: float | None,
        method: str,
        path: str,
        exc: errors.BackscrollError,
    ) -> None:
        delay = self.retry.wait(retry, retry_after)
        self._count_retry(retry, delay, method, path, exc)
        if testing.is_testing():
            await anyio.lowlevel.checkpoint()
        else:
            await self._sleep(delay)

    def _count_retry(
        self, retry: int, delay: float, method: str, path: str, exc: errors.BackscrollError
    ) -> None:
        self.stats.retries += 1
        logger.info(
            "%s %s %s failed (%s); retry %d/%d in %.2fs",
            self.provider,
            method,
            self.redact(path),
            type(exc).__name__,
            retry + 1,
            self.retry.max_retries,
            delay,
        )

    def _log(
        self,
        method: str,
        path: str,
        outcome: object,
        *,
        attempt: int,
        attempts: int,
        started: float,
    ) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %s %s -> %s (attempt %d/%d, %.3fs)",
                self.provider,
                method,
                self.redact(self.base_url.split("://", 1)[-1].split("/", 1)[0]),
                self.redact(path),
                outcome,
                attempt,
                attempts,
                time.perf_counter() - started,
            )

    def _decode(self, body: bytes, response: httpx.Response, method: str, path: str) -> Any:
        try:
            return _speed.loads(body)
        # ValueError covers JSONDecodeError, UnicodeDecodeError and integers past Python's
        # digit limit; RecursionError a body nested deeper than the parser's stack.
        except (ValueError, RecursionError):
            content_type = response.headers.get("content-type", "no content type")
            if body.strip():
                preview = self.redact.excerpt(_head(body), _MAX_PREVIEW)
                found = f"starts with {preview!r}"
            else:
                found = "empty"
            msg = self.redact(
                f"{self.provider} answered {method} {path} with {response.status_code} "
                f"but the body is not JSON ({content_type}, {found}). The vendor may be "
                "down or behind a proxy; try again later."
            )
            raise errors.ResponseFormatError(msg) from None

    def _transport_error(
        self, exc: Exception, method: str, path: str, attempts: int
    ) -> errors.APIConnectionError:
        where = f"{method} {path}"
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        mapped: errors.APIConnectionError
        if isinstance(exc, _AttemptTimedOut):
            seconds = self._attempt_seconds
            msg = (
                f"{self.provider} did not answer {where} in time (the whole attempt, body "
                f"included, passed the {seconds:g}s timeout; {tries}). Raise "
                f"{spell('timeout')} or {spell('max_retries')}, or try again later."
            )
            mapped = errors.APITimeoutError(self.redact(msg))
        elif isinstance(exc, self._lib.timeout):
            msg = (
                f"{self.provider} did not answer {where} in time ({type(exc).__name__}, "
                f"{tries}). Raise {spell('timeout')} or {spell('max_retries')}, or try again "
                "later."
            )
            mapped = errors.APITimeoutError(self.redact(msg))
        else:
            detail = self.redact.excerpt(str(exc), _MAX_QUOTED) or "no detail"
            msg = (
                f"could not reach {self.provider} for {where} ({type(exc).__name__}: "
                f"{detail}, {tries}). Check the network and {spell('base_url')}."
            )
            mapped = errors.APIConnectionError(self.redact(msg))
        # Read by the retry loop only; not part of the error's public face.
        mapped._retryable = self._retryable(exc)  # type: ignore[attr-defined]  # noqa: SLF001
        return mapped

    def _status_error(
        self,
        status: int,
        body: bytes,
        response: httpx.Response,
        *,
        request: httpx.Request,
        method: str,
        path: str,
    ) -> errors.APIStatusError:
        vendor_text = _vendor_error_text(body, self.error_keys)
        if vendor_text is not None:
            vendor_text = self.redact.excerpt(vendor_text, _MAX_QUOTED) or None
        request_id = (
            response.headers.get("x-request-id")
            or response.headers.get("request-id")
            or request.headers.get("x-request-id")
        )
        if request_id is not None:
            request_id = self.redact.excerpt(request_id, _MAX_PREVIEW)
        cls = _STATUS_ERRORS.get(status)
        if cls is None:
            cls = errors.ServerError if status >= 500 else errors.APIStatusError  # noqa: PLR2004
        reason = response.reason_phrase or "error"
        said = f": {vendor_text!r}" if vendor_text else ""
        msg = (
            f"{self.provider} answered {status} {reason} to {method} {path}"
            f"{said}. {self._hint(status, body)}"
        )
        if request_id:
            msg += f" (request id {request_id})"
        return cls(
            self.redact(msg),
            status_code=status,
            provider=self.provider,
            request_id=request_id,
            vendor_message=vendor_text,
            retry_after=_retry_after(response),
        )

    def _hint(self, status: int, body: bytes) -> str:
        if 300 <= status < 400:  # noqa: PLR2004
            return f"Redirects are not followed: point {spell('base_url')} at the final address."
        if status == 404 and _no_route(body):  # noqa: PLR2004
            # Vendors say "not found" in a JSON error body; a page of text, or a bare
            # {"detail": "Not Found"}, is a web server's or a framework's for a path it has
            # no route for.
            return (
                "The answer is not the vendor's own: no such route, so the base URL or the "
                f"path is likely wrong. Check {spell('base_url')} (the API's root), then the id."
            )
        if status == 401:  # noqa: PLR2004
            return f"Check the credential: {self.credential_hint}."
        if status >= 500:  # noqa: PLR2004
            return "The vendor failed after all retries; try again later."
        hint = _HINTS.get(status, "Check the request's parameters.")
        return hint.format(concurrency=spell("concurrency"), max_retries=spell("max_retries"))


def _no_route(body: bytes) -> bool:
    """Whether a 404's body is a server's "no such path" rather than the vendor's answer."""
    if not body.strip():
        return False  # some vendors answer a missing id with an empty 404
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return True
    if not isinstance(data, Mapping):
        return True
    texts = [value for value in data.values() if isinstance(value, str)]
    return texts == ["Not Found"]


def _head(body: bytes) -> str:
    """The start of a body as text: enough to quote, small enough to redact cheaply."""
    return body[:65536].decode("utf-8", "replace")


def _vendor_error_text(body: bytes, keys: Iterable[str] = DEFAULT_ERROR_KEYS) -> str | None:
    """
    The vendor's own error text, uncut and unredacted: the caller does both.

    The first of the vendor's error *keys* that holds text; a body that is not JSON is
    quoted as text.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _head(body).strip() or None
    if isinstance(data, Mapping):
        for key in keys:
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping | list) and value:
                return json.dumps(value, ensure_ascii=False)
    return None


def _detach(exc: _E) -> _E:
    """*exc* without the exceptions chained to it (they may hold a request and its headers)."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc


def _shown(base_url: object) -> str:
    """A base URL fit for a message: never its query or fragment, which may hold a secret."""
    # A user name and password too, should they come with it.
    text = re.sub(r"//[^/?#]*@", "//...@", str(base_url))
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    return repr(text) if cut < 0 else repr(text[:cut] + "?...")


def _check_count(value: object, what: str, *, minimum: int) -> None:
    # Typed as int, but callers (and JSON configs) pass what they pass.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{what} must be an integer of at least {minimum}, got {describe(value)}"
        raise errors.ConfigurationError(msg)


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        msg = f"base_url {_shown(base_url)} is not a valid URL"
        raise errors.ConfigurationError(msg) from None
    if url.userinfo:
        # It would show in every repr and error message; credentials have their own argument.
        msg = (
            "base_url must not carry a user name or password: "
            "pass the credential through the provider's own argument"
        )
        raise errors.ConfigurationError(msg)
    if url.scheme not in {"http", "https"} or not url.host:
        msg = f"base_url must be an http(s) URL with a host, got {_shown(base_url)}"
        raise errors.ConfigurationError(msg)
    if url.query or url.fragment:
        msg = (
            f"base_url must not carry a query or fragment, got {_shown(base_url)} "
            "(the query is not shown: it may hold a secret)"
        )
        raise errors.ConfigurationError(msg)
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        msg = (
            f"refusing plain http:// to {url.host}: credentials would travel unencrypted. "
            f"Use https://, or pass {spell('allow_insecure_http', 'True')} if you really mean it."
        )
        raise errors.ConfigurationError(msg)
    return str(url).rstrip("/")
