"""
Talkifai's message history: ``GET /v1/chat/sessions/{conversation_id}/messages``.

Vendor quirks, all handled here or in the shared offset pager:

- the token is a per-session bearer token: ``token=`` may be a callable that returns the
  token for a conversation id;
- ``limit`` defaults to 50 and is silently capped at 100: larger page sizes are clamped
  here; a cap below that is learnt by the shared offset pager;
- ``count`` is the number of messages *returned*, not a total: it is not used;
- an offset past the end answers with the last page (the documents' "last N messages"
  trick); the pager never asks past the end, and checks every page by one record of
  overlap, so an ignored offset or a history that shifts while read raises
  `PaginationError` instead of losing messages;
- messages have no ids: they get deterministic ones (`backscroll._ids`);
- there is no server-side time filter and no newest-first order, so ``since``/``until``
  are applied locally, and ``order="desc"`` costs a counting pass first
  (`backscroll._paging.offset_pages_backward`);
- errors come as ``{"detail": "..."}`` with 401, 403 or 404.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Unpack

import attrs

from backscroll import _fields as f
from backscroll._follow import FollowState, Polled
from backscroll._http import encode_path_segment
from backscroll._ids import Occurrences, derived_id
from backscroll._models import EMPTY, Message, Role, read_only, trusted_message
from backscroll._paging import MAX_PAGES, Window, offset_pages, offset_pages_backward
from backscroll._provider import HTTPProvider, ProviderOptions, resolve_credential
from backscroll._registry import Setting, Vendor
from backscroll._validate import credential
from backscroll.errors import ConfigurationError, PaginationError

if TYPE_CHECKING:
    from backscroll._protocols import Order

__all__ = ["TalkifaiProvider"]

ENV_VAR: Final = "TALKIFAI_TOKEN"
CREDENTIAL: Final = Setting(
    parameter="token",
    env_var=ENV_VAR,
    flag="--token",
    what="a token",
    python_note=" (or a token callable)",
)
_ROLES: Final = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
_FIELDS: Final = frozenset({"role", "content", "timestamp", "token_count"})
#: The fields the page reader reads, in one C call for the documented record (all present).
_READ_FIELDS: Final = ("role", "content", "timestamp", "token_count")
_READ: Final = operator.itemgetter(*_READ_FIELDS)
_WHERE: Final = "a message"
_WHERE_STAMP: Final = "a message.timestamp"

Record = Mapping[str, Any]


class TalkifaiProvider(HTTPProvider):
    """
    Read Talkifai conversations through their session tokens.

    Args:
        token: The session token, or a callable ``token(conversation_id) -> str`` for
            per-conversation tokens; ``None`` reads ``TALKIFAI_TOKEN``.
        base_url: Talkifai's API root.
        **options: The options every provider shares (`ProviderOptions`): ``http_client``,
            ``timeout``, ``max_retries``, ``rate_limit``, ``timezone``,
            ``allow_insecure_http``, ``max_response_bytes``.

    Raises:
        ConfigurationError: no token given or in the environment, or a bad option.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "talkifai"
    error_keys: ClassVar[tuple[str, ...]] = ("detail", "error")
    default_page_size: ClassVar[int] = 100
    max_page_size: ClassVar[int] = 100
    # Each request after the first repeats one record: one record per page is no progress.
    min_page_size: ClassVar[int] = 2
    #: The most requests one conversation may take before `PaginationError`: the bound
    #: on a vendor that never stops answering with new messages. Set it on the provider
    #: (``provider.max_pages = 50``) to read at most that many pages of a conversation.
    max_pages: int = MAX_PAGES

    def __init__(
        self,
        *,
        token: str | Callable[[str], str] | None = None,
        base_url: str = "https://api.talkifai.dev",
        **options: Unpack[ProviderOptions],
    ) -> None:
        if callable(token):
            self._token_for: Callable[[str], str] = token
            secrets: list[str] = []
        else:
            fixed = resolve_credential(
                token, parameter="token", env_var=ENV_VAR, provider="talkifai"
            )
            self._token_for = lambda _conversation_id: fixed
            secrets = [fixed]
        super().__init__(
            base_url=base_url,
            credential_hint=CREDENTIAL.hint(),
            secrets=secrets,
            **options,
        )

    def _headers(self, conversation_id: str) -> dict[str, str]:
        try:
            token = self._token_for(conversation_id)
        except Exception as exc:  # a user's callable: any failure is a configuration error
            msg = (
                f"the talkifai token callable failed for conversation {conversation_id!r} "
                f"({type(exc).__name__}); it must return that conversation's session token"
            )
            raise ConfigurationError(msg) from exc
        token = credential(token, f"the talkifai token for conversation {conversation_id!r}")
        self._http.redact.add(token)
        return {"Authorization": f"Bearer {token}"}

    def _fetcher(self, conversation_id: str) -> Callable[[int, int], Any]:
        url = self._http.url(
            "v1", "chat", "sessions", encode_path_segment(conversation_id), "messages"
        )

        async def fetch(offset: int, limit: int) -> Sequence[Record]:
            params = {"limit": str(limit), "offset": str(offset)}
            headers = self._headers(conversation_id)
            data = await self._http.request_json("GET", url, params=params, headers=headers)
            body = f.require_mapping("talkifai", data, "the response")
            items = f.get_list("talkifai", body, "messages", "the response")
            if all(type(item) is dict for item in items):
                return items  # decoded JSON objects, as always: no per-item check needed
            return [
                f.require_mapping("talkifai", item, f"messages[{i}] (offset {offset + i})")
                for i, item in enumerate(items)
            ]

        return fetch

    def _pages(
        self, conversation_id: str, order: Order, window: Window, limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        del window  # no server-side filter; `windowed` stops early in ascending order
        fetch = self._fetcher(conversation_id)
        if order == "asc":
            return self._asc(conversation_id, fetch, limit)
        return self._desc(conversation_id, fetch, limit)

    async def _asc(
        self, conversation_id: str, fetch: Callable[[int, int], Any], limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        occurrences = Occurrences()
        pages = offset_pages(
            fetch,
            limit=limit,
            fingerprint=_fingerprint,
            provider=self.name,
            max_pages=self.max_pages,
        )
        async with aclosing(pages):
            async for batch in pages:
                yield self._messages(conversation_id, batch, occurrences)

    async def _desc(
        self, conversation_id: str, fetch: Callable[[int, int], Any], limit: int
    ) -> AsyncIterator[Sequence[Message]]:
        """
        Newest first: the shared backward offset pager, with ids counted oldest first.

        Ids count identical messages within a timestamp in ascending order, so messages
        that share the oldest timestamp of a page are held back until the next (older)
        page shows the whole group.
        """
        pending: list[Record] = []  # the oldest timestamp group so far, ascending
        pages = offset_pages_backward(
            fetch,
            limit=limit,
            fingerprint=_fingerprint,
            provider=self.name,
            max_pages=self.max_pages,
        )
        async with aclosing(pages):
            async for page in pages:
                ready, pending = _split_oldest_group([*page, *pending])
                if ready:
                    yield self._descending(conversation_id, ready)
        if pending:
            yield self._descending(conversation_id, pending)

    def _descending(self, conversation_id: str, records: Sequence[Record]) -> list[Message]:
        messages = self._messages(conversation_id, records, Occurrences())
        messages.reverse()
        return messages

    def _messages(
        self, conversation_id: str, records: Sequence[Record], occurrences: Occurrences
    ) -> list[Message]:
        """
        The page reader: one pass over ascending records, each read, checked and built.

        A record in the usual shape is read with plain lookups and built through the
        trusted constructor; any other goes to `_checked_message`, whose checked readers
        name the field in their error. *occurrences* counts identical messages across
        pages, for their ids.
        """
        zone, provider, roles, fields = self.timezone, self.name, _ROLES, _FIELDS
        read_timestamp, count = f.read_timestamp, occurrences.next
        messages: list[Message] = []
        append = messages.append
        for record in records:
            try:
                role, content, stamp, tokens = _READ(record)
            except KeyError:  # a field left out: absent reads as null, checked below
                role, content, stamp, tokens = map(record.get, _READ_FIELDS)
            if (
                type(role) is str
                and type(content) is str
                and type(stamp) is str
                and (tokens is None or type(tokens) is int)
            ):
                created_at = read_timestamp(stamp, assume=zone)
                if created_at is not None:
                    append(
                        trusted_message(
                            id=derived_id(
                                conversation_id, stamp, role, content, count(stamp, role, content)
                            ),
                            conversation_id=conversation_id,
                            role=roles.get(role) or roles.get(role.lower(), Role.UNKNOWN),
                            content=content,
                            created_at=created_at,
                            provider=provider,
                            sender_id=None,
                            token_count=tokens,
                            metadata=EMPTY
                            if record.keys() <= fields
                            else MappingProxyType(
                                {k: v for k, v in record.items() if k not in fields}
                            ),
                            # The decoded record is this provider's alone: wrapped
                            # read-only, not copied.
                            raw=MappingProxyType(record),
                        )
                    )
                    continue
            append(self._checked_message(conversation_id, record, occurrences))
        return messages

    def _checked_message(
        self, conversation_id: str, record: Record, occurrences: Occurrences
    ) -> Message:
        """Read one record that is not in the usual shape: its error names the field."""
        role = f.get_str("talkifai", record, "role", _WHERE)
        content = f.get_str("talkifai", record, "content", _WHERE)
        stamp = f.get_str("talkifai", record, "timestamp", _WHERE)
        created_at = f.parse_timestamp("talkifai", stamp, _WHERE_STAMP, assume=self.timezone)
        k = occurrences.next(stamp, role, content)
        tokens = f.get_int_or_none("talkifai", record, "token_count", _WHERE)
        return trusted_message(
            id=derived_id(conversation_id, stamp, role, content, k),
            conversation_id=conversation_id,
            role=_ROLES.get(role.lower(), Role.UNKNOWN),
            content=content,
            created_at=created_at,
            provider=self.name,
            sender_id=None,
            token_count=tokens,
            metadata=read_only({k2: v for k2, v in record.items() if k2 not in _FIELDS}),
            raw=MappingProxyType(record),
        )

    # -- following (`backscroll.follow`) -----------------------------------------------------

    def poll(self, state: FollowState) -> AsyncIterator[Polled]:
        """
        Talkifai's follow poll: resume at the offset reached, after checking it still holds.

        The position is the offset where the newest timestamp group began, and that
        group's records: a poll asks from that offset, and what it finds there must be the
        group again (one request when nothing is new). Anything past it is new, whatever
        its timestamp. When the group is not there (a message inserted or deleted before
        it shifted the offsets), the conversation is read again from the start: messages
        newer than the follow's horizon are told apart by id, and if more messages now
        come before the group's time than the ones caught that way, the shift cannot be
        explained and `PaginationError` says so, every time, until the follow is started
        afresh.

        .. versionadded:: 0.1.0
        """
        return self._poll(state)

    async def _poll(self, state: FollowState) -> AsyncGenerator[Polled, None]:
        fetch = self._fetcher(state.conversation_id)
        anchor = _Anchor.read(state.position)
        if anchor is None:
            reading = self._read_from(state, fetch, _Anchor(0, []), verify=False)
            async with aclosing(reading):
                async for polled in reading:
                    yield polled
            return
        reading = self._read_from(state, fetch, anchor, verify=True)
        try:
            async with aclosing(reading):
                async for polled in reading:
                    yield polled
        except (_ShiftedError, PaginationError):
            # Not where it was left, or pages that cannot be reconciled from there (a stale
            # first answer at the saved offset is not checked by anything before it): read
            # again from the start, where the shift is measured and explained or raised.
            pass
        else:
            return
        rereading = self._reread(state, fetch, anchor)
        async with aclosing(rereading):
            async for polled in rereading:
                yield polled

    async def _read_from(
        self,
        state: FollowState,
        fetch: Callable[[int, int], Any],
        anchor: _Anchor,
        *,
        verify: bool,
        old: _Anchor | None = None,
    ) -> AsyncGenerator[Polled, None]:
        """
        From *anchor* on, each record with the position after it.

        With *verify*, the first records must be the anchor's group (else `_ShiftedError`);
        those after it are fresh. With *old*, the records before *old*'s time keep *old*
        as their position until `_check_shift` has accepted the shift.
        """
        occurrences = Occurrences()
        conversation_id = state.conversation_id
        group_start, group = anchor.offset, list[list[Any]]()
        index = anchor.offset
        older = caught = 0
        old_time = None if old is None else self._anchor_time(old)
        pages = offset_pages(
            fetch,
            limit=self.max_page_size,
            fingerprint=_fingerprint,
            provider=self.name,
            start=anchor.offset,
        )
        async with aclosing(pages):
            async for batch in pages:
                for record in batch:
                    printed = [record.get(name) for name in _FINGERPRINT]
                    seen = index - anchor.offset
                    if verify and seen < len(anchor.group) and printed != anchor.group[seen]:
                        raise _ShiftedError
                    if group and printed[0] != group[-1][0]:
                        group_start, group = index, []
                    group.append(printed)
                    index += 1
                    # The page reader, on a page of one: each record is checked against
                    # the saved group before the next is read.
                    (message,) = self._messages(conversation_id, [record], occurrences)
                    position: Mapping[str, Any] = {"offset": group_start, "group": list(group)}
                    if old is not None and old_time is not None:
                        at = message.created_at
                        if at is not None and at < old_time:
                            older += 1
                            caught += not state.covers(message)
                            yield Polled(message, state.position)
                            continue
                        _check_shift(old, older, caught)
                        old = None
                    fresh = verify and seen >= len(anchor.group)
                    yield Polled(message, position, fresh=fresh)
        if verify and index - anchor.offset < len(anchor.group):
            raise _ShiftedError  # the conversation shrank
        if old is not None:
            _check_shift(old, older, caught)

    async def _reread(
        self, state: FollowState, fetch: Callable[[int, int], Any], old: _Anchor
    ) -> AsyncGenerator[Polled, None]:
        reading = self._read_from(state, fetch, _Anchor(0, []), verify=False, old=old)
        async with aclosing(reading):
            async for polled in reading:
                yield polled

    def _anchor_time(self, anchor: _Anchor) -> Any:
        if not anchor.group or not isinstance(anchor.group[0][0], str):
            return None
        return f.read_timestamp(anchor.group[0][0], assume=self.timezone)


class _ShiftedError(Exception):
    """The records at the saved offset are not the ones saved: the offsets moved."""


@attrs.frozen
class _Anchor:
    """Talkifai's follow position: where the newest timestamp group began, and its records."""

    offset: int
    group: list[list[Any]]

    @classmethod
    def read(cls, position: Mapping[str, Any] | None) -> _Anchor | None:
        if position is None:
            return None
        offset, group = position.get("offset"), position.get("group")
        if (
            isinstance(offset, int)
            and not isinstance(offset, bool)
            and offset >= 0
            and isinstance(group, list)
            and group
            and all(isinstance(g, list) and len(g) == len(_FINGERPRINT) for g in group)
        ):
            return cls(offset, group)
        msg = (
            "this follow state's talkifai position is not one talkifai's follow wrote: "
            "pass the state follower.state gave, or start again with since="
        )
        raise ConfigurationError(msg)


def _check_shift(old: _Anchor, older: int, caught: int) -> None:
    """Refuse a shift of the offsets that the messages caught by id do not explain."""
    inserted = older - old.offset
    if inserted > caught:
        msg = (
            f"talkifai: {inserted} messages now come before the offset this follow reached "
            f"({old.offset}), and only {caught} of them are new enough to be told apart: "
            f"{inserted - caught} older messages were inserted earlier in the conversation, "
            "and follow cannot tell which. Read the conversation again with messages(), "
            "then follow it afresh (a larger lookback= catches later inserts)."
        )
        raise PaginationError(msg)


_FINGERPRINT: Final = ("timestamp", "role", "content", "token_count")
_PRINTED: Final = operator.itemgetter(*_FINGERPRINT)


def _fingerprint(record: Record) -> object:
    # Compared, never hashed: a plain tuple of the fields that tell two records apart.
    # Each must be a plain value: comparing a nested one could recurse without bound.
    # The pager takes a print of every record, twice: the usual shape is one check.
    try:
        values = _PRINTED(record)
    except KeyError:  # a field left out prints as null
        values = tuple(map(record.get, _FINGERPRINT))
    stamp, role, content, tokens = values
    if (
        type(stamp) is str
        and type(role) is str
        and type(content) is str
        and (tokens is None or type(tokens) is int)
    ):
        return values
    for name, value in zip(_FINGERPRINT, values, strict=True):
        if isinstance(value, Mapping | list):
            f.fail("talkifai", f"{_WHERE}.{name}", "a plain value", value)
    return values


def _split_oldest_group(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """Split ascending *records* into (all but the oldest timestamp group, that group)."""
    if not records:
        return [], []
    oldest = records[0].get("timestamp")
    cut = 0
    while cut < len(records) and records[cut].get("timestamp") == oldest:
        cut += 1
    return records[cut:], records[:cut]


VENDOR: Final = Vendor(
    name="talkifai",
    provider=TalkifaiProvider,
    summary="Talkifai GET /v1/chat/sessions/{id}/messages",
    credential=CREDENTIAL,
    fake="backscroll.sandbox._talkifai:TalkifaiFake",
    paging="offset/limit",
)
