"""
The one HTTP core every provider sends its requests through.

It owns the things that must be right once and the same for every vendor:

- safe URLs: every value put into a path is percent-encoded (``..`` too), plain ``http://``
  is refused unless the host is loopback or the caller opted in, redirects are never
  followed;
- retries with exponential backoff and jitter, honouring ``Retry-After``;
- the mapping of transport failures and HTTP statuses onto `backscroll.errors`, quoting
  the vendor's own error text;
- a cap on the size of a response body, read as a stream so a huge body is never held;
- redaction: credentials never reach an exception message, a ``repr`` or a log line.

Why not stamina for the retries: the core may depend on httpx, attrs, cattrs and anyio
only, and stamina brings tenacity with it. The policy needed here (exponential backoff with
jitter, a cap, ``Retry-After`` in seconds or as an HTTP-date) is a dozen lines in
`RetryPolicy.delay`, and having it in-house lets the tests drive it with a fake clock.
"""

from __future__ import annotations

import bisect
import contextlib
import ipaddress
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import aclosing
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Final, cast
from urllib.parse import quote, urlencode

import anyio
import attrs
import httpx

from backscroll import _speed, errors
from backscroll._fields import describe

__all__ = ["DEFAULT_TIMEOUT", "HTTPCore", "RetryPolicy", "encode_path_segment"]

logger = logging.getLogger("backscroll")

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})
# Transport failures worth another attempt. A LocalProtocolError (we sent something
# malformed) or an UnsupportedProtocol would fail the same way again.
RETRYABLE_TRANSPORT_ERRORS: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_REDACTED: Final = "[REDACTED]"
_MIN_SECRET_LENGTH: Final = 4
# How much of a vendor's error text or of an unexpected body an error message quotes.
_MAX_QUOTED: Final = 300
_MAX_PREVIEW: Final = 80
# How much of an error response's body is read: enough for any vendor's error text.
_MAX_ERROR_BODY: Final = 64 * 1024

_HINTS: Final[Mapping[int, str]] = {
    403: "The credential is valid but may not read this; check its plan or scope.",
    404: "Check the id; the conversation may have been deleted or expired.",
    429: "Rate limited after all retries; lower concurrency or raise max_retries.",
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
        if response is not None:
            hinted = _retry_after(response)
            if hinted is not None:
                return min(hinted, self.max_retry_after)
        backoff = min(self.maximum, self.initial * 2.0**retry)
        return backoff * (1 - 0.25 * random.random())  # noqa: S311 - jitter, not crypto

    def should_retry(self, status_code: int) -> bool:
        """Whether a response with *status_code* is worth another attempt."""
        return status_code in RETRYABLE_STATUSES or status_code >= 500  # noqa: PLR2004


def _now() -> float:
    """The wall clock, for ``Retry-After`` dates (a seam for the tests' fixed clock)."""
    return time.time()


def _retry_after(response: httpx.Response) -> float | None:
    milliseconds = response.headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
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


def _negative_length(text: str) -> int:
    return -len(text)


class Redactor:
    """Replaces every known credential in a text with ``[REDACTED]``."""

    __slots__ = ("_longest_first", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        # Longest first, so a secret containing another is replaced whole. Kept sorted
        # as secrets arrive rather than per call: a token callable adds one per conversation.
        self._longest_first: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember one more credential to hide."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH or secret in self._secrets:
            return  # too short to hide, or known with its forms (a token callable's repeat)
        # Also its URL-encoded form, in case a vendor echoes a query string, and its
        # JSON-escaped forms, in case a vendor's error object is quoted as JSON.
        forms = {
            secret,
            quote(secret, safe=""),
            json.dumps(secret, ensure_ascii=False)[1:-1],
            json.dumps(secret)[1:-1],
        }
        for form in forms - self._secrets:
            self._secrets.add(form)
            bisect.insort(self._longest_first, form, key=_negative_length)

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
        """Return *text* with every credential replaced."""
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, _REDACTED)
        return text

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
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        secrets: Iterable[str] = (),
        send_request_id: bool = False,
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
        self._send_request_id = send_request_id
        self._sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        if timeout is None:
            self._timeout: httpx.Timeout | None = None if http_client else DEFAULT_TIMEOUT
        else:
            self._timeout = (
                timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
            )
        self._closed = False
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            transport=_speed.default_transport(),
            timeout=self._timeout or DEFAULT_TIMEOUT,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<HTTPCore {self.provider} {self.base_url}>"

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
        self._check_open()
        request_headers = dict(headers or {})
        if self._send_request_id:
            request_headers.setdefault("X-Request-Id", f"req_{uuid.uuid4().hex}")
        url, params = self._with_query(url, params)
        try:
            request = self._client.build_request(
                method,
                url,
                params=params,
                json=json_body,
                headers=request_headers,
                timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.InvalidURL as exc:
            # For example an id so long that the URL passes httpx's length limit.
            msg = self.redact(
                f"cannot build a {self.provider} request: {exc}. Check the ids passed in."
            )
            raise errors.ConfigurationError(msg) from None
        if not str(request.url).startswith(self.base_url + "/"):
            # Defence in depth: encode_path_segment makes this unreachable.
            msg = f"refusing to send {self.provider} credentials outside {self.base_url}"
            raise errors.ConfigurationError(msg)
        path = request.url.path
        attempts = self.retry.max_retries + 1
        for attempt in range(1, attempts + 1):
            # Again on every attempt: the provider may be closed by another task during a
            # request or a backoff, and httpx would then raise a bare RuntimeError.
            self._check_open()
            started = time.perf_counter()
            self.stats.requests += 1
            try:
                status, body, response = await self._send(request)
            except httpx.TransportError as exc:
                self._log(
                    method,
                    path,
                    type(exc).__name__,
                    attempt=attempt,
                    attempts=attempts,
                    started=started,
                )
                self._check_open()  # the connection broke because the provider was closed
                if attempt < attempts and isinstance(exc, RETRYABLE_TRANSPORT_ERRORS):
                    await self._wait(attempt - 1, None)
                    continue
                raise self._transport_error(exc, method, path, attempt) from None
            self._log(method, path, status, attempt=attempt, attempts=attempts, started=started)
            if 200 <= status < 300:  # noqa: PLR2004
                return self._decode(body, response, method, path)
            if self.retry.should_retry(status) and attempt < attempts:
                await self._wait(attempt - 1, response)
                continue
            raise self._status_error(
                status, body, response, request=request, method=method, path=path
            )
        raise AssertionError("unreachable")  # pragma: no cover

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
        except httpx.DecodingError:
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

    async def _wait(self, retry: int, response: httpx.Response | None) -> None:
        self.stats.retries += 1
        await self._sleep(self.retry.delay(retry, response))

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
        self, exc: httpx.TransportError, method: str, path: str, attempts: int
    ) -> errors.APIConnectionError:
        where = f"{method} {path}"
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(exc, httpx.TimeoutException):
            msg = (
                f"{self.provider} did not answer {where} in time ({type(exc).__name__}, "
                f"{tries}). Raise timeout= or max_retries=, or try again later."
            )
            return errors.APITimeoutError(self.redact(msg))
        detail = self.redact.excerpt(str(exc), _MAX_QUOTED) or "no detail"
        msg = (
            f"could not reach {self.provider} for {where} ({type(exc).__name__}: "
            f"{detail}, {tries}). Check the network and base_url."
        )
        return errors.APIConnectionError(self.redact(msg))

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
        vendor_text = _vendor_error_text(body)
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
            f"{said}. {self._hint(status)}"
        )
        if request_id:
            msg += f" (request id {request_id})"
        return cls(
            self.redact(msg),
            status_code=status,
            provider=self.provider,
            request_id=request_id,
            vendor_message=vendor_text,
        )

    def _hint(self, status: int) -> str:
        if 300 <= status < 400:  # noqa: PLR2004
            return "Redirects are not followed: point base_url at the final address."
        if status == 401:  # noqa: PLR2004
            return f"Check the credential: {self.credential_hint}."
        if status >= 500:  # noqa: PLR2004
            return "The vendor failed after all retries; try again later."
        return _HINTS.get(status, "Check the request's parameters.")


def _head(body: bytes) -> str:
    """The start of a body as text: enough to quote, small enough to redact cheaply."""
    return body[:65536].decode("utf-8", "replace")


def _vendor_error_text(body: bytes) -> str | None:
    """
    The vendor's own error text, uncut and unredacted: the caller does both.

    ``{"ERROR": ...}`` (Convai), ``{"detail": ...}`` (Talkifai), ``{"message": ...}`` (the
    cursor API's envelope), ``{"error": ...}``; a body that is not JSON is quoted as text.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _head(body).strip() or None
    if isinstance(data, Mapping):
        for key in ("ERROR", "error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping | list) and value:
                return json.dumps(value, ensure_ascii=False)
    return None


def _check_count(value: object, what: str, *, minimum: int) -> None:
    # Typed as int, but callers (and JSON configs) pass what they pass.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{what} must be an integer of at least {minimum}, got {describe(value)}"
        raise errors.ConfigurationError(msg)


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        msg = f"base_url {base_url!r} is not a valid URL"
        raise errors.ConfigurationError(msg) from None
    if url.userinfo:
        # It would show in every repr and error message; credentials have their own argument.
        msg = (
            "base_url must not carry a user name or password: "
            "pass the credential through the provider's own argument"
        )
        raise errors.ConfigurationError(msg)
    if url.scheme not in {"http", "https"} or not url.host:
        msg = f"base_url must be an http(s) URL with a host, got {base_url!r}"
        raise errors.ConfigurationError(msg)
    if url.query or url.fragment:
        msg = f"base_url must not carry a query or fragment, got {base_url!r}"
        raise errors.ConfigurationError(msg)
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        msg = (
            f"refusing plain http:// to {url.host}: credentials would travel unencrypted. "
            "Use https://, or pass allow_insecure_http=True if you really mean it."
        )
        raise errors.ConfigurationError(msg)
    return str(url).rstrip("/")
