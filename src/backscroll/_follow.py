"""
Following conversations as they grow: each new message exactly once, across restarts.

A follow is a loop of *polls*. Each poll reads the conversation from where the last one
left off and hands over *candidates*, oldest first; the `FollowState` decides which of them
are new::

    provider ──poll──► candidates (oldest first, may repeat) ──► FollowState.covers? ──► yield
        ▲                                                               │
        └─────── interval (jitter) / backoff on errors ◄── state after each message

The state is small and bounded: the *horizon* (messages older than it are done with), the
newest timestamp yielded, the ids yielded at or after the horizon (as many as the last
``lookback`` of the conversation holds), and the vendor's own position. The horizon trails
the newest message by ``lookback``, so a message that shows up late with an older timestamp
(a back-dated insert) is still caught, as long as it is newer than the horizon and the
vendor lets a poll see it.

How a poll reads is the vendor's business, through the optional `FollowsConversations`
protocol (Talkifai resumes from the offset it reached); any other `ChatHistoryProvider`
is followed generically, with ``messages(since=horizon)`` and a diff by id: cheap where the
vendor filters by time (the cursor API asks only for what is after the horizon), a re-read
where it does not (Convai's details, diffed by their derived ids).

Why not one task per conversation yielding straight to the caller: an async generator must
never yield inside a task group, so `follow_many` runs its pollers in a task group of its
own and hands messages over a memory object stream, as ``blocking._Reader`` and the
migration ``Pipeline`` do.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, runtime_checkable

import anyio
import attrs

from backscroll._closing import GeneratorIterator, aclose
from backscroll._http import RetryPolicy
from backscroll._models import Message
from backscroll._paging import Window
from backscroll._validate import nonempty_str
from backscroll.errors import (
    APIConnectionError,
    ConfigurationError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from backscroll._protocols import ChatHistoryProvider

__all__ = [
    "FollowState",
    "Follower",
    "Following",
    "FollowsConversations",
    "Polled",
    "follow",
    "follow_many",
]

Sleep = Callable[[float], Awaitable[object]]

#: Errors a later poll may well not meet: backed off and polled again.
TRANSIENT: Final = (APIConnectionError, RateLimitError, ServerError)
DEFAULT_LOOKBACK: Final = timedelta(minutes=1)
DEFAULT_MAX_SEEN: Final = 10_000


@attrs.frozen(kw_only=True)
class FollowState:
    """
    Where a follow stands: save it, and a restarted follow resumes with no repeat, no gap.

    It round-trips through `backscroll.to_dict` / `backscroll.from_dict` (JSON-ready) and
    pickles. Treat it as opaque; the fields are documented for vendor plugins.

    Attributes:
        conversation_id: The conversation followed.
        provider: The provider's name (a state is refused by another vendor).
        horizon: Messages older than this are done with; ``None``: none are yet.
        watermark: The newest ``created_at`` yielded (or absorbed at the start).
        seen: The ids yielded at or after *horizon*, with their ``created_at``.
        position: The vendor's own place in the conversation (JSON-ready), or ``None``.

    .. versionadded:: 0.1.0
    """

    conversation_id: str
    provider: str
    horizon: datetime | None = None
    watermark: datetime | None = None
    seen: Mapping[str, datetime] = attrs.field(factory=dict)
    position: Mapping[str, Any] | None = None

    def covers(self, message: Message) -> bool:
        """
        Whether *message* is already accounted for: older than the horizon, or seen.

        Raises:
            ResponseFormatError: the message has no timestamp, so it cannot be placed.
        """
        at = _timestamp_of(message)
        if self.horizon is not None and at < self.horizon:
            return True
        return message.id in self.seen


def _timestamp_of(message: Message) -> datetime:
    if message.created_at is None:
        msg = (
            f"{message.provider} sent message {message.id!r} of conversation "
            f"{message.conversation_id!r} without a timestamp: follow places messages by "
            "time and cannot follow this conversation (read it with messages() instead)"
        )
        raise ResponseFormatError(msg)
    return message.created_at


@attrs.frozen
class Polled:
    """
    One candidate of a poll: a message, and the vendor's position just after it.

    Attributes:
        message: The message.
        position: Where the next poll should start once this message is handled
            (JSON-ready), or ``None`` for a vendor without positions.
        fresh: The vendor knows the message is new (it lies past a position it has
            verified): it is yielded unless seen, even when older than the horizon.

    .. versionadded:: 0.1.0
    """

    message: Message
    position: Mapping[str, Any] | None = None
    fresh: bool = False


@runtime_checkable
class FollowsConversations(Protocol):
    """
    A provider that polls a conversation more cheaply than re-reading it (Talkifai).

    Optional: any `ChatHistoryProvider` can be followed; implement this when your vendor
    can resume from a position of its own.

    .. versionadded:: 0.1.0
    """

    def poll(self, state: FollowState) -> AsyncIterator[Polled]:
        """
        Yield the conversation's messages from where *state* left off, oldest first.

        Yielding messages the state already covers is fine (they are dropped); leaving
        out a message the state does not cover is not: when the vendor's position cannot
        be trusted, read again from further back, or raise `PaginationError`. An empty
        ``state.position`` means: from the start.
        """
        ...


class _Tail:
    """The state of one follow, as it moves message by message."""

    def __init__(self, state: FollowState, *, lookback: timedelta, max_seen: int) -> None:
        self.state = state
        self._lookback = lookback
        self._max_seen = max_seen

    def admit(self, polled: Polled) -> bool:
        """Take in one candidate; whether it is new (to be yielded)."""
        message = polled.message
        state = self.state
        if message.id in state.seen or (not polled.fresh and state.covers(message)):
            if polled.position != state.position:
                self.state = attrs.evolve(state, position=polled.position)
            return False
        at = _timestamp_of(message)
        watermark = at if state.watermark is None else max(state.watermark, at)
        horizon = _shift(watermark, -self._lookback)
        if state.horizon is not None:
            horizon = max(horizon, state.horizon)
        seen = {i: t for i, t in state.seen.items() if t >= horizon}
        seen[message.id] = at
        if len(seen) > self._max_seen:
            horizon, seen = _trim(seen, self._max_seen, horizon)
        self.state = FollowState(
            conversation_id=state.conversation_id,
            provider=state.provider,
            horizon=horizon,
            watermark=watermark,
            seen=seen,
            position=polled.position,
        )
        return True


def _trim(
    seen: dict[str, datetime], keep: int, horizon: datetime
) -> tuple[datetime, dict[str, datetime]]:
    """Raise the horizon to the oldest timestamp that keeps at most *keep* ids (a whole second)."""
    stamps = sorted(seen.values(), reverse=True)
    cut = stamps[keep - 1]
    # Never split one timestamp: ids sharing it are all kept, or none.
    if cut == stamps[keep]:
        newer = [t for t in stamps if t > cut]
        cut = min(newer) if newer else cut
    return max(horizon, cut), {i: t for i, t in seen.items() if t >= cut}


def _shift(value: datetime, delta: timedelta) -> datetime:
    try:
        return value + delta
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _check_state(state: object, provider: ChatHistoryProvider, conversation_id: str) -> FollowState:
    if not isinstance(state, FollowState):
        msg = (
            f"state must be a FollowState (from follower.state, or "
            f"backscroll.from_dict(FollowState, ...)), got {type(state).__name__}"
        )
        raise ConfigurationError(msg)
    if state.conversation_id != conversation_id:
        msg = (
            f"this state follows conversation {state.conversation_id!r}, not "
            f"{conversation_id!r}: pass the state saved for that conversation"
        )
        raise ConfigurationError(msg)
    name = _name(provider)
    if state.provider != name:
        msg = f"this state was saved following {state.provider}, not {name}"
        raise ConfigurationError(msg)
    return state


def _name(provider: ChatHistoryProvider) -> str:
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) else type(provider).__name__


@attrs.frozen(kw_only=True)
class _Pace:
    """How often to poll, and how to back off; the sleep is injectable for tests."""

    interval: float
    jitter: float
    max_failures: int
    backoff: RetryPolicy
    sleep: Sleep

    @classmethod
    def of(
        cls,
        *,
        interval: object,
        jitter: object,
        max_backoff: object,
        max_failures: object,
        sleep: Sleep | None,
    ) -> _Pace:
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval > 0):
            msg = f"interval must be a positive number of seconds, got {interval!r}"
            raise ConfigurationError(msg)
        if not (isinstance(jitter, int | float) and 0 <= jitter < 1):
            msg = f"jitter must be a share of the interval, 0 <= jitter < 1, got {jitter!r}"
            raise ConfigurationError(msg)
        if not (isinstance(max_backoff, int | float) and max_backoff >= interval):
            msg = f"max_backoff must be at least the interval ({interval}), got {max_backoff!r}"
            raise ConfigurationError(msg)
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
            msg = f"max_failures must be a non-negative integer, got {max_failures!r}"
            raise ConfigurationError(msg)
        return cls(
            interval=float(interval),
            jitter=float(jitter),
            max_failures=max_failures,
            # The providers' own policy, scaled to polls: doubling from one interval.
            backoff=RetryPolicy(initial=float(interval), maximum=float(max_backoff)),
            sleep=sleep or anyio.sleep,
        )

    async def rest(self) -> None:
        """Wait one interval, less up to *jitter* of it, so that followers spread out."""
        await self.sleep(self.interval * (1 - self.jitter * random.random()))  # noqa: S311

    async def back_off(self, failures: int) -> None:
        """Wait after the *failures*-th failed poll in a row."""
        await self.sleep(self.backoff.delay(failures - 1, None))


class Follower(GeneratorIterator[Message]):
    """
    The new messages of one conversation, as they arrive; made by `follow`.

    An async iterator (``async for``) and an async context manager (``async with``, which
    closes it). After each message, `state` is where a restart should resume.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        conversation_id: str,
        *,
        state: FollowState | None,
        since: datetime | None,
        lookback: timedelta,
        max_seen: int,
        pace: _Pace,
    ) -> None:
        self._provider = provider
        self._conversation_id = conversation_id
        self._since = since
        self._tail: _Tail | None = None
        self._lookback = lookback
        self._max_seen = max_seen
        if state is not None:
            self._tail = _Tail(state, lookback=lookback, max_seen=max_seen)
        elif since is not None:
            start = FollowState(conversation_id=conversation_id, provider=_name(provider))
            self._tail = _Tail(
                attrs.evolve(start, horizon=since), lookback=lookback, max_seen=max_seen
            )
        self._pace = pace

    def __repr__(self) -> str:
        return f"<Follower {_name(self._provider)} {self._conversation_id!r}>"

    @property
    def conversation_id(self) -> str:
        """The conversation followed."""
        return self._conversation_id

    @property
    def state(self) -> FollowState | None:
        """
        Where the follow stands after the last message yielded; save it to resume.

        ``None`` only when following from now, before `start` (or the first message)
        has found the end of the conversation.
        """
        return None if self._tail is None else self._tail.state

    async def start(self) -> FollowState:
        """
        Find where the follow starts, without waiting for a message; return that state.

        Following from now, this reads the end of the conversation (iterating does it
        otherwise). Save the state it returns, and a restart misses nothing that arrives
        before the first message.
        """
        if self._tail is None:
            self._tail = await self._from_now()
        return self._tail.state

    async def _run(self) -> AsyncGenerator[Message, None]:
        await self.start()
        tail = self._tail
        if tail is None:  # pragma: no cover - start() set it
            raise AssertionError
        failures = 0
        while True:
            found = False
            try:
                async with _closing(self._poll(tail.state)) as candidates:
                    async for polled in candidates:
                        if tail.admit(polled):
                            found = True
                            yield polled.message
            except TRANSIENT:
                failures += 1
                if failures > self._pace.max_failures:
                    raise
                await self._pace.back_off(failures)
                continue
            failures = 0
            if not found:
                # The fast path: a poll that brought something is followed at once (more
                # may be waiting); nothing new twice in a row only after the interval.
                await self._pace.rest()

    def _poll(self, state: FollowState) -> AsyncIterator[Polled]:
        if isinstance(self._provider, FollowsConversations):
            return self._provider.poll(state)
        return _generic_poll(self._provider, state)

    async def _from_now(self) -> _Tail:
        """The state at the end of the conversation as it is now, without yielding it."""
        start = FollowState(conversation_id=self._conversation_id, provider=_name(self._provider))
        tail = _Tail(start, lookback=self._lookback, max_seen=self._max_seen)
        failures = 0
        while True:
            try:
                if isinstance(self._provider, FollowsConversations):
                    # The vendor's poll, from its start: it ends knowing its position.
                    async with _closing(self._provider.poll(start)) as candidates:
                        async for polled in candidates:
                            tail.admit(polled)
                else:
                    await _absorb_newest(self._provider, tail, self._lookback)
            except TRANSIENT:
                failures += 1
                if failures > self._pace.max_failures:
                    raise
                tail = _Tail(start, lookback=self._lookback, max_seen=self._max_seen)
                await self._pace.back_off(failures)
                continue
            return tail


@contextlib.asynccontextmanager
async def _closing(iterator: AsyncIterator[Polled]) -> AsyncGenerator[AsyncIterator[Polled], None]:
    """Close *iterator* on the way out, if it can be closed (a plugin's may not)."""
    try:
        yield iterator
    finally:
        await aclose(iterator)


async def _generic_poll(provider: ChatHistoryProvider, state: FollowState) -> AsyncIterator[Polled]:
    """Any provider: what it has from the horizon on (all of it, before a horizon)."""
    messages = provider.messages(state.conversation_id, since=state.horizon)
    try:
        async for message in messages:
            yield Polled(message)
    finally:
        await aclose(messages)


async def _absorb_newest(provider: ChatHistoryProvider, tail: _Tail, lookback: timedelta) -> None:
    """Take in the conversation's last ``lookback``, newest first: where "now" starts."""
    newest: datetime | None = None
    messages = provider.messages(tail.state.conversation_id, order="desc")
    try:
        async for message in messages:
            at = _timestamp_of(message)
            if newest is None:
                newest = at
            if at < _shift(newest, -lookback):
                break
            tail.admit(Polled(message))
    finally:
        await aclose(messages)


def _check_lookback(lookback: object, max_seen: object) -> timedelta:
    if not isinstance(lookback, timedelta) or lookback < timedelta(0):
        msg = f"lookback must be a non-negative timedelta, got {lookback!r}"
        raise ConfigurationError(msg)
    if isinstance(max_seen, bool) or not isinstance(max_seen, int) or max_seen < 1:
        msg = f"max_seen must be a positive integer, got {max_seen!r}"
        raise ConfigurationError(msg)
    return lookback


def follow(
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    since: datetime | None = None,
    state: FollowState | None = None,
    interval: float = 5.0,
    jitter: float = 0.1,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_seen: int = DEFAULT_MAX_SEEN,
    max_backoff: float = 300.0,
    max_failures: int = 8,
    sleep: Sleep | None = None,
) -> Follower:
    """
    Follow a conversation: yield each new message exactly once, oldest first, until stopped.

    .. code-block:: python

        async with backscroll.follow(provider, "con_9s2kd81", state=saved) as follower:
            async for message in follower:
                handle(message)
                save(backscroll.to_dict(follower.state))

    Args:
        provider: Any `ChatHistoryProvider`; one that also implements
            `FollowsConversations` polls the vendor's own way.
        conversation_id: The conversation to follow.
        since: Start from this time (inclusive; naive means UTC) instead of from now.
        state: Resume where a saved `Follower.state` left off (no repeat, no gap).
        interval: Seconds between polls that find nothing new.
        jitter: Each wait is shortened by up to this share of it, at random.
        lookback: How far behind the newest message a late arrival (a back-dated
            insert) is still caught, where the vendor shows it. The state holds the ids
            of this stretch of the conversation.
        max_seen: The most ids the state holds; past it, the lookback shrinks.
        max_backoff: The longest wait after failed polls.
        max_failures: Failed polls in a row (connection errors, 429, 5xx, after the
            provider's own retries) before the error is raised.
        sleep: The sleep to wait with (``anyio.sleep``); tests pass a fake clock's.

    Returns:
        A `Follower`: ``async for`` it; ``async with`` it (or `Follower.aclose`) to stop.

    Raises:
        ConfigurationError: a bad option, both *since* and *state*, or a state saved for
            another conversation or vendor.

    Iterating raises what the polls raise, once *max_failures* is spent for transient
    errors, at once for the others (`PaginationError` when the vendor's history moved in
    a way that cannot be followed without loss).

    .. versionadded:: 0.1.0
    """
    nonempty_str(conversation_id, "conversation_id")
    if since is not None and state is not None:
        msg = "pass since= or state=, not both: a saved state knows where to resume"
        raise ConfigurationError(msg)
    if state is not None:
        state = _check_state(state, provider, conversation_id)
    return Follower(
        provider,
        conversation_id,
        state=state,
        since=Window.of(since, None).since,
        lookback=_check_lookback(lookback, max_seen),
        max_seen=max_seen,
        pace=_Pace.of(
            interval=interval,
            jitter=jitter,
            max_backoff=max_backoff,
            max_failures=max_failures,
            sleep=sleep,
        ),
    )


#: What a poller hands the reader: a message with its state, or the error that ended it.
_Item = tuple[str, Message, FollowState | None] | Exception


class Following:
    """
    The new messages of several conversations, interleaved as they arrive.

    Made by `follow_many`; use it as ``async with``, then ``async for`` over it. One poller
    per conversation runs in a task group of its own, handing each message over a memory
    object stream with no buffer, so `states` is exact after every message received.

    .. versionadded:: 0.1.0
    """

    def __init__(self, followers: Iterable[Follower]) -> None:
        self._followers = {f.conversation_id: f for f in followers}
        self._states: dict[str, FollowState | None] = {
            cid: f.state for cid, f in self._followers.items()
        }
        self._group: TaskGroup | None = None
        self._scopes: list[anyio.CancelScope] = []
        self._receive: MemoryObjectReceiveStream[_Item] | None = None

    def __repr__(self) -> str:
        return f"<Following {sorted(self._followers)}>"

    @property
    def states(self) -> Mapping[str, FollowState]:
        """
        Each conversation's state after the last message received; save them to resume.

        Known for every conversation from the moment the ``async with`` block is entered.
        """
        return {cid: s for cid, s in self._states.items() if s is not None}

    async def __aenter__(self) -> Self:
        # Every start is known before the first message: `states` can be saved at once.
        failures: list[Exception] = []
        async with anyio.create_task_group() as starting:
            for follower in self._followers.values():
                starting.start_soon(self._start, follower, failures)
        if failures:
            raise failures[0]
        send, self._receive = anyio.create_memory_object_stream[_Item](0)
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        with send:
            for follower in self._followers.values():
                # Each poller in a scope of its own: stopping them must not cancel the
                # reader, which sits inside the group's scope while the block runs.
                scope = anyio.CancelScope()
                self._scopes.append(scope)
                group.start_soon(_pump, follower, send.clone(), scope)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        group, self._group = self._group, None
        if group is None:
            return None
        for scope in self._scopes:
            scope.cancel()
        try:
            if isinstance(exc, Exception):
                # The reader's own error: stop the pollers, then let it through as it is
                # (not wrapped in an exception group).
                await group.__aexit__(None, None, None)
                return None
            return await group.__aexit__(exc_type, exc, tb)
        finally:
            if self._receive is not None:
                self._receive.close()

    async def _start(self, follower: Follower, failures: list[Exception]) -> None:
        # No cancelling the others on a failure: that scope holds the entering task too.
        try:
            self._states[follower.conversation_id] = await follower.start()
        except Exception as exc:  # noqa: BLE001 - raised by __aenter__, as it is
            failures.append(exc)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        if self._group is None or self._receive is None:
            msg = "use follow_many() as `async with backscroll.follow_many(...) as following:`"
            raise RuntimeError(msg)
        try:
            item = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, Exception):
            raise item
        cid, message, state = item
        self._states[cid] = state
        return message


async def _pump(
    follower: Follower, send: MemoryObjectSendStream[_Item], scope: anyio.CancelScope
) -> None:
    """Hand one follower's messages (or its error, which ends the whole follow) over."""
    with scope:
        await _hand_over(follower, send)


async def _hand_over(follower: Follower, send: MemoryObjectSendStream[_Item]) -> None:
    async with send, follower:
        try:
            async for message in follower:
                await send.send((follower.conversation_id, message, follower.state))
        except anyio.BrokenResourceError:
            return  # the reader has gone
        except Exception as exc:  # noqa: BLE001 - handed to the reader, raised there
            with contextlib.suppress(anyio.BrokenResourceError):
                await send.send(exc)


def follow_many(
    provider: ChatHistoryProvider,
    conversation_ids: Iterable[str] = (),
    *,
    states: Iterable[FollowState] = (),
    since: datetime | None = None,
    interval: float = 5.0,
    jitter: float = 0.1,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_seen: int = DEFAULT_MAX_SEEN,
    max_backoff: float = 300.0,
    max_failures: int = 8,
    sleep: Sleep | None = None,
) -> Following:
    """
    Follow several conversations at once: `follow` for each, merged into one stream.

    .. code-block:: python

        async with backscroll.follow_many(provider, ["a", "b"]) as following:
            async for message in following:
                handle(message)
                save({cid: backscroll.to_dict(s) for cid, s in following.states.items() if s})

    Args:
        provider: Shared by every poller (its ``rate_limit`` paces them all).
        conversation_ids: Conversations to follow from *since*, or from now.
        states: Saved states to resume from (their conversations are followed too).
        since: As in `follow`, for the *conversation_ids*.
        interval: As in `follow`.
        jitter: As in `follow`; it spreads the pollers out.
        lookback: As in `follow`.
        max_seen: As in `follow`.
        max_backoff: As in `follow`.
        max_failures: As in `follow`; a poller that gives up ends the whole follow, and
            its error is raised from the iteration.
        sleep: As in `follow`.

    Raises:
        ConfigurationError: a bad option, no conversations, or one given twice.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "interval": interval,
        "jitter": jitter,
        "lookback": lookback,
        "max_seen": max_seen,
        "max_backoff": max_backoff,
        "max_failures": max_failures,
        "sleep": sleep,
    }
    if isinstance(conversation_ids, str):
        msg = "conversation_ids takes a list of ids, not one string"
        raise ConfigurationError(msg)
    followers: list[Follower] = []
    taken: set[str] = set()
    given: Iterable[object] = states
    for state in given:
        if not isinstance(state, FollowState):
            msg = f"states must hold FollowState values, got {type(state).__name__}"
            raise ConfigurationError(msg)
        followers.append(follow(provider, state.conversation_id, state=state, **options))
        taken.add(state.conversation_id)
    for cid in conversation_ids:
        if cid in taken:
            msg = f"conversation {cid!r} is given twice (in conversation_ids or states)"
            raise ConfigurationError(msg)
        followers.append(follow(provider, cid, since=since, **options))
        taken.add(cid)
    if not followers:
        msg = "follow_many needs conversation_ids= or states="
        raise ConfigurationError(msg)
    return Following(followers)
