"""
Convai's Chat History API: sessions of a character, their interactions, and deletion.

Vendor quirks, all handled here:

- every endpoint is a ``POST`` with a JSON body; the key travels in ``CONVAI-API-KEY``;
- the list's ``limit`` is a *string*, and ``"-1"`` means all sessions;
- a session's ``date`` is day-first (``25-09-2024``) with a separate ``time``; the
  interactions' ``timestamp`` is naive (``2024-09-25 19:54:59.124733``): both are read in
  the provider's ``timezone`` (UTC unless told otherwise);
- one interaction holds several speaker entries (``User``, ``Character``) sharing its
  timestamp; they become one message each, in the vendor's order;
- messages have no ids: they get deterministic ones (`backscroll._ids`);
- details has no paging: the whole session arrives at once, so order and the
  ``since``/``until`` window are applied locally, and messages are built from the
  decoded response as iteration reaches them (`backscroll._paging.single_response`);
- errors come as ``{"ERROR": "..."}``, sometimes with status 200.
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Unpack

from backscroll import _fields as f
from backscroll._ids import derived_id
from backscroll._models import EMPTY, Conversation, Message, Role, trusted_message
from backscroll._paging import Window, micros, single_response
from backscroll._provider import HTTPProvider, ProviderOptions, resolve_credential
from backscroll._registry import Setting, Vendor
from backscroll._validate import nonempty_str, positive_int
from backscroll.errors import AuthenticationError, BadRequestError, ConfigurationError

if TYPE_CHECKING:
    from backscroll._protocols import Order

__all__ = ["ConvaiProvider"]

ENV_VAR: Final = "CONVAI_API_KEY"
CREDENTIAL: Final = Setting(
    parameter="api_key", env_var=ENV_VAR, flag="--api-key", what="an API key"
)
CHARACTER: Final = Setting(
    parameter="character_id",
    env_var="CONVAI_CHARACTER_ID",
    flag="--character-id",
    what="a character",
    secret=False,
)
#: As documented ("User", "Character") first, then any other case, lowered.
_ROLES: Final = {
    "User": Role.USER,
    "Character": Role.ASSISTANT,
    "user": Role.USER,
    "character": Role.ASSISTANT,
}
_INTERACTION_FIELDS: Final = frozenset({"timestamp", "interaction"})
_ENTRY_FIELDS: Final = frozenset({"speaker", "message"})
_SESSION_FIELDS: Final = frozenset({"sessionID", "date", "time"})


class ConvaiProvider(HTTPProvider):
    """
    Read (and delete) the chat history of one Convai character.

    Args:
        api_key: The Convai API key; ``None`` reads ``CONVAI_API_KEY``.
        character_id: The character whose sessions to read.
        base_url: Convai's API root.
        **options: The options every provider shares (`ProviderOptions`): ``http_client``,
            ``timeout``, ``max_retries``, ``rate_limit``, ``timezone``,
            ``allow_insecure_http``, ``max_response_bytes``.

    Raises:
        ConfigurationError: no API key given or in the environment, or a bad option.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "convai"
    error_keys: ClassVar[tuple[str, ...]] = ("ERROR", "error")
    # Details is not paged: the page size is moot, kept for the shared signature.
    default_page_size: ClassVar[int] = 1_000_000
    max_page_size: ClassVar[int] = 1_000_000

    def __init__(
        self,
        *,
        api_key: str | None = None,
        character_id: str,
        base_url: str = "https://api.convai.com",
        **options: Unpack[ProviderOptions],
    ) -> None:
        key = resolve_credential(api_key, parameter="api_key", env_var=ENV_VAR, provider="convai")
        self.character_id = nonempty_str(character_id, "convai character_id")
        super().__init__(
            base_url=base_url,
            credential_hint=CREDENTIAL.hint(),
            secrets=[key],
            **options,
        )
        self._headers = {"CONVAI-API-KEY": key}

    def identity(self) -> dict[str, str]:
        """Its name, base URL and character (two characters are both ``"convai"``)."""
        return super().identity() | {"character_id": self.character_id}

    def __repr__(self) -> str:
        return f"ConvaiProvider(character_id={self.character_id!r}, base_url={self.base_url!r})"

    async def _post(self, endpoint: str, body: Mapping[str, Any]) -> Any:
        url = self._http.url("character", "chatHistory", endpoint)
        data = await self._http.request_json("POST", url, json_body=body, headers=self._headers)
        if isinstance(data, Mapping) and "ERROR" in data:
            self._raise_error_body(endpoint, data["ERROR"])
        return data

    def _raise_error_body(self, endpoint: str, error: object) -> None:
        # Convai sometimes reports errors in a 200 body: the status stays the one it sent,
        # the class says what the text means.
        text = self._http.redact(str(error))
        if "key" in text.lower():
            msg = f"convai rejected the API key on {endpoint}: {text!r}. Check {ENV_VAR}."
            raise AuthenticationError(msg, status_code=200, provider="convai", vendor_message=text)
        msg = f"convai answered {endpoint} with an error: {text!r}"
        raise BadRequestError(msg, status_code=200, provider="convai", vendor_message=text)

    async def conversations(self, *, limit: int | None = None) -> AsyncIterator[Conversation]:
        """
        Yield the character's sessions, in Convai's order (newest first).

        Args:
            limit: At most this many sessions; ``None`` for all (sent as ``"-1"``).
        """
        if limit is not None:
            positive_int(limit, "limit")
        body = {"charID": self.character_id, "limit": "-1" if limit is None else str(limit)}
        with self._http.redact.errors():
            data = await self._post("list", body)
            if not isinstance(data, list):
                f.fail("convai", "the list response", "a list of sessions", data)
            sessions = [
                self._conversation(item, f"sessions[{index}]")
                for index, item in enumerate(data[:limit] if limit else data)
            ]
        for session in sessions:
            yield session

    def _conversation(self, item: object, where: str) -> Conversation:
        record = f.require_mapping("convai", item, where)
        session_id = f.get_str("convai", record, "sessionID", where)
        return Conversation(
            id=session_id,
            provider=self.name,
            created_at=self._session_time(record, where),
            metadata={k: v for k, v in record.items() if k not in _SESSION_FIELDS},
            raw=record,
        )

    def _session_time(self, record: Mapping[str, Any], where: str) -> datetime | None:
        date = f.get_str_or_none("convai", record, "date", where)
        if date is None:
            return None
        time = f.get_str_or_none("convai", record, "time", where) or "00:00:00"
        for pattern in ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M:%S.%f"):
            try:
                naive = datetime.strptime(f"{date} {time}", pattern)  # noqa: DTZ007
            except ValueError:
                continue
            try:
                return naive.replace(tzinfo=self.timezone).astimezone(UTC)
            except OverflowError:  # year 1 or 9999 shifted past what datetime holds
                break
        return f.fail("convai", f"{where}.date/time", "a day-first date and time", f"{date} {time}")

    def _pages(
        self, conversation_id: str, order: Order, window: Window, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        del window, limit  # details has no paging and no server-side window

        async def fetch() -> tuple[Sequence[Mapping[str, Any]], array[int]]:
            body = {"charID": self.character_id, "sessionID": conversation_id}
            data = await self._post("details", body)
            return self._check(data)

        def read(group: Sequence[Mapping[str, Any]], at: datetime) -> list[Message]:
            return self._messages(conversation_id, group, at)

        return single_response(fetch, read, order)

    def _check(self, data: object) -> tuple[Sequence[Mapping[str, Any]], array[int]]:
        """
        The whole response checked, and each interaction's time: no message built yet.

        Every interaction is checked before the first message is yielded, so a malformed
        one fails the read before anything of it is used. An interaction in the usual
        shape is checked with plain lookups; any other goes to `_checked_time`, whose
        checked readers name the field in their error.
        """
        if not isinstance(data, list):
            f.fail("convai", "the details response", "a list of interactions", data)
        zone, read_timestamp = self.timezone, f.read_timestamp
        # 8 bytes an interaction (`micros`), beside the decoded response.
        times = array("q")
        append = times.append
        for index, item in enumerate(data):
            if type(item) is dict:
                stamp, entries = item.get("timestamp"), item.get("interaction")
                if type(stamp) is str and type(entries) is list:
                    at = read_timestamp(stamp, assume=zone)
                    for entry in entries:  # a loop: all() over a generator costs twice this
                        if not (
                            type(entry) is dict
                            and type(entry.get("speaker")) is str
                            and type(entry.get("message")) is str
                        ):
                            break
                    else:
                        if at is not None:
                            append(micros(at))
                            continue
            append(micros(self._checked_time(item, f"interactions[{index}]")))
        return data, times

    def _checked_time(self, item: object, where: str) -> datetime:
        """Check one interaction that is not in the usual shape, and read its time."""
        interaction = f.require_mapping("convai", item, where)
        stamp = f.get_str("convai", interaction, "timestamp", where)
        at = f.parse_timestamp("convai", stamp, f"{where}.timestamp", assume=self.timezone)
        entries = f.get_list("convai", interaction, "interaction", where)
        for position, entry_item in enumerate(entries):
            entry_where = f"{where}.interaction[{position}]"
            entry = f.require_mapping("convai", entry_item, entry_where)
            f.get_str("convai", entry, "speaker", entry_where)
            f.get_str("convai", entry, "message", entry_where)
        return at

    def _messages(
        self, conversation_id: str, group: Sequence[Mapping[str, Any]], at: datetime
    ) -> list[Message]:
        """
        The messages of checked interactions that share the time *at*, in their order.

        One message per speaker entry. Identical entries (same timestamp, speaker and
        text) are counted for their ids in the vendor's order, which the stable sort keeps
        within a time: the same ids as counting over the whole response.
        """
        provider, roles = self.name, _ROLES
        seen: dict[tuple[str, str, str], int] = {}
        messages: list[Message] = []
        for interaction in group:
            stamp = interaction["timestamp"]
            extras = {k: v for k, v in interaction.items() if k not in _INTERACTION_FIELDS}
            header = {k: v for k, v in interaction.items() if k != "interaction"}
            # One read-only view of the interaction's extras, shared by its entries that
            # add none of their own (the usual shape): nothing can write through it.
            shared = MappingProxyType(extras) if extras else EMPTY
            for position, entry in enumerate(interaction["interaction"]):
                speaker, text = entry["speaker"], entry["message"]
                key = (stamp, speaker, text)
                k = seen.get(key, 0)
                seen[key] = k + 1
                if entry.keys() <= _ENTRY_FIELDS:
                    metadata = shared
                else:
                    merged = dict(extras)
                    merged.update((k2, v) for k2, v in entry.items() if k2 not in _ENTRY_FIELDS)
                    metadata = MappingProxyType(merged)
                messages.append(
                    trusted_message(
                        id=derived_id(conversation_id, stamp, speaker, text, k),
                        conversation_id=conversation_id,
                        role=roles.get(speaker) or roles.get(speaker.lower(), Role.UNKNOWN),
                        content=text,
                        created_at=at,
                        provider=provider,
                        sender_id=None,
                        token_count=None,
                        metadata=metadata,
                        raw=MappingProxyType(
                            {"interaction": header, "position": position, "entry": entry}
                        ),
                    )
                )
        return messages

    async def delete_conversations(self, ids: Sequence[str]) -> None:
        """
        Delete these sessions at Convai. Irreversible.

        Raises:
            ConfigurationError: *ids* is a string or holds a non-string or empty id.
        """
        if isinstance(ids, str):
            msg = "delete_conversations takes a sequence of ids, not one string"
            raise ConfigurationError(msg)
        session_ids = [nonempty_str(session_id, "a session id") for session_id in ids]
        if not session_ids:
            return
        body = {"charID": self.character_id, "sessionIDs": session_ids}
        with self._http.redact.errors():
            data = await self._post("delete", body)
            record = f.require_mapping("convai", data, "the delete response")
            status = record.get("status")
            if status != "SUCCESSFULLY DELETED":
                f.fail("convai", "the delete response.status", '"SUCCESSFULLY DELETED"', status)


VENDOR: Final = Vendor(
    name="convai",
    provider=ConvaiProvider,
    summary="Convai Chat History: sessions, interactions, deletion",
    credential=CREDENTIAL,
    settings=(CHARACTER,),
    fake="backscroll.sandbox._convai:ConvaiFake",
    paging="none (one response per session)",
)
