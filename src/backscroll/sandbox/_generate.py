"""
What the built-in fakes' seeded conversations are made of: random streams, times, lines.

Timestamps move in realistic one-second steps with *bursts*: several messages sharing one
second, which is what breaks naive timestamp cursors. Every generated message's text
carries its position (``#17``), so no two messages of a conversation are alike.

Each conversation draws from its own random stream, keyed by the seed, the vendor's name
and the conversation (`Generation.rng`), so one seed always gives byte-identical data
whichever fakes a sandbox holds, and growing a conversation is deterministic too.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Final

import attrs

from backscroll.errors import ConfigurationError

__all__ = [
    "ASSISTANT_LINES",
    "BASE36",
    "USER_LINES",
    "Generation",
    "check_count",
    "hex_string",
    "is_count",
    "next_role",
]

USER_LINES: Final = (
    "Hi there",
    "What services do you offer?",
    "What are your pricing plans?",
    "Can you summarize today's calls?",
    "How do I reset my password?",
    "Is there a discount for annual billing?",
    "Where can I find the fossil exhibit?",
    "ok",
    "Thanks, that helps.",
    "Could you say that again more briefly?",
)
ASSISTANT_LINES: Final = (
    "Hello! How can I help you today?",
    "We offer a wide range of services including...",
    "Our pricing plans are as follows...",
    "Sure, you had 12 inbound and 5 outbound calls today.",
    "You can reset it from the account page.",
    "Yes, annual billing saves two months.",
    "The fossil exhibit is on the second floor.",
    "Anything else I can help with?",
    "Of course. In short: yes.",
    "Happy to help!",
)
BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


@attrs.frozen
class Generation:
    """
    How a sandbox's data is drawn: its seed and how bursty its timelines are.

    Attributes:
        seed: Seeds every stream: the same seed gives byte-identical conversations.
        burst_rate: Share of moments that start a burst of messages sharing one second.
        max_burst: The most messages one burst holds (2 to this many).
    """

    seed: int = 0
    burst_rate: float = 0.3
    max_burst: int = 8

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.burst_rate <= 1.0:
            msg = f"burst_rate must be between 0 and 1, got {self.burst_rate!r}"
            raise ConfigurationError(msg)
        if not is_count(self.max_burst) or self.max_burst < 1:
            msg = f"max_burst must be a positive integer, got {self.max_burst!r}"
            raise ConfigurationError(msg)

    def rng(self, *parts: object) -> random.Random:
        """The random stream of (seed, *parts*): a vendor's name first, then what it draws."""
        # A string seed is hashed with SHA-512: stable across runs and Python versions.
        return random.Random("/".join(str(p) for p in (self.seed, *parts)))  # noqa: S311 - fake data

    def timeline(
        self, rng: random.Random, start: datetime, count: int, *, after: bool = False
    ) -> list[datetime]:
        """
        *count* one-second timestamps from *start*: single messages and bursts sharing a second.

        With *after*, the first one is strictly later than *start* (growing a conversation).

        Raises:
            ConfigurationError: *count* is not a non-negative integer.
        """
        count = check_count(count)
        moments: list[datetime] = []
        moment = start.replace(microsecond=0)
        if after:
            moment += timedelta(seconds=_gap(rng))
        while len(moments) < count:
            size = 1
            if self.max_burst > 1 and rng.random() < self.burst_rate:
                size = rng.randint(2, self.max_burst)
            moments.extend([moment] * min(size, count - len(moments)))
            moment += timedelta(seconds=_gap(rng))
        return moments


def is_count(value: object) -> bool:
    """Whether *value* is a non-negative integer (``bool`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_count(count: int) -> int:
    """
    *count*, checked.

    Raises:
        ConfigurationError: it is not a non-negative integer.
    """
    if not is_count(count):
        msg = f"count must be a non-negative integer, got {count!r}"
        raise ConfigurationError(msg)
    return count


def hex_string(rng: random.Random, length: int) -> str:
    """*length* random hex digits."""
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def next_role(rng: random.Random, previous: str, roles: tuple[str, str]) -> str:
    """Mostly alternate between the two roles, sometimes the same speaker twice."""
    first, second = roles
    other = second if previous == first else first
    return other if rng.random() < 0.85 else previous  # noqa: PLR2004


def _gap(rng: random.Random) -> int:
    """Seconds to the next message: mostly quick answers, sometimes a pause."""
    draw = rng.random()
    if draw < 0.55:  # noqa: PLR2004
        return rng.randint(1, 6)
    if draw < 0.95:  # noqa: PLR2004
        return rng.randint(7, 180)
    return rng.randint(600, 7200)
