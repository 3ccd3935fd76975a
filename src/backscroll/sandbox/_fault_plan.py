"""
The fault plan: which request gets which misbehaviour, seeded and replayable.

A `Faults` plan is attached to a vendor (``"cursor"``) or to one route of it
(``"convai/details"``). Every request to that target draws its fate from the plan's seed,
the target and the request's number, so the same test run sees the same faults in the same
places; a ``quota`` refuses what goes over N requests a second instead. What a fate does
to a response is the ASGI layer's business (`backscroll.sandbox._fault_layer`).
"""

from __future__ import annotations

import collections
import math
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal

import anyio
import attrs
from starlette.responses import Response

from backscroll.errors import ConfigurationError

__all__ = [
    "FaultPlan",
    "Faults",
    "Kind",
    "Outcome",
    "PageRepeater",
    "RequestRecord",
    "Target",
    "check_every",
    "check_positive",
]

Kind = Literal["ok", "status", "quota", "drop", "truncate", "html", "wrong_content_type", "slow"]


def _number(value: object) -> float | None:
    """*value* as a number, or ``None`` if it is not one (``True`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _share(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    del instance
    number = _number(value)
    if number is None or not 0 <= number <= 1:
        msg = f"Faults({attribute.name}=...) must be a share between 0 and 1, got {value!r}"
        raise ConfigurationError(msg)


def _seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    del instance
    if value is None and attribute.name == "retry_after":
        return
    number = _number(value)
    if number is None or number < 0:
        msg = (
            f"Faults({attribute.name}=...) must be a non-negative number of seconds, got {value!r}"
        )
        raise ConfigurationError(msg)


def _quota(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    del instance, attribute
    number = _number(value)
    if value is not None and (number is None or not math.isfinite(number) or number <= 0):
        msg = f"Faults(quota=...) must be None or a positive number per second, got {value!r}"
        raise ConfigurationError(msg)


def _statuses(value: Mapping[int, float]) -> Mapping[int, float]:
    weights: list[tuple[object, object]] = list(dict(value).items())
    for status, weight in weights:
        code = status if isinstance(status, int) and not isinstance(status, bool) else 0
        if not 400 <= code <= 599:  # noqa: PLR2004
            msg = f"Faults(statuses=...) keys must be HTTP error statuses, got {status!r}"
            raise ConfigurationError(msg)
        number = _number(weight)
        if number is None or number < 0:
            msg = f"Faults(statuses=...) weights must be non-negative numbers, got {weight!r}"
            raise ConfigurationError(msg)
    if not any(_number(w) for _, w in weights):
        msg = "Faults(statuses=...) needs at least one status with a positive weight"
        raise ConfigurationError(msg)
    return dict(value)


@attrs.frozen(kw_only=True)
class Outcome:
    """
    What one request gets: its fault ``kind`` and, where it applies, the details.

    Attributes:
        kind: ``"ok"`` or the fault.
        status: The error status, for ``kind="status"``.
        before: For ``kind="drop"``: the connection fails before the request is processed
            (in-process only; under uvicorn every drop happens mid-body).
        retry_after: For ``kind="quota"``: the seconds until the quota has room again.
    """

    kind: Kind = "ok"
    status: int | None = None
    before: bool = False
    retry_after: float | None = None


@attrs.frozen(kw_only=True)
class Faults:
    """
    A seeded plan of misbehaviour for one vendor or one route.

    The shares are of requests and must add up to at most 1; each request gets at most one
    fault (plus ``latency``, which every request gets).

    Attributes:
        rate: Share of requests answered with an error status drawn from *statuses*.
        statuses: Error statuses and their relative weights.
        retry_after: Seconds announced in ``Retry-After`` on 429 and 503 (``None``: no
            header).
        retry_after_format: ``"seconds"`` (``Retry-After: 2``) or ``"http-date"``
            (``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT``).
        drop: Share of requests whose connection drops.
        truncate: Share of answers whose JSON body is cut in half.
        html: Share of requests answered with an HTML error page and status 200, as a
            misconfigured proxy does.
        wrong_content_type: Share of answers served as ``text/html``.
        slow: Share of answers whose body arrives in *slow_chunks* pieces, *slow_delay*
            seconds apart.
        slow_chunks: Pieces of a slow body.
        slow_delay: Seconds between the pieces of a slow body.
        latency: Seconds every request waits before it is answered.
        quota: At most this many requests per second (over any one-second window) are
            served; the others get 429 with ``Retry-After`` saying when the window has
            room again, as a vendor's quota does. Refused requests do not count.
            ``None``: no quota.
        seed: The plan's seed: the same seed replays the same faults.

    Example:
        ``Faults(rate=0.2, statuses={429: 1, 500: 1, 503: 1}, drop=0.05, seed=1)``

    .. versionadded:: 0.1.0
    """

    rate: float = attrs.field(default=0.0, validator=_share)
    statuses: Mapping[int, float] = attrs.field(
        factory=lambda: {429: 1.0, 500: 1.0, 502: 1.0, 503: 1.0}, converter=_statuses
    )
    retry_after: float | None = attrs.field(default=1.0, validator=_seconds)
    retry_after_format: Literal["seconds", "http-date"] = "seconds"
    drop: float = attrs.field(default=0.0, validator=_share)
    truncate: float = attrs.field(default=0.0, validator=_share)
    html: float = attrs.field(default=0.0, validator=_share)
    wrong_content_type: float = attrs.field(default=0.0, validator=_share)
    slow: float = attrs.field(default=0.0, validator=_share)
    slow_chunks: int = 4
    slow_delay: float = attrs.field(default=0.05, validator=_seconds)
    latency: float = attrs.field(default=0.0, validator=_seconds)
    quota: float | None = attrs.field(default=None, validator=_quota)
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        total = (
            self.rate + self.drop + self.truncate + self.html + self.wrong_content_type + self.slow
        )
        if total > 1 + 1e-9:
            msg = f"the fault shares of a Faults plan add up to {total:.3f}; at most 1 is possible"
            raise ConfigurationError(msg)
        if self.retry_after_format not in {"seconds", "http-date"}:
            msg = (
                "Faults(retry_after_format=...) must be 'seconds' or 'http-date', "
                f"got {self.retry_after_format!r}"
            )
            raise ConfigurationError(msg)
        chunks: object = self.slow_chunks
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
            msg = f"Faults(slow_chunks=...) must be a positive integer, got {self.slow_chunks!r}"
            raise ConfigurationError(msg)

    def outcome(self, target: str, index: int) -> Outcome:
        """
        The fate of request number *index* (0-based) to *target* under this plan.

        Deterministic: tests can ask in advance what a request will get.
        """
        rng = random.Random(f"{self.seed}/{target}/{index}")  # noqa: S311 - not crypto
        draw = rng.random()
        for kind, share in (
            ("status", self.rate),
            ("drop", self.drop),
            ("truncate", self.truncate),
            ("html", self.html),
            ("wrong_content_type", self.wrong_content_type),
            ("slow", self.slow),
        ):
            if draw < share:
                if kind == "status":
                    codes = list(self.statuses)
                    weights = [self.statuses[c] for c in codes]
                    return Outcome(kind="status", status=rng.choices(codes, weights)[0])
                if kind == "drop":
                    return Outcome(kind="drop", before=rng.random() < 0.5)  # noqa: PLR2004
                return Outcome(kind=kind)  # type: ignore[arg-type]
            draw -= share
        return Outcome()

    def retry_after_header(self) -> str | None:
        """The ``Retry-After`` value to send now, or ``None``."""
        if self.retry_after is None:
            return None
        if self.retry_after_format == "http-date":
            # An HTTP-date has whole seconds: round up so the wait is never shorter.
            when = datetime.now(UTC) + timedelta(seconds=math.ceil(self.retry_after))
            return format_datetime(when, usegmt=True)
        seconds = float(self.retry_after)
        return str(int(seconds)) if seconds.is_integer() else f"{seconds:g}"


@attrs.frozen
class Target:
    """A vendor route, and how that vendor words an error status."""

    vendor: str
    route: str
    error: Callable[[int], Response]


class FaultPlan:
    """The `Faults` attached to vendors and routes, and each target's request counter."""

    def __init__(
        self, faults: Mapping[str, Faults], targets: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._targets = targets
        #: How latency and slow bodies wait; tests replace it to observe without waiting.
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        #: The clock a quota counts with; tests replace it with a fake one.
        self.clock: Callable[[], float] = time.monotonic
        self.faults: dict[str, Faults] = {}
        self._counters: collections.Counter[str] = collections.Counter()
        self._served: dict[str, collections.deque[float]] = {}
        for key, plan in faults.items():
            self.set(key, plan)

    def set(self, key: str, faults: Faults | None) -> None:
        """
        Attach *faults* to ``"vendor"`` or ``"vendor/route"`` (``None`` detaches).

        Raises:
            ConfigurationError: no such vendor or route, or *faults* is not a `Faults`.
        """
        vendor, slash, route = key.partition("/")
        if vendor not in self._targets or (slash and route not in self._targets[vendor]):
            known = sorted(
                list(self._targets)
                + [f"{v}/{r}" for v, routes in self._targets.items() for r in routes]
            )
            msg = f"faults for {key!r}: no such target; use one of {', '.join(known)}"
            raise ConfigurationError(msg)
        if faults is None:
            self.faults.pop(key, None)
            self._served.pop(key, None)
            return
        checked: object = faults
        if not isinstance(checked, Faults):
            msg = f"faults for {key!r} must be a Faults(...), got {type(faults).__name__}"
            raise ConfigurationError(msg)
        self.faults[key] = faults

    def draw(self, vendor: str, route: str) -> tuple[Faults, Outcome] | None:
        """The plan for this request and its outcome; the route's plan beats the vendor's."""
        for key in (f"{vendor}/{route}", vendor):
            faults = self.faults.get(key)
            if faults is not None:
                index = self._counters[key]
                self._counters[key] += 1
                if faults.quota is not None:
                    wait = self._over_quota(key, faults.quota)
                    if wait is not None:
                        return faults, Outcome(kind="quota", status=429, retry_after=wait)
                return faults, faults.outcome(key, index)
        return None

    def _over_quota(self, key: str, quota: float) -> float | None:
        """``None`` if the quota has room (the request is counted), else the wait for room."""
        now = self.clock()
        served = self._served.setdefault(key, collections.deque())
        while served and served[0] <= now - 1:
            served.popleft()
        if len(served) < quota:
            served.append(now)
            return None
        # Room again when the oldest counted request leaves the window.
        return max(0.001, served[0] + 1 - now)


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One request the sandbox answered, for tests to inspect."""

    vendor: str | None
    route: str | None
    method: str
    path: str
    query: str
    status: int | None
    fault: Kind


def check_positive(value: object, what: str) -> None:
    """Raise `ConfigurationError` unless *value* is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{what} must be a positive integer, got {value!r}"
        raise ConfigurationError(msg)


def check_every(value: object, what: str) -> None:
    """Raise `ConfigurationError` unless *value* is ``None`` or an integer of at least 2."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:  # noqa: PLR2004
        msg = f"{what} must be None or an integer of at least 2, got {value!r}"
        raise ConfigurationError(msg)


class PageRepeater:
    """
    The ``repeat_page_every`` quirk: every n-th answer for a conversation repeats the last.

    A stale cache or a load balancer in front of two replicas does this; an offset or
    cursor pager that trusts every page yields the repeat twice.
    """

    def __init__(self) -> None:
        self._state: dict[Hashable, tuple[int, Any]] = {}

    def __call__(self, key: Hashable, every: int | None, page: Any, stale: Any = None) -> Any:
        """
        Return *page*, or on every *every*-th call for *key* a stale answer.

        The stale answer is *stale* when the caller knows what a stale cache would hold
        (Talkifai: the page before, at the same size), else the previous answer.
        """
        count, previous = self._state.get(key, (0, None))
        count += 1
        if every and count % every == 0 and (stale is not None or previous is not None):
            answer = stale if stale is not None else previous
            self._state[key] = (count, answer)
            return answer
        self._state[key] = (count, page)
        return page

    def forget(self) -> None:
        """Start counting afresh (after changing the quirk)."""
        self._state.clear()
