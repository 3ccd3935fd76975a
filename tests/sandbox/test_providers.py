"""
The three providers read every sandbox conversation exactly once, in order.

Every conversation, both orders, several page sizes (small ones put bursts across page
boundaries and make a burst larger than a page), compared with the ground truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from backscroll import (
    BackscrollError,
    ConvaiProvider,
    CursorProvider,
    Message,
    PaginationError,
    Role,
    TalkifaiProvider,
)
from backscroll.sandbox import (
    CONVAI_CHARACTER_ID,
    CursorQuirks,
    Sandbox,
    TalkifaiQuirks,
    session_token,
)

if TYPE_CHECKING:
    from backscroll._protocols import Order

pytestmark = pytest.mark.anyio

ORDERS: list[Order] = ["asc", "desc"]
PAGE_SIZES = [None, 3, 7, 50]
Row = tuple[str, str, datetime]

_TALKIFAI_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT}
_CURSOR_ROLES = {"user": Role.USER, "ai": Role.ASSISTANT, "system": Role.SYSTEM}
_CONVAI_ROLES = {"User": Role.USER, "Character": Role.ASSISTANT}


def rows(messages: list[Message]) -> list[Row]:
    """What a message says, who said it and when: what must match the ground truth."""
    return [(m.role.value, m.content, m.created_at) for m in messages]  # type: ignore[misc]


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def talkifai_truth(records: list[dict[str, Any]]) -> list[Row]:
    return [(_TALKIFAI_ROLES[r["role"]].value, r["content"], iso(r["timestamp"])) for r in records]


def cursor_truth(records: list[dict[str, Any]]) -> list[Row]:
    return [
        (_CURSOR_ROLES[r["sender_type"]].value, r["text"], iso(r["created_at"])) for r in records
    ]


def convai_truth(interactions: list[dict[str, Any]]) -> list[Row]:
    return [
        (
            _CONVAI_ROLES.get(e["speaker"], Role.UNKNOWN).value,
            e["message"],
            iso(i["timestamp"] + "+00:00"),
        )
        for i in interactions
        for e in i["interaction"]
    ]


def ordered(truth: list[Row], order: Order) -> list[Row]:
    return truth if order == "asc" else truth[::-1]


class Verdicts:
    """What reading conversations showed: every wrong read is collected, then reported."""

    def __init__(self) -> None:
        self.wrong: list[str] = []

    def check(self, messages: list[Message], truth: list[Row], where: str) -> None:
        """Same rows in the same order, ids unique; else note what went wrong."""
        got = rows(messages)
        if len({m.id for m in messages}) != len(messages):
            self.wrong.append(f"{where}: repeated ids")
        elif got != truth:
            missing = [r for r in truth if r not in got]
            extra = [r for r in got if r not in truth]
            first = next(
                (i for i, (a, b) in enumerate(zip(got, truth, strict=False)) if a != b), None
            )
            self.wrong.append(
                f"{where}: got {len(got)} of {len(truth)} messages; missing {missing[:2]}, "
                f"extra {extra[:2]}, first difference at {first}"
            )

    def failed(self, where: str, error: Exception) -> None:
        """Note an exception where the whole conversation should have been read."""
        self.wrong.append(f"{where}: {type(error).__name__}: {error}")

    def conclude(self) -> None:
        """Fail listing every wrong read."""
        if self.wrong:
            pytest.fail(f"{len(self.wrong)} wrong reads:\n" + "\n".join(self.wrong[:10]))


async def read(
    provider: TalkifaiProvider | CursorProvider | ConvaiProvider,
    conversation_id: str,
    order: Order,
    page_size: int | None = None,
) -> list[Message]:
    return [m async for m in provider.messages(conversation_id, order=order, page_size=page_size)]


async def read_all(
    sandbox: Sandbox, vendor: str, verdicts: Verdicts, *, order: Order, page_size: int | None
) -> None:
    """Read every conversation of *vendor* (quirk state reset before each) into *verdicts*."""
    talkifai = vendor == "talkifai"
    conversations = sandbox.data.talkifai if talkifai else sandbox.data.cursor
    truth = talkifai_truth if talkifai else cursor_truth
    async with sandbox.talkifai() if talkifai else sandbox.cursor() as provider:
        for conversation_id, records in conversations.items():
            sandbox.forget_repeats()
            where = f"{vendor} {conversation_id} ({len(records)}) {order} page_size={page_size}"
            try:
                messages = await read(provider, conversation_id, order, page_size)
            except BackscrollError as error:
                verdicts.failed(where, error)
                continue
            verdicts.check(messages, ordered(truth(records), order), where)


# -- the documented behaviour ----------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("page_size", PAGE_SIZES)
async def test_talkifai_reads_every_conversation(
    sandbox: Sandbox, order: Order, page_size: int | None
) -> None:
    """TalkifaiProvider reads each conversation exactly once, in order, at any page size."""
    verdicts = Verdicts()
    await read_all(sandbox, "talkifai", verdicts, order=order, page_size=page_size)
    verdicts.conclude()


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("page_size", PAGE_SIZES)
async def test_cursor_reads_every_conversation(
    sandbox: Sandbox, order: Order, page_size: int | None
) -> None:
    """CursorProvider reads each conversation exactly once, in order, at any page size."""
    verdicts = Verdicts()
    await read_all(sandbox, "cursor", verdicts, order=order, page_size=page_size)
    verdicts.conclude()


@pytest.mark.parametrize("order", ORDERS)
async def test_convai_reads_every_session(sandbox: Sandbox, order: Order) -> None:
    """ConvaiProvider lists every session and reads each exactly once, in order."""
    verdicts = Verdicts()
    async with sandbox.convai() as provider:
        conversations = [c async for c in provider.conversations()]
        truth = sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]
        assert [c.id for c in conversations] == [s["sessionID"] for s in truth]
        for session_id, interactions in sandbox.data.convai_interactions.items():
            messages = await read(provider, session_id, order)
            where = f"convai {session_id} ({len(interactions)}) order={order}"
            verdicts.check(messages, ordered(convai_truth(interactions), order), where)
    verdicts.conclude()


async def test_talkifai_per_conversation_tokens(sandbox: Sandbox) -> None:
    """A token callable giving each conversation its session token reads them all."""
    async with sandbox.talkifai(token=session_token) as provider:
        for conversation_id, records in sandbox.data.talkifai.items():
            messages = await read(provider, conversation_id, "asc")
            assert rows(messages) == talkifai_truth(records)


async def test_providers_read_what_was_appended(sandbox: Sandbox) -> None:
    """A second pass reads the messages appended since the first, with the same ids before."""
    talkifai_id = next(iter(sandbox.data.talkifai))
    cursor_id = "con_9s2kd81"
    verdicts = Verdicts()
    async with sandbox.talkifai() as talkifai, sandbox.cursor() as cursor:
        talkifai_before = await read(talkifai, talkifai_id, "asc", 5)
        cursor_before = await read(cursor, cursor_id, "asc", 5)
        sandbox.data.extend_talkifai(talkifai_id, 12)
        sandbox.data.extend_cursor(cursor_id, 12)
        talkifai_after = await read(talkifai, talkifai_id, "asc", 5)
        cursor_after = await read(cursor, cursor_id, "asc", 5)

    verdicts.check(talkifai_after, talkifai_truth(sandbox.data.talkifai[talkifai_id]), "talkifai")
    verdicts.check(cursor_after, cursor_truth(sandbox.data.cursor[cursor_id]), "cursor")
    verdicts.conclude()
    for before, after in ((talkifai_before, talkifai_after), (cursor_before, cursor_after)):
        assert len(after) == len(before) + 12
        assert [m.id for m in after[: len(before)]] == [m.id for m in before]


@pytest.mark.parametrize("order", ORDERS)
async def test_cursor_burst_filling_a_page(order: Order) -> None:
    """Two messages in one second, read two per page, keep their order (the minimal repro)."""
    sandbox = Sandbox(cursor_sizes=(2,), burst_rate=1.0, max_burst=2)
    conversation_id = list(sandbox.data.cursor)[-1]
    records = sandbox.data.cursor[conversation_id]
    assert records[0]["created_at"] == records[1]["created_at"]
    verdicts = Verdicts()

    async with sandbox.cursor() as provider:
        messages = await read(provider, conversation_id, order, 2)

    verdicts.check(messages, ordered(cursor_truth(records), order), "two in one second")
    verdicts.conclude()


# -- quirks the client must survive ----------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "quirks",
    [
        CursorQuirks(page_order="asc"),
        CursorQuirks(stuck_cursor=True),
        CursorQuirks(empty_page_has_more=True),
        CursorQuirks(repeat_page_every=2),
        CursorQuirks(repeat_page_every=3),
        CursorQuirks(max_limit=30),
    ],
    ids=["asc-pages", "stuck-cursor", "empty-page-has-more", "repeat-2", "repeat-3", "max-30"],
)
async def test_cursor_survives_quirks(sandbox: Sandbox, order: Order, quirks: CursorQuirks) -> None:
    """The cursor provider reads every conversation exactly once despite each quirk."""
    sandbox.cursor_quirks = quirks
    verdicts = Verdicts()
    await read_all(sandbox, "cursor", verdicts, order=order, page_size=7)
    verdicts.conclude()


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "quirks",
    [TalkifaiQuirks(past_end="empty"), TalkifaiQuirks(max_limit=30)],
    ids=["past-end-empty", "max-30"],
)
async def test_talkifai_survives_quirks(
    sandbox: Sandbox, order: Order, quirks: TalkifaiQuirks
) -> None:
    """The Talkifai provider reads every conversation exactly once despite each quirk."""
    sandbox.talkifai_quirks = quirks
    verdicts = Verdicts()
    await read_all(sandbox, "talkifai", verdicts, order=order, page_size=10)
    verdicts.conclude()


@pytest.mark.parametrize("order", ORDERS)
async def test_talkifai_refuses_an_ignored_offset(sandbox: Sandbox, order: Order) -> None:
    """A Talkifai that ignores offset= makes paging raise PaginationError, never lose data."""
    sandbox.talkifai_quirks = TalkifaiQuirks(ignore_offset=True)
    async with sandbox.talkifai() as provider:
        with pytest.raises(PaginationError, match="ignores offset"):
            await read(provider, "chat_abc123", order, 7)


# -- stale caches and ignored cursors ---------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("every", [2, 3])
async def test_talkifai_survives_repeated_pages(sandbox: Sandbox, order: Order, every: int) -> None:
    """Every n-th answer repeating the previous one still reads each message exactly once."""
    sandbox.talkifai_quirks = TalkifaiQuirks(repeat_page_every=every)
    verdicts = Verdicts()
    await read_all(sandbox, "talkifai", verdicts, order=order, page_size=7)
    verdicts.conclude()


@pytest.mark.parametrize("order", ORDERS)
async def test_cursor_detects_an_ignored_cursor(sandbox: Sandbox, order: Order) -> None:
    """
    A server that ignores before/after is read whole or refused, never silently cut.

    What was yielded before the refusal is a true start of the history in that order:
    ascending, nothing at all (the newest page must not pass for the oldest).
    """
    sandbox.cursor_quirks = CursorQuirks(ignore_cursor=True)
    verdicts = Verdicts()
    refused = 0
    async with sandbox.cursor() as provider:
        for conversation_id, records in sandbox.data.cursor.items():
            where = f"cursor ignore_cursor {conversation_id} ({len(records)}) {order}"
            truth = ordered(cursor_truth(records), order)
            messages: list[Message] = []
            try:
                async for message in provider.messages(conversation_id, order=order, page_size=7):
                    messages.append(message)  # noqa: PERF401 - kept when the loop raises
            except PaginationError:
                refused += 1
                verdicts.check(messages, truth[: len(messages)], f"{where} (before refusing)")
                if order == "asc":
                    assert messages == [], f"{where}: yielded before refusing"
                continue
            verdicts.check(messages, truth, where)
    verdicts.conclude()
    assert refused, "no conversation was long enough to need a cursor"
