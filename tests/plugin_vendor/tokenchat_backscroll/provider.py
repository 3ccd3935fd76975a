"""The tokenchat provider: ``GET /conversations/{id}/messages``, paged by opaque tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from backscroll import Message, Role, Setting, Vendor, providers
from backscroll.fields import get_list, get_str, get_str_or_none, parse_timestamp, require_mapping
from backscroll.paging import TokenPage, token_pages

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from backscroll import Order
    from backscroll.paging import Window

CREDENTIAL: Final = Setting(
    parameter="api_key", env_var="TOKENCHAT_API_KEY", flag="--api-key", what="an API key"
)
_ROLES: Final = {"human": Role.USER, "bot": Role.ASSISTANT}
_BASE_URL: Final = "https://api.tokenchat.example/v1"


class TokenChatProvider(providers.HTTPProvider):
    """
    Read tokenchat conversations; ``api_key=None`` reads ``TOKENCHAT_API_KEY``.

    The key goes in ``X-Api-Key``; 50 messages a page at most; authors ``human``/``bot``.
    """

    name: ClassVar[str] = "tokenchat"
    default_page_size: ClassVar[int] = 50
    max_page_size: ClassVar[int] = 50

    def __init__(
        self, *, api_key: str | None = None, base_url: str = _BASE_URL, **options: Any
    ) -> None:
        key = providers.resolve_credential(
            api_key, parameter="api_key", env_var=CREDENTIAL.env_var, provider=self.name
        )
        hint = CREDENTIAL.hint()
        super().__init__(base_url=base_url, credential_hint=hint, secrets=[key], **options)
        self._headers = {"X-Api-Key": key}

    def _pages(
        self, conversation_id: str, order: Order, _window: Window, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        path = providers.encode_path_segment(conversation_id)
        url = self._http.url("conversations", path, "messages")

        async def fetch(token: str | None, size: int) -> TokenPage[Message]:
            params = {"page_size": str(size), "order": order}
            if token is not None:
                params["page_token"] = token
            data = await self._http.request_json("GET", url, params=params, headers=self._headers)
            body = require_mapping(self.name, data, "the response")
            records = get_list(self.name, body, "messages", "the response")
            following = get_str_or_none(self.name, body, "next_page_token", "the response")
            return TokenPage([self._message(conversation_id, r) for r in records], following)

        return token_pages(fetch, limit=limit, fingerprint=lambda m: m.id, provider=self.name)

    def _message(self, conversation_id: str, value: Any) -> Message:
        record = require_mapping(self.name, value, "a message")
        author = get_str(self.name, record, "author", "a message")
        return Message(
            id=get_str(self.name, record, "id", "a message"),
            conversation_id=conversation_id,
            role=_ROLES.get(author, Role.UNKNOWN),
            content=get_str(self.name, record, "text", "a message"),
            created_at=parse_timestamp(self.name, record.get("sent_at"), "a message.sent_at"),
            provider=self.name,
            raw=record,
        )


VENDOR: Final = Vendor(
    name="tokenchat",
    provider=TokenChatProvider,
    summary="tokenchat GET /conversations/{id}/messages (a plugin)",
    credential=CREDENTIAL,
    fake="tokenchat_backscroll.fake:TokenChatFake",
    paging="page tokens",
)
