"""
The fake Convai's ground truth: characters' sessions and their interactions, and growth.

Sessions are listed per character, newest first (as ``list`` answers); a session's
interactions are kept oldest first (as ``details`` answers). An interaction holds one or
more speaker entries: the provider reads each entry as one message at the interaction's
time. The documented sessions exist with their documented ids, so the vendor's samples
run verbatim.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from backscroll._models import Message, Role
from backscroll._validate import nonempty_str
from backscroll.errors import ConfigurationError
from backscroll.sandbox._generate import ASSISTANT_LINES, USER_LINES, check_count, hex_string
from backscroll.sandbox._store import (
    Record,
    check_not_older,
    created_at,
    record_time,
    speaker,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from backscroll.sandbox._generate import Generation

__all__ = ["CONVAI_CHARACTER_ID", "DEFAULT_SIZES", "DOCS_SESSIONS", "ConvaiStore"]

#: The character that holds every generated Convai session.
CONVAI_CHARACTER_ID: Final = "7f3e2a10-5c4b-4d8e-9a1f-0b5a6d4c3e21"
#: Interactions per generated session (one session each).
DEFAULT_SIZES: Final = (0, 1, 4, 25, 120)
DOCS_SESSIONS: Final = (
    "c1234567890aba1111222233334447862",
    "8c123456789011111222223333344455",
)

_NARRATOR_LINES: Final = (
    "The lights in the hall dim for a moment.",
    "A bell rings somewhere in the museum.",
)
_TRIGGER_LINES: Final = (
    "Welcome back! Shall we continue the tour?",
    "Watch your step, the floor was just polished.",
)
# How often the rarer shapes of record appear.
_TRIGGER_SHARE: Final = 0.1
_NARRATOR_SHARE: Final = 0.05
_STAMP: Final = "%Y-%m-%d %H:%M:%S.%f"
# When a loaded session without interactions began: any fixed time keeps it seeded.
_EMPTY_SESSION_START: Final = datetime(2024, 9, 26, 9, 0, tzinfo=UTC)
_WORDS: Final = {Role.USER: "User", Role.ASSISTANT: "Character"}


class ConvaiStore:
    """
    Convai's characters, sessions and interactions.

    Args:
        generation: The seed and burstiness to draw with.
        sizes: Interactions per generated session of `CONVAI_CHARACTER_ID`, beside the
            documented ones.

    Attributes:
        sessions: Character id to its session records, newest first.
        interactions: Session id to its interaction records, oldest first.
    """

    #: ``character_id``: the character a new session belongs to.
    options: Final = frozenset({"character_id"})

    def __init__(self, generation: Generation, sizes: Sequence[int] = DEFAULT_SIZES) -> None:
        self._generation = generation
        self.sessions: dict[str, list[Record]] = {CONVAI_CHARACTER_ID: []}
        self.interactions: dict[str, list[Record]] = {}
        # Generated sessions are older than the two documented ones, which stay the newest.
        start = datetime(2024, 9, 24, 9, 0, tzinfo=UTC)
        for index, size in reversed(list(enumerate(sizes))):
            rng = generation.rng("convai", "session", index, size)
            began = start - timedelta(days=index * 2, seconds=rng.randint(0, 36_000))
            session_id = hex_string(rng, 32)
            # Some sessions are in long-term memory: deterministic variety, not a coin toss.
            self._add_session(CONVAI_CHARACTER_ID, session_id, began, in_memory=index % 3 == 1)
            self.extend(session_id, size)
        # 19:54:56, as in the documented list; its details are the documented interaction.
        documented = datetime(2024, 9, 25, 19, 54, 56, tzinfo=UTC)
        self._add_session(CONVAI_CHARACTER_ID, DOCS_SESSIONS[1], documented)
        self.interactions[DOCS_SESSIONS[1]].append(
            {
                "timestamp": "2024-09-25 19:54:59.124733",
                "interaction": [
                    {"speaker": "User", "message": "Hi there"},
                    {
                        "speaker": "Character",
                        "message": (
                            "Hi there, Welcome to the History Museum. We have the most ancient "
                            "fossil ever discovered. Would be interesting in taking a tour?"
                        ),
                    },
                ],
                "is_trigger_input": False,
            }
        )
        latest = datetime(2024, 9, 25, 20, 52, 57, tzinfo=UTC)
        self._add_session(CONVAI_CHARACTER_ID, DOCS_SESSIONS[0], latest)
        self.extend(DOCS_SESSIONS[0], 3)

    def __repr__(self) -> str:
        sessions, characters = len(self.interactions), len(self.sessions)
        return f"<ConvaiStore: {sessions} sessions of {characters} characters>"

    # -- the store protocol -----------------------------------------------------------------

    def conversation_ids(self) -> list[str]:
        """The sessions of `CONVAI_CHARACTER_ID`, the character the provider reads."""
        return [session["sessionID"] for session in self.sessions[CONVAI_CHARACTER_ID]]

    def message_count(self) -> int:
        """The speaker entries of those sessions (each is one message)."""
        return sum(
            len(interaction["interaction"])
            for session_id in self.conversation_ids()
            for interaction in self.interactions[session_id]
        )

    def holds(self, conversation_id: str) -> bool:
        """Whether a session of any character has this id."""
        return conversation_id in self.interactions

    def truth(self, conversation_id: str) -> list[tuple[str, datetime]]:
        """Each speaker entry's text at its interaction's time, oldest first."""
        return [
            (entry["message"], _time(interaction["timestamp"]))
            for interaction in self.interactions[conversation_id]
            for entry in interaction["interaction"]
        ]

    def records_of(self, messages: Sequence[Message]) -> list[Record]:
        """
        One interaction per run of messages with one time and the same extras.

        As Convai groups a user's line and the character's answer.
        """
        records: list[Record] = []
        for (moment, extras), run in itertools.groupby(
            messages, key=lambda m: (created_at(m), dict(m.metadata))
        ):
            entries = [
                {"speaker": speaker(m, _WORDS, "entry", "speaker"), "message": m.content}
                for m in run
            ]
            record: Record = {"timestamp": moment.strftime(_STAMP), "interaction": entries}
            # Extras never replace the two fields the interaction is made of.
            record |= {"is_trigger_input": False, **extras} | record
            records.append(record)
        return records

    def check(
        self,
        conversation_id: str,
        records: list[Record],
        *,
        character_id: str | None = None,
        **options: Any,  # noqa: ARG002 - the protocol's: SandboxData gives only those in `options`
    ) -> None:
        """
        Refuse a session of another character, or interactions older than its last.

        Raises:
            ConfigurationError: which, and what to pass instead.
        """
        owner = _character(character_id)
        held_by = self.session_owner(conversation_id)
        if held_by is not None and held_by != owner:
            msg = (
                f"convai session {conversation_id!r} belongs to character {held_by!r}, "
                f"not {owner!r}: pass character_id={held_by!r} or another session id"
            )
            raise ConfigurationError(msg)
        existing = self.interactions.get(conversation_id, [])
        if existing and records:
            check_not_older("convai", conversation_id, existing[-1], records[0], "timestamp", _time)

    def write(
        self,
        conversation_id: str,
        records: list[Record],
        *,
        character_id: str | None = None,
        **options: Any,  # noqa: ARG002 - the protocol's: SandboxData gives only those in `options`
    ) -> None:
        """Append interactions; a new session starts at its first interaction's time."""
        if conversation_id not in self.interactions:
            began = record_time(records[0], "timestamp", _time) if records else None
            self._place_session(_character(character_id), conversation_id, began)
        self.interactions[conversation_id].extend(records)

    def snapshot(self) -> dict[str, Any]:
        """``convai_sessions`` and ``convai_interactions``, deep-copied."""
        return copy.deepcopy(
            {"convai_sessions": self.sessions, "convai_interactions": self.interactions}
        )

    def grow(self, conversation_id: str, count: int) -> list[Record]:
        """
        Append *count* interactions to an existing session (Convai makes sessions itself).

        Raises:
            ConfigurationError: no such session.
        """
        return self.extend(conversation_id, count)

    # -- Convai's own -----------------------------------------------------------------------

    def add_character(self, character_id: str) -> None:
        """Create a character without sessions (no-op if it exists)."""
        self.sessions.setdefault(character_id, [])

    def add_session(self, character_id: str = CONVAI_CHARACTER_ID, *, interactions: int = 0) -> str:
        """
        Start a new session, newer than every other session of the character.

        Returns:
            The new session's id.
        """
        sessions = self.sessions.setdefault(character_id, [])
        rng = self._generation.rng("convai", "new-session", character_id, len(self.interactions))
        session_id = hex_string(rng, 32)
        while session_id in self.interactions:
            session_id = hex_string(rng, 32)
        newest = max(
            (self._last_moment(s["sessionID"]) for s in sessions),
            default=datetime(2024, 9, 26, 9, 0, tzinfo=UTC),
        )
        began = newest.replace(microsecond=0) + timedelta(minutes=rng.randint(5, 600))
        self._add_session(character_id, session_id, began)
        self.extend(session_id, interactions)
        return session_id

    def extend(self, session_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* interactions to a session.

        Most are a ``User`` line and the ``Character``'s answer; some are trigger-only
        (``is_trigger_input``, no user line); a few carry an unknown ``Narrator`` speaker.

        Returns:
            The new interaction records.

        Raises:
            ConfigurationError: the session does not exist.
        """
        if session_id not in self.interactions:
            msg = f"no convai session {session_id!r} in the sandbox"
            raise ConfigurationError(msg)
        interactions = self.interactions[session_id]
        rng = self._generation.rng("convai", "interactions", session_id, len(interactions))
        moment = self._last_moment(session_id) + timedelta(seconds=rng.randint(2, 4))
        added: list[Record] = []
        for _ in range(check_count(count)):
            position = len(interactions) + 1
            moment = moment.replace(microsecond=rng.randint(0, 999_999))
            trigger = rng.random() < _TRIGGER_SHARE
            entries: list[dict[str, str]] = []
            if trigger:
                line = rng.choice(_TRIGGER_LINES)
            else:
                entries.append(
                    {"speaker": "User", "message": f"{rng.choice(USER_LINES)} (#{position})"}
                )
                line = rng.choice(ASSISTANT_LINES)
            entries.append({"speaker": "Character", "message": f"{line} (#{position})"})
            if rng.random() < _NARRATOR_SHARE:
                entries.append(
                    {
                        "speaker": "Narrator",
                        "message": f"{rng.choice(_NARRATOR_LINES)} (#{position})",
                    }
                )
            record = {
                "timestamp": moment.strftime(_STAMP),
                "interaction": entries,
                "is_trigger_input": trigger,
            }
            interactions.append(record)
            added.append(record)
            moment += timedelta(seconds=rng.randint(3, 90))
        return added

    def delete_sessions(self, character_id: str, session_ids: Sequence[str]) -> None:
        """Delete sessions of a character; ids it does not have are ignored."""
        doomed = set(session_ids)
        sessions = self.sessions.get(character_id, [])
        sessions[:] = [s for s in sessions if s["sessionID"] not in doomed]
        for session_id in doomed:
            self.interactions.pop(session_id, None)

    def session_owner(self, session_id: str) -> str | None:
        """The character a session belongs to, or ``None``."""
        for character_id, sessions in self.sessions.items():
            if any(s["sessionID"] == session_id for s in sessions):
                return character_id
        return None

    def _add_session(
        self, character_id: str, session_id: str, began: datetime, *, in_memory: bool = False
    ) -> None:
        session = {
            "sessionID": session_id,
            "date": began.strftime("%d-%m-%Y"),
            "time": began.strftime("%H:%M:%S"),
            "is_added_to_memory": in_memory,
        }
        # Newest first, as Convai lists them.
        self.sessions[character_id].insert(0, session)
        self.interactions[session_id] = []

    def _place_session(self, character_id: str, session_id: str, began: datetime | None) -> None:
        # Sessions are listed newest first: a loaded session goes where its time puts it.
        began = began or _EMPTY_SESSION_START
        sessions = self.sessions.setdefault(character_id, [])
        self._add_session(character_id, session_id, began)
        session = sessions.pop(0)
        position = next(
            (i for i, s in enumerate(sessions) if _session_time(s) <= began), len(sessions)
        )
        sessions.insert(position, session)

    def _last_moment(self, session_id: str) -> datetime:
        interactions = self.interactions[session_id]
        if interactions:
            return _time(interactions[-1]["timestamp"])
        session = next(
            s
            for sessions in self.sessions.values()
            for s in sessions
            if s["sessionID"] == session_id
        )
        day = datetime.strptime(f"{session['date']} {session['time']}", "%d-%m-%Y %H:%M:%S")  # noqa: DTZ007 - naive by design
        return day.replace(tzinfo=UTC)


def _character(character_id: str | None) -> str:
    if character_id is None:
        return CONVAI_CHARACTER_ID
    return nonempty_str(character_id, "character_id")


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)


def _session_time(session: Record) -> datetime:
    try:
        day = datetime.strptime(f"{session['date']} {session['time']}", "%d-%m-%Y %H:%M:%S")  # noqa: DTZ007 - naive by design
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return day.replace(tzinfo=UTC)
