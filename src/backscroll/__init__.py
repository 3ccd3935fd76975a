"""
backscroll: read chat history out of conversational-AI vendors through one async interface.

.. code-block:: python

    async with backscroll.CursorProvider(api_key="...") as provider:
        async for message in provider.messages("con_9s2kd81"):
            print(message.role, message.content)
"""

from __future__ import annotations

from backscroll import errors
from backscroll._converter import from_dict, to_dict
from backscroll._follow import (
    Follower,
    Following,
    FollowsConversations,
    FollowState,
    Polled,
    follow,
    follow_many,
)
from backscroll._logging import setup_from_environment as _setup_logging
from backscroll._migration.engine import migrate
from backscroll._migration.report import ConversationFailure, MigrationReport, ProgressEvent
from backscroll._migration.shards import shard_of
from backscroll._models import Conversation, Message, Role
from backscroll._protocols import (
    ChatHistoryProvider,
    DeletesConversations,
    Identifiable,
    ListsConversations,
    Order,
    ReportsRequests,
)
from backscroll._provider import ProviderOptions
from backscroll._ratelimit import RateLimiter
from backscroll._registry import Setting, Vendor, VendorProvider, vendors
from backscroll.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BackscrollError,
    BadRequestError,
    BlockingCallError,
    CheckpointError,
    ConfigurationError,
    ConversionError,
    LockedError,
    MissingExtraError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    ProviderClosedError,
    RateLimitError,
    ReadOnlyError,
    ResponseFormatError,
    ServerError,
    SinkError,
)
from backscroll.providers import ConvaiProvider, CursorProvider, TalkifaiProvider

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BackscrollError",
    "BadRequestError",
    "BlockingCallError",
    "ChatHistoryProvider",
    "CheckpointError",
    "ConfigurationError",
    "ConvaiProvider",
    "Conversation",
    "ConversationFailure",
    "ConversionError",
    "CursorProvider",
    "DeletesConversations",
    "FollowState",
    "Follower",
    "Following",
    "FollowsConversations",
    "Identifiable",
    "ListsConversations",
    "LockedError",
    "Message",
    "MigrationReport",
    "MissingExtraError",
    "NotFoundError",
    "Order",
    "PaginationError",
    "PermissionDeniedError",
    "Polled",
    "ProgressEvent",
    "ProviderClosedError",
    "ProviderOptions",
    "RateLimitError",
    "RateLimiter",
    "ReadOnlyError",
    "ReportsRequests",
    "ResponseFormatError",
    "Role",
    "ServerError",
    "Setting",
    "SinkError",
    "TalkifaiProvider",
    "Vendor",
    "VendorProvider",
    "errors",
    "follow",
    "follow_many",
    "from_dict",
    "migrate",
    "shard_of",
    "to_dict",
    "vendors",
]

# BACKSCROLL_LOG=debug|info sends the ``backscroll`` logger to stderr (see _logging.py).
_setup_logging()


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - only when asked for

        return version("backscroll")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
