"""
LangGraph: vendor history as a thread's starting state, and as a store to look up.

Needs the ``langgraph`` extra: ``pip install 'backscroll[langgraph]'`` (it brings
langchain-core).

Three ways into a graph, none of them with a model call:

- `aload_thread` reads a conversation and writes it into a thread's state with
  ``aupdate_state``, as if a node had produced it: the thread then continues from the
  vendor's history (``graph.ainvoke({"messages": history})`` would do the same at the cost
  of running the graph, model call included);
- `follow_thread` does the same, then keeps the thread current: each message the vendor
  adds later is appended to the thread's state as it arrives (`backscroll.follow`);
- `BackscrollStore` is a read-only LangGraph ``BaseStore``: a node looks up any vendor
  conversation by namespace and key (``await runtime.store.aget(("backscroll",),
  "con_9s2kd81")``), and the store can sit in front of your own writable store, which keeps
  every other namespace.

Messages are LangChain's, converted as `backscroll.integrations.langchain` converts them:
each keeps backscroll's id, so LangGraph's ``add_messages`` reducer replaces rather than
repeats a history loaded twice.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from backscroll._closing import GeneratorIterator
from backscroll._follow import DEFAULT_LOOKBACK, DEFAULT_MAX_SEEN, FollowState, follow
from backscroll._protocols import ChatHistoryProvider, ListsConversations
from backscroll._validate import positive_int
from backscroll.errors import ConfigurationError, NotFoundError, ReadOnlyError
from backscroll.integrations import _facade
from backscroll.integrations._mapping import missing_extra, select
from backscroll.integrations._reading import read_history

try:
    from langchain_core.messages import BaseMessage, message_to_dict
    from langchain_core.runnables import RunnableConfig
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        Item,
        ListNamespacesOp,
        PutOp,
        SearchItem,
        SearchOp,
    )
except ImportError as exc:
    raise missing_extra("backscroll.integrations.langgraph", "langgraph", "langgraph") from exc

from backscroll.integrations.langchain import aload_messages, to_langchain_messages

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterable

    from langgraph.pregel import Pregel
    from langgraph.store.base import Op, Result

    from backscroll._follow import Follower, Sleep
    from backscroll._models import Conversation
    from backscroll.integrations._mapping import Names, Unmapped

__all__ = ["BackscrollStore", "ThreadFollower", "ThreadUpdate", "aload_thread", "follow_thread"]


async def aload_thread(
    graph: Pregel[Any, Any, Any, Any],
    config: RunnableConfig,
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    key: str = "messages",
    as_node: str | None = None,
    max_messages: int | None = None,
    since: datetime | None = None,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
) -> RunnableConfig:
    """
    Load a vendor conversation into a graph thread's state, without running the graph.

    .. code-block:: python

        config = {"configurable": {"thread_id": "con_9s2kd81"}}
        await aload_thread(graph, config, provider, "con_9s2kd81", max_messages=50)
        await graph.ainvoke({"messages": [HumanMessage("And now?")]}, config)

    Args:
        graph: A compiled graph with a checkpointer (``builder.compile(checkpointer=...)``).
        config: The thread's config, ``{"configurable": {"thread_id": ...}}``.
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor.
        key: The state key holding the messages (``"messages"`` in ``MessagesState``).
        as_node: The node the update counts as coming from; ``None`` lets LangGraph choose
            (it must be given when that is ambiguous, as ``aupdate_state`` says).
        max_messages: Only the newest this many (read newest first); ``None`` for all.
        since: Inclusive lower bound on `Message.created_at`.
        names: As for `backscroll.integrations.langchain.to_langchain_messages`.
        drop_empty: As for ``to_langchain_messages``.
        unmapped: As for ``to_langchain_messages``.

    Returns:
        The config of the checkpoint written, as ``aupdate_state`` returns it.

    Raises:
        ConfigurationError: an option is invalid.

    Reading raises the provider's errors (`backscroll.errors`); LangGraph raises its own
    when the graph has no checkpointer or the update is ambiguous.

    .. versionadded:: 0.1.0
    """
    history = await aload_messages(
        provider,
        conversation_id,
        max_messages=max_messages,
        since=since,
        names=names,
        drop_empty=drop_empty,
        unmapped=unmapped,
    )
    return await graph.aupdate_state(config, {key: history}, as_node=as_node)


@attrs.frozen
class ThreadUpdate:
    """
    What `follow_thread` wrote into the thread: messages, and where the follow stands.

    Attributes:
        messages: The LangChain messages appended (the whole history, first).
        state: Where the follow stands once they are written; save it to resume with
            ``follow_thread(..., state=...)``.
        config: The config of the checkpoint written, as ``aupdate_state`` returns it.

    .. versionadded:: 0.1.0
    """

    messages: list[BaseMessage]
    state: FollowState
    config: RunnableConfig


class ThreadFollower(GeneratorIterator[ThreadUpdate]):
    """
    A graph thread kept current with a vendor conversation; made by `follow_thread`.

    An async iterator of `ThreadUpdate` (``async for``) and an async context manager
    (``async with``, which closes it): each update has been written to the thread by the
    time it is yielded.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        config: RunnableConfig,
        provider: ChatHistoryProvider,
        follower: Follower,
        *,
        load: bool,
        key: str,
        as_node: str | None,
        max_messages: int | None,
        convert: functools.partial[list[BaseMessage]],
    ) -> None:
        self._graph = graph
        self._config = config
        self._provider = provider
        self._follower = follower
        self._load = load
        self._key = key
        self._as_node = as_node
        self._max_messages = max_messages
        self._convert = convert

    def __repr__(self) -> str:
        return f"<ThreadFollower {self._follower!r}>"

    @property
    def state(self) -> FollowState | None:
        """Where the follow stands after the last update yielded (as `Follower.state`)."""
        return self._follower.state

    async def _write(self, messages: list[BaseMessage]) -> RunnableConfig:
        return await self._graph.aupdate_state(
            self._config, {self._key: messages}, as_node=self._as_node
        )

    async def _run(self) -> AsyncGenerator[ThreadUpdate, None]:
        follower = self._follower
        async with follower:
            # The follow's start first, the history after it: a message arriving between
            # the two is in both, never in neither; the ids tell which to skip.
            start = await follower.start()
            loaded: set[str] = set()
            if self._load:
                history = await read_history(
                    self._provider, follower.conversation_id, newest=self._max_messages
                )
                loaded = {m.id for m in history if not start.covers(m)}
                messages = self._convert(history)
                yield ThreadUpdate(messages, start, await self._write(messages))
            async for message in follower:
                if message.id in loaded:
                    loaded.discard(message.id)
                    continue
                messages = self._convert([message])
                if not messages:  # dropped by drop_empty= or unmapped="skip"
                    continue
                state = follower.state
                if state is None:  # pragma: no cover - set before the first message
                    raise AssertionError
                yield ThreadUpdate(messages, state, await self._write(messages))


def follow_thread(
    graph: Pregel[Any, Any, Any, Any],
    config: RunnableConfig,
    provider: ChatHistoryProvider,
    conversation_id: str,
    *,
    state: FollowState | None = None,
    key: str = "messages",
    as_node: str | None = None,
    max_messages: int | None = None,
    names: Names = False,
    drop_empty: bool = False,
    unmapped: Unmapped = "user",
    interval: float = 5.0,
    jitter: float = 0.1,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_seen: int = DEFAULT_MAX_SEEN,
    max_backoff: float = 300.0,
    max_failures: int = 8,
    sleep: Sleep | None = None,
) -> ThreadFollower:
    """
    Load a vendor conversation into a graph thread, then append each new message as it comes.

    .. code-block:: python

        async with follow_thread(graph, config, provider, "con_9s2kd81", state=saved) as updates:
            async for update in updates:
                save(backscroll.to_dict(update.state))

    Without *state*, the history is loaded first, as `aload_thread` loads it (the first
    update holds it), and the follow starts at its end; with *state* (saved from an update)
    the thread is taken to hold everything up to it already, and only what came after is
    appended, with no repeat and no gap. Each message is written with ``aupdate_state``, as
    if *as_node* had produced it; the graph is not run.

    Args:
        graph: A compiled graph with a checkpointer (``builder.compile(checkpointer=...)``).
        config: The thread's config, ``{"configurable": {"thread_id": ...}}``.
        provider: Where the conversation lives.
        conversation_id: Its id at the vendor.
        state: Resume where a saved `ThreadUpdate.state` left off, without loading.
        key: As for `aload_thread`.
        as_node: As for `aload_thread`.
        max_messages: As for `aload_thread` (the history loaded at the start).
        names: As for `aload_thread`.
        drop_empty: As for `aload_thread`; a dropped message writes nothing.
        unmapped: As for `aload_thread`; a skipped message writes nothing.
        interval: As for `backscroll.follow`.
        jitter: As for `backscroll.follow`.
        lookback: As for `backscroll.follow`.
        max_seen: As for `backscroll.follow`.
        max_backoff: As for `backscroll.follow`.
        max_failures: As for `backscroll.follow`.
        sleep: As for `backscroll.follow` (tests pass a fake clock's).

    Returns:
        A `ThreadFollower`: ``async for`` its updates; ``async with`` it to stop.

    Raises:
        ConfigurationError: an option is invalid, or *state* was saved for another
            conversation or vendor.

    Iterating raises what `backscroll.follow` raises, and LangGraph's own errors when the
    graph has no checkpointer or the update is ambiguous.

    .. versionadded:: 0.1.0
    """
    select([], unmapped=unmapped, drop_empty=drop_empty, target="follow_thread")
    if max_messages is not None:
        positive_int(max_messages, "max_messages")
    follower = follow(
        provider,
        conversation_id,
        state=state,
        interval=interval,
        jitter=jitter,
        lookback=lookback,
        max_seen=max_seen,
        max_backoff=max_backoff,
        max_failures=max_failures,
        sleep=sleep,
    )
    convert = functools.partial(
        to_langchain_messages, names=names, drop_empty=drop_empty, unmapped=unmapped
    )
    return ThreadFollower(
        graph,
        config,
        provider,
        follower,
        load=state is None,
        key=key,
        as_node=as_node,
        max_messages=max_messages,
        convert=convert,
    )


class BackscrollStore(BaseStore):
    """
    A read-only LangGraph store of vendor conversations, keyed by conversation id.

    Under *namespace*, ``get(namespace, conversation_id)`` returns an ``Item`` whose value
    is ``{"provider": ..., "conversation_id": ..., "messages": [...]}``, the messages as
    LangChain message dicts (``langchain_core.messages.messages_from_dict`` turns them back
    into messages), oldest first, read from the vendor at each call; a conversation the
    vendor does not know gives ``None``. ``search(namespace)`` lists conversations where the
    provider can (`ListsConversations`), each value without its messages. Writing under
    *namespace* raises `ReadOnlyError`.

    Every other namespace goes to *store* (your writable ``InMemoryStore``,
    ``PostgresStore``, ...), so a graph keeps its own memory beside the vendor's history;
    without one, reads there find nothing and writes raise `ReadOnlyError`.

    Sync (``get``, ``search``, a sync graph) and async (``aget``, ...) calls work from any
    thread and event loop: the provider is read on one loop, the blocking facade's (see
    `backscroll.integrations.langchain.BackscrollChatMessageHistory`).

    Args:
        provider: Where the conversations live.
        namespace: The namespace the conversations appear under.
        store: The store for every other namespace.
        max_messages: Only the newest this many messages per conversation; ``None`` for all.

    Raises:
        ConfigurationError: an argument is unusable.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        provider: ChatHistoryProvider,
        *,
        namespace: tuple[str, ...] = ("backscroll",),
        store: BaseStore | None = None,
        max_messages: int | None = None,
    ) -> None:
        candidate: object = provider  # typed callers pass a provider; others may not
        if not isinstance(candidate, ChatHistoryProvider):
            msg = f"BackscrollStore reads through a provider, got {type(candidate).__name__}"
            raise ConfigurationError(msg)
        chosen: object = namespace
        if (
            not isinstance(chosen, tuple)
            or not chosen
            or not all(isinstance(part, str) and part for part in chosen)
        ):
            msg = f"namespace must be a non-empty tuple of non-empty strings, got {namespace!r}"
            raise ConfigurationError(msg)
        given: object = store
        if given is not None and not isinstance(given, BaseStore):
            msg = f"store must be a LangGraph BaseStore, got {type(given).__name__}"
            raise ConfigurationError(msg)
        self.provider = provider
        self.namespace = namespace
        self.store = store
        self._max_messages = max_messages

    def __repr__(self) -> str:
        return (
            f"BackscrollStore({self.provider!r}, namespace={self.namespace!r}, "
            f"store={self.store!r})"
        )

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations: ours on the facade's loop, every other one on *store*."""
        listed = list(ops)
        ours, theirs = self._split(listed)
        results: list[Result] = [None] * len(listed)
        if ours:
            answers = _facade.call(functools.partial(self._answer, [listed[i] for i in ours]))
            _place(results, ours, answers)
        if theirs:
            others = [listed[i] for i in theirs]
            answers = self.store.batch(others) if self.store else [_nothing(op) for op in others]
            _place(results, theirs, answers)
        return self._with_namespace(listed, results)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations: ours on the facade's loop, every other one on *store*."""
        listed = list(ops)
        ours, theirs = self._split(listed)
        results: list[Result] = [None] * len(listed)
        if ours:
            mine = [listed[i] for i in ours]
            _place(results, ours, await _facade.call_async(functools.partial(self._answer, mine)))
        if theirs:
            others = [listed[i] for i in theirs]
            answers = (
                await self.store.abatch(others) if self.store else [_nothing(op) for op in others]
            )
            _place(results, theirs, answers)
        return self._with_namespace(listed, results)

    def _split(self, ops: list[Op]) -> tuple[list[int], list[int]]:
        """Which operations are ours (by index), which go to *store*; refuse writes to ours."""
        ours: list[int] = []
        theirs: list[int] = []
        for index, op in enumerate(ops):
            if isinstance(op, PutOp) and op.namespace == self.namespace:
                action = "delete" if op.value is None else "write"
                msg = (
                    f"BackscrollStore cannot {action} {op.key!r} under {self.namespace!r}: "
                    "vendor conversations are read-only here; write your own items under "
                    "another namespace, kept by the store= you give BackscrollStore"
                )
                raise ReadOnlyError(msg)
            mine = (isinstance(op, GetOp) and op.namespace == self.namespace) or (
                isinstance(op, SearchOp)
                and bool(op.namespace_prefix)
                and self.namespace[: len(op.namespace_prefix)] == op.namespace_prefix
            )
            (ours if mine else theirs).append(index)
        return ours, theirs

    def _with_namespace(self, ops: list[Op], results: list[Result]) -> list[Result]:
        """Add this store's namespace to the answers of namespace listings."""
        for index, op in enumerate(ops):
            if isinstance(op, ListNamespacesOp):
                answer = results[index]
                known: list[tuple[str, ...]] = (
                    [entry for entry in answer or [] if isinstance(entry, tuple)]
                    if isinstance(answer, list)
                    else []
                )
                depth = op.max_depth
                mine = self.namespace if depth is None else self.namespace[:depth]
                if mine not in known:
                    known.insert(0, mine)
                results[index] = known
        return results

    async def _answer(self, ops: list[Op]) -> list[Result]:
        """Answer our gets and searches, one after the other, on the facade's loop."""
        answers: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                answers.append(await self._get(op.key))
            elif isinstance(op, SearchOp):
                answers.append(await self._search(op))
        return answers

    async def _get(self, conversation_id: str) -> Item | None:
        try:
            history = await aload_messages(
                self.provider, conversation_id, max_messages=self._max_messages
            )
        except NotFoundError:
            return None
        stamps = [
            origin["created_at"]
            for m in history
            if isinstance(origin := m.additional_kwargs.get("backscroll"), dict)
            and origin.get("created_at")
        ]
        first = datetime.fromisoformat(stamps[0]) if stamps else _EPOCH
        last = datetime.fromisoformat(stamps[-1]) if stamps else _EPOCH
        value = {
            "provider": _provider_name(self.provider),
            "conversation_id": conversation_id,
            "messages": [message_to_dict(m) for m in history],
        }
        return Item(
            value=value,
            key=conversation_id,
            namespace=self.namespace,
            created_at=first,
            updated_at=last,
        )

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.query is not None or op.filter:
            msg = (
                "BackscrollStore lists conversations by id only: search without query= "
                "and filter=, or get a conversation by its key"
            )
            raise ConfigurationError(msg)
        provider = self.provider
        if not isinstance(provider, ListsConversations):
            msg = (
                f"{provider!r} cannot list its conversations, so BackscrollStore cannot "
                "search them: get each one by its conversation id as the key"
            )
            raise ConfigurationError(msg)
        found = [
            self._summary(conversation)
            async for conversation in provider.conversations(limit=op.offset + op.limit)
        ]
        return found[op.offset :]

    def _summary(self, conversation: Conversation) -> SearchItem:
        stamp = conversation.created_at or _EPOCH
        value = {
            "provider": conversation.provider,
            "conversation_id": conversation.id,
            "created_at": None if conversation.created_at is None else stamp.isoformat(),
            "metadata": dict(conversation.metadata),
        }
        return SearchItem(
            namespace=self.namespace,
            key=conversation.id,
            value=value,
            created_at=stamp,
            updated_at=stamp,
        )


#: The time of an item whose conversation has no times at all.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _provider_name(provider: ChatHistoryProvider) -> str | None:
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) else None


def _place(results: list[Result], indexes: list[int], answers: Iterable[Result]) -> None:
    for index, answer in zip(indexes, answers, strict=True):
        results[index] = answer


def _nothing(op: Op) -> Result:
    """What an operation outside this store's namespace finds when there is no *store*."""
    if isinstance(op, PutOp):
        action = "delete" if op.value is None else "write"
        msg = (
            f"BackscrollStore has no store= for namespace {op.namespace!r}, so it cannot "
            f"{action} {op.key!r} there: pass store=InMemoryStore() (or your own) to keep items"
        )
        raise ReadOnlyError(msg)
    if isinstance(op, GetOp):
        return None
    return []
