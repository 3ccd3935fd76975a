"""
Everything backscroll raises on purpose.

The whole tree::

    BackscrollError
    ├── APIConnectionError          could not connect, or the connection dropped
    │   └── APITimeoutError         the vendor did not answer in time
    ├── APIStatusError              a non-success HTTP status (3xx included: no redirects)
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429
    │   └── ServerError             5xx
    ├── ResponseFormatError         the vendor answered, but not in the documented shape
    ├── PaginationError             paging made no progress or did not end
    ├── ConfigurationError          a constructor or option was given something unusable
    │                               (also a ValueError)
    ├── ConversionError             a dict or file is not a backscroll model (also a ValueError)
    ├── CheckpointError             a migration checkpoint cannot be read or written, or is
    │                               another migration's
    ├── SinkError                   a sink cannot store messages (its file cannot be written)
    ├── LockedError                 another migration is running on the same sink or checkpoint
    ├── ReadOnlyError               a write or delete was asked of something that only reads
    ├── BlockingCallError           a blocking call would wait on itself (also a RuntimeError)
    ├── ProviderClosedError         a provider was used after aclose() (also a RuntimeError)
    └── MissingExtraError           an integration's framework is missing (also an ImportError)

Every message says what happened and what to do next. No message, ``repr`` or log line
contains an API key or token: vendor error texts are redacted before they are quoted.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BackscrollError",
    "BadRequestError",
    "BlockingCallError",
    "CheckpointError",
    "ConfigurationError",
    "ConversionError",
    "LockedError",
    "MissingExtraError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "ProviderClosedError",
    "RateLimitError",
    "ReadOnlyError",
    "ResponseFormatError",
    "ServerError",
    "SinkError",
]


class BackscrollError(Exception):
    """
    The base of every exception backscroll raises on purpose.

    Catch this to handle any failure of the package in one place.
    """


class APIConnectionError(BackscrollError):
    """
    The vendor could not be reached, or the connection dropped mid-response.

    Raised after the retries are spent. Check the network and the ``base_url``.
    """


class APITimeoutError(APIConnectionError):
    """The vendor did not answer within the configured ``timeout`` (after retries)."""


class APIStatusError(BackscrollError):
    """
    The vendor answered with a non-success HTTP status.

    Attributes:
        status_code: The HTTP status the vendor sent.
        provider: The name of the provider that made the request (``"convai"``, ...).
        request_id: The vendor's request id when it sent one, else ``None``.
        vendor_message: The vendor's own error text (redacted), else ``None``.
        retry_after: The seconds the vendor asked to wait (``Retry-After``), when it sent a
            usable value, else ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        provider: str,
        request_id: str | None = None,
        vendor_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.provider = provider
        self.request_id = request_id
        self.vendor_message = vendor_message
        self.retry_after = retry_after

    # BaseException pickles by re-calling __init__ with args only, which would drop the
    # keyword-only attributes (and fail without status_code).
    def __reduce__(self) -> tuple[object, ...]:
        attributes = {
            "status_code": self.status_code,
            "provider": self.provider,
            "request_id": self.request_id,
            "vendor_message": self.vendor_message,
            "retry_after": self.retry_after,
        }
        return (_rebuild_status_error, (type(self), str(self), attributes))


def _rebuild_status_error(
    cls: type[APIStatusError], message: str, attributes: dict[str, Any]
) -> APIStatusError:
    return cls(message, **attributes)


class BadRequestError(APIStatusError):
    """400: the vendor rejected the request's parameters."""


class AuthenticationError(APIStatusError):
    """401: the credential is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the credential is valid but may not read this resource."""


class NotFoundError(APIStatusError):
    """404: the conversation (or character, or session) does not exist or has expired."""


class RateLimitError(APIStatusError):
    """429: too many requests; raised once the retries (which honour ``Retry-After``) are spent."""


class ServerError(APIStatusError):
    """5xx: the vendor failed; raised once the retries are spent."""


class ResponseFormatError(BackscrollError):
    """
    The vendor answered successfully, but not in the documented shape.

    The message names the field, where it was, and what was found instead.
    """


class PaginationError(BackscrollError):
    """
    Paging did not make progress or did not end.

    Raised instead of looping forever or silently losing messages, for example when a
    vendor keeps answering with the same page, or more messages share one timestamp than
    the largest page can hold.
    """


class ConfigurationError(BackscrollError, ValueError):
    """
    A provider, sink or option was configured with something unusable.

    For example no credential was given and its environment variable is unset, or a plain
    ``http://`` base URL points at a host that is not loopback. Also a `ValueError`.
    """


class ConversionError(BackscrollError, ValueError):
    """
    Data handed to `backscroll.from_dict` (or read from an export) is not a valid model.

    The message says which field is wrong. Also a `ValueError`.
    """


class ReadOnlyError(BackscrollError):
    """
    A write or a delete was asked of something that only reads.

    For example adding messages to a LangChain history that was given no sink, or clearing
    one without ``allow_delete=True``: backscroll never deletes vendor history by default.

    .. versionadded:: 0.1.0
    """


class BlockingCallError(BackscrollError, RuntimeError):
    """
    A blocking call was made from the event loop thread it would have to wait on.

    The blocking facade runs providers on its own background event loop; calling it from code
    that already runs on that loop (an async provider or sink calling back into
    `backscroll.blocking`) would wait forever. Use the async API there. Also a `RuntimeError`.

    .. versionadded:: 0.1.0
    """


class MissingExtraError(BackscrollError, ImportError):
    """
    An integration was imported without the framework it adapts to.

    The message names the extra to install, for example ``pip install 'backscroll[langchain]'``.
    Also an `ImportError`.

    .. versionadded:: 0.1.0
    """


class CheckpointError(BackscrollError):
    """
    A migration checkpoint cannot be read or written, or belongs to another migration.

    The message names the file and says what to do: restore it, give the migration its own
    file, or delete it to start over.

    .. versionadded:: 0.1.0
    """


class SinkError(BackscrollError):
    """
    A sink cannot store messages: its file cannot be opened, read or written.

    The message names the file and what the system said. The failed step commits nothing,
    so a rerun with the same checkpoint continues where the last commit left off.

    .. versionadded:: 0.1.0
    """


class LockedError(BackscrollError):
    """
    Another migration is running on the same sink file or checkpoint.

    `backscroll.migrate` locks the checkpoint and a built-in sink's file for its whole
    run; a second run on either fails at once with this error, before it reads or writes
    anything. The message names the process and the host that hold the lock. Wait for
    that run to end, then run again.

    .. versionadded:: 0.1.0
    """


class ProviderClosedError(BackscrollError, RuntimeError):
    """
    A provider was used after it was closed (``aclose()``, or the end of its ``async with``).

    Create a new provider; a closed one does not reopen. Also a `RuntimeError`.
    """
