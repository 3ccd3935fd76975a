"""
The cursor-paged ``GET /chat/history`` API (the "example-ai" document).

Vendor quirks, all handled here or in the shared cursor pager:

- the answer is an envelope, ``{"status", "message", "data", "pagination"}``; an
  ``"error"`` status is an error even when the HTTP status says success;
- ``before`` and ``after`` are ISO timestamps and mutually exclusive: ascending order
  pages forward with ``after`` (starting at the epoch), descending pages backward with
  ``before`` (starting at the default page, checked to be the newest). The document does
  not say which N messages a cursor selects (the nearest or the farthest), whether its
  bounds are inclusive, or its timestamp precision: the shared cursor pager checks or
  learns each (see `backscroll._paging.cursor_pages`);
- the default order is newest first, while the documented example page is oldest first:
  each page is sorted locally rather than trusted;
- the documented timestamps have one-second resolution, so bursts share one: the pager
  overlaps its cursor by one step of the precision the data shows, and removes repeats
  by id; cursors go out at that precision;
- ``next_cursor`` in the documented example matches no message and is not used;
  ``has_more`` is, where the next page can check it (``"true"``/``"false"`` strings
  accepted);
- ``limit`` defaults to 20 and caps at 100; ``include_meta=true`` is always sent so that
  a migration keeps the extended metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Unpack

from backscroll import _fields as f
from backscroll._models import EMPTY, Message, Role, read_only, trusted_message
from backscroll._paging import MAX_PAGES, CursorPage, Window, cursor_pages
from backscroll._provider import HTTPProvider, ProviderOptions, resolve_credential
from backscroll._registry import Setting, Vendor
from backscroll.errors import APIStatusError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence

    from backscroll._protocols import Order

__all__ = ["CursorProvider"]

ENV_VAR: Final = "EXAMPLE_AI_API_KEY"
CREDENTIAL: Final = Setting(
    parameter="api_key", env_var=ENV_VAR, flag="--api-key", what="an API key"
)
_ROLES: Final = {"user": Role.USER, "ai": Role.ASSISTANT, "system": Role.SYSTEM}


class CursorProvider(HTTPProvider):
    """
    Read conversations from the cursor-paged ``/chat/history`` API.

    Args:
        api_key: The bearer API key; ``None`` reads ``EXAMPLE_AI_API_KEY``.
        base_url: The API root, ``/v1`` included.
        **options: The options every provider shares (`ProviderOptions`): ``http_client``,
            ``timeout``, ``max_retries``, ``rate_limit``, ``timezone``,
            ``allow_insecure_http``, ``max_response_bytes``.

    Raises:
        ConfigurationError: no API key given or in the environment, or a bad option.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "cursor"
    error_keys: ClassVar[tuple[str, ...]] = ("message", "error")
    default_page_size: ClassVar[int] = 100
    max_page_size: ClassVar[int] = 100
    #: The most requests one conversation may take before `PaginationError`: the bound
    #: on a vendor that never stops answering with new messages. Set it on the provider
    #: (``provider.max_pages = 50``) to read at most that many pages of a conversation.
    max_pages: int = MAX_PAGES

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.example-ai.com/v1",
        **options: Unpack[ProviderOptions],
    ) -> None:
        key = resolve_credential(api_key, parameter="api_key", env_var=ENV_VAR, provider="cursor")
        super().__init__(
            base_url=base_url,
            credential_hint=CREDENTIAL.hint(),
            secrets=[key],
            **options,
            send_request_id=True,
        )
        self._headers = {"Authorization": f"Bearer {key}"}

    def _pages(
        self, conversation_id: str, order: Order, window: Window, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        url = self._http.url("chat", "history")
        direction = "after" if order == "asc" else "before"

        async def fetch(cursor: datetime | None, page_limit: int) -> CursorPage:
            params = {
                "conversation_id": conversation_id,
                "limit": str(page_limit),
                "include_meta": "true",
            }
            if cursor is not None:
                params[direction] = _format(cursor)
            data = await self._http.request_json("GET", url, params=params, headers=self._headers)
            return self._page(conversation_id, data)

        return cursor_pages(
            fetch,
            order=order,
            limit=limit,
            max_limit=self.max_page_size,
            provider=self.name,
            window=window,
            max_pages=self.max_pages,
        )

    def _page(self, conversation_id: str, data: object) -> CursorPage:
        envelope = f.require_mapping("cursor", data, "the response")
        status = envelope.get("status")
        if status == "error":
            text = self._http.redact(str(envelope.get("message") or "no message"))
            msg = f"cursor answered with an error status: {text!r}"
            raise APIStatusError(msg, status_code=200, provider="cursor", vendor_message=text)
        body = f.get_mapping("cursor", envelope, "data", "the response")
        items = f.get_list("cursor", body, "messages", "the response.data")
        messages = self._messages(conversation_id, items)
        pagination = envelope.get("pagination")
        has_more = None
        if pagination is not None:
            paging = f.require_mapping("cursor", pagination, "the response.pagination")
            has_more = f.get_bool("cursor", paging, "has_more", "the response.pagination")
        return CursorPage(messages, has_more)

    def _messages(self, conversation_id: str, items: Sequence[object]) -> list[Message]:
        """
        The page reader: one pass over the page's records, each read, checked and built.

        A record in the documented shape is read with plain lookups and built through the
        trusted constructor; any other goes to `_checked_message`, which reads it through
        the checked readers (and so names the field in its error) or takes what the
        document allows besides (a numeric id).
        """
        zone, provider, roles = self.timezone, self.name, _ROLES
        read_timestamp = f.read_timestamp
        messages: list[Message] = []
        append = messages.append
        for index, item in enumerate(items):
            if type(item) is dict:
                get = item.get
                message_id, sender, text = get("id"), get("sender_type"), get("text")
                sender_id, metadata = get("sender_id"), get("metadata")
                created_at = read_timestamp(get("created_at"), assume=zone)
                if (
                    type(message_id) is str
                    and message_id
                    and type(sender) is str
                    and type(text) is str
                    and (sender_id is None or type(sender_id) is str)
                    and (metadata is None or type(metadata) is dict)
                    and created_at is not None
                ):
                    append(
                        trusted_message(
                            id=message_id,
                            conversation_id=conversation_id,
                            role=roles.get(sender) or roles.get(sender.lower(), Role.UNKNOWN),
                            content=text,
                            created_at=created_at,
                            provider=provider,
                            sender_id=sender_id,
                            token_count=None,
                            # Copied: raw's nested dict must not alias it.
                            metadata=MappingProxyType(dict(metadata)) if metadata else EMPTY,
                            # The decoded record is this provider's alone: wrapped
                            # read-only, not copied.
                            raw=MappingProxyType(item),
                        )
                    )
                    continue
            append(self._checked_message(conversation_id, item, f"data.messages[{index}]"))
        return messages

    def _checked_message(self, conversation_id: str, item: object, where: str) -> Message:
        """Read one record that is not in the documented shape: its error names the field."""
        record: Mapping[str, Any] = f.require_mapping("cursor", item, where)
        message_id = record.get("id")
        if isinstance(message_id, int) and not isinstance(message_id, bool):
            message_id = str(message_id)  # a number where a string id is documented
        if not isinstance(message_id, str) or not message_id:
            f.fail("cursor", f"{where}.id", "a non-empty string", message_id)
        sender = f.get_str("cursor", record, "sender_type", where)
        metadata = record.get("metadata")
        if metadata is not None:
            metadata = f.require_mapping("cursor", metadata, f"{where}.metadata")
        return trusted_message(
            id=message_id,
            conversation_id=conversation_id,
            role=_ROLES.get(sender.lower(), Role.UNKNOWN),
            content=f.get_str("cursor", record, "text", where),
            created_at=f.parse_timestamp(
                "cursor", record.get("created_at"), f"{where}.created_at", assume=self.timezone
            ),
            provider=self.name,
            sender_id=f.get_str_or_none("cursor", record, "sender_id", where),
            token_count=None,
            metadata=read_only(metadata or {}),
            raw=read_only(record),
        )


def _format(moment: datetime) -> str:
    """
    A cursor as the vendor writes its timestamps: whole seconds unless it needs digits.

    The pager puts cursors on the grid of the precision the vendor's data shows, so the
    digits sent are the vendor's own (``12:00:00Z``, ``12:00:00.125Z``, ``12:00:00.000125Z``).
    """
    # isoformat, not strftime: "%Y" does not pad years before 1000 ("1-01-01T...").
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    micro = utc.microsecond
    spec = "seconds" if not micro else "milliseconds" if not micro % 1000 else "microseconds"
    return utc.isoformat(timespec=spec) + "Z"


VENDOR: Final = Vendor(
    name="cursor",
    provider=CursorProvider,
    summary='cursor-paged GET /chat/history ("example-ai")',
    credential=CREDENTIAL,
    fake="backscroll.sandbox._cursor:CursorFake",
    paging="before/after timestamps",
)
