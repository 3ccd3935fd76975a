"""
The sandbox's ground truth: seeded, deterministic conversations for the three vendors.

Every record is stored exactly as the fake vendor serves it (plain JSON-ready dicts), so a
test compares what a client read with what the server holds without any translation.
Timestamps move in realistic one-second steps with *bursts*: several messages sharing one
second, which is what breaks naive timestamp cursors. Every message's text carries its
position (``#17``), so no two messages of a conversation are alike.

Each conversation draws from its own random stream (seed, vendor, conversation), so one
seed always gives byte-identical data, and growing a conversation with the ``extend_*``
helpers is deterministic too.

Users' own history comes in two ways, both checked so that a fake never serves a history
its vendor could not have: `SandboxData.add_messages` writes `Message` objects as each
vendor would have served them (the inverse of that vendor's provider), and
`SandboxData.add_records` takes records already in the vendor's shape, as they are.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from backscroll._models import Message, Role
from backscroll._validate import nonempty_str
from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "CONVAI_CHARACTER_ID",
    "DEFAULT_CONVAI_SIZES",
    "DEFAULT_CURSOR_SIZES",
    "DEFAULT_TALKIFAI_SIZES",
    "VENDORS",
    "Record",
    "SandboxData",
]

Record = dict[str, Any]

#: The character that holds every generated Convai session.
CONVAI_CHARACTER_ID: Final = "7f3e2a10-5c4b-4d8e-9a1f-0b5a6d4c3e21"

#: Interactions per generated Convai session (one session each).
DEFAULT_CONVAI_SIZES: Final = (0, 1, 4, 25, 120)
#: Messages per generated Talkifai conversation: empty, tiny, around the 50/100 limits.
DEFAULT_TALKIFAI_SIZES: Final = (0, 1, 7, 50, 99, 100, 101, 200, 333)
#: Messages per generated cursor-API conversation: around the 20/100 limits.
DEFAULT_CURSOR_SIZES: Final = (0, 1, 7, 20, 100, 101, 200, 333)

# The ids the vendor documents use in their examples exist, so the samples run verbatim.
DOCS_CONVAI_SESSIONS: Final = (
    "c1234567890aba1111222233334447862",
    "8c123456789011111222223333344455",
)
DOCS_TALKIFAI_CONVERSATION: Final = "chat_abc123_user_1705312800000"
DOCS_TALKIFAI_CURL_CONVERSATION: Final = "chat_abc123"
DOCS_CURSOR_CONVERSATION: Final = "con_9s2kd81"

_USER_LINES: Final = (
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
_ASSISTANT_LINES: Final = (
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
_ATTACHMENT_SHARE: Final = 0.1
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_CONVAI_STAMP: Final = "%Y-%m-%d %H:%M:%S.%f"
# When a loaded Convai session without interactions began: any fixed time keeps it seeded.
_EMPTY_SESSION_START: Final = datetime(2024, 9, 26, 9, 0, tzinfo=UTC)

#: The vendors whose fakes hold data, as `SandboxData.add_messages` and `add_records` name them.
VENDORS: Final = ("convai", "talkifai", "cursor")


class SandboxData:
    """
    Every conversation the sandbox serves, as the vendors would serve it.

    Treat the mappings as read-only and grow them with the ``extend_*`` helpers. Records
    are the served JSON objects themselves (cursor-API records with their ``metadata``,
    which the server leaves out unless ``include_meta=true``).

    Attributes:
        convai_sessions: Character id to its session records, newest first (as ``list``
            answers).
        convai_interactions: Session id to its interaction records, oldest first (as
            ``details`` answers).
        talkifai: Conversation id to its message records, oldest first.
        cursor: Conversation id to its message records, oldest first.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        convai_sizes: Sequence[int] = DEFAULT_CONVAI_SIZES,
        talkifai_sizes: Sequence[int] = DEFAULT_TALKIFAI_SIZES,
        cursor_sizes: Sequence[int] = DEFAULT_CURSOR_SIZES,
        burst_rate: float = 0.3,
        max_burst: int = 8,
    ) -> None:
        for name, sizes in (
            ("convai_sizes", convai_sizes),
            ("talkifai_sizes", talkifai_sizes),
            ("cursor_sizes", cursor_sizes),
        ):
            if isinstance(sizes, str | bytes) or not all(_is_count(s) for s in sizes):
                msg = f"{name} must be a sequence of non-negative integers, got {sizes!r}"
                raise ConfigurationError(msg)
        if not 0.0 <= burst_rate <= 1.0:
            msg = f"burst_rate must be between 0 and 1, got {burst_rate!r}"
            raise ConfigurationError(msg)
        if not _is_count(max_burst) or max_burst < 1:
            msg = f"max_burst must be a positive integer, got {max_burst!r}"
            raise ConfigurationError(msg)
        self.seed = seed
        self.burst_rate = burst_rate
        self.max_burst = max_burst
        self.convai_sessions: dict[str, list[Record]] = {CONVAI_CHARACTER_ID: []}
        self.convai_interactions: dict[str, list[Record]] = {}
        self.talkifai: dict[str, list[Record]] = {}
        self.cursor: dict[str, list[Record]] = {}
        self._build_convai(convai_sizes)
        self._build_talkifai(talkifai_sizes)
        self._build_cursor(cursor_sizes)

    def __repr__(self) -> str:
        return (
            f"<SandboxData seed={self.seed}: {len(self.convai_interactions)} convai sessions, "
            f"{len(self.talkifai)} talkifai and {len(self.cursor)} cursor conversations>"
        )

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything, JSON-ready: compare two sandboxes or save a fixture."""
        return copy.deepcopy(
            {
                "convai_sessions": self.convai_sessions,
                "convai_interactions": self.convai_interactions,
                "talkifai": self.talkifai,
                "cursor": self.cursor,
            }
        )

    # -- users' own history -----------------------------------------------------------------

    def add_messages(
        self,
        messages: Iterable[Message],
        *,
        vendor: str | None = None,
        character_id: str | None = None,
    ) -> list[str]:
        """
        Serve these messages from the fake vendors, as each vendor would have served them.

        Each message goes to the fake of its ``provider`` (or of *vendor*, for all of them),
        into the conversation ``conversation_id``, created if new, after the messages it
        already holds; a conversation's messages are written oldest first whatever order
        they come in. Reading them back through that vendor's provider gives their role,
        content, ``created_at``, ``sender_id``, ``token_count`` and ``metadata``; the ids
        are the vendor's: the message's own on the cursor API, derived ones on Convai and
        Talkifai, which have none. A role the vendor has no word for is written with the
        speaker from ``raw`` when the message came from that vendor, else as the role's
        name, and reads back as `Role.UNKNOWN`.

        Args:
            messages: The messages, from any provider, `JsonlProvider` or your own code.
            vendor: Load every message into this vendor's fake (``"convai"``,
                ``"talkifai"`` or ``"cursor"``) instead of its ``provider``'s.
            character_id: The Convai character new sessions belong to (default: the
                sandbox's `CONVAI_CHARACTER_ID`, created if needed).

        Returns:
            The ids of the conversations written to, in the order they first appeared.

        Raises:
            ConfigurationError: a message has no ``created_at`` (every vendor serves a time),
                a vendor is not one of the sandbox's, the messages are older than the
                conversation's last one (the fake would serve them out of order), or a
                cursor-API id is taken.

        .. versionadded:: 0.2.0
        """
        batches: dict[tuple[str, str], list[Message]] = {}
        for item in messages:
            message = _message(item)
            target = _vendor(vendor or message.provider, "a message's provider")
            if message.created_at is None:
                msg = (
                    f"message {message.id!r} of {message.conversation_id!r} has no created_at: "
                    f"the {target} fake serves a time with every message; give it one"
                )
                raise ConfigurationError(msg)
            batches.setdefault((target, message.conversation_id), []).append(message)
        if character_id is not None:
            self._owner(vendor or "convai", character_id)  # checks it
        written: list[tuple[str, str, list[Record]]] = []
        for (target, conversation_id), batch in batches.items():
            batch.sort(key=_created_at)
            records = _RECORD_WRITERS[target](batch)
            self._check(target, conversation_id, records, character_id)
            written.append((target, conversation_id, records))
        # All checked before any is written: a refused call leaves the data as it was.
        for target, conversation_id, records in written:
            self._write(target, conversation_id, records, character_id)
        return list(dict.fromkeys(conversation_id for _, conversation_id in batches))

    def add_records(
        self,
        vendor: str,
        conversation_id: str,
        records: Iterable[Mapping[str, Any]],
        *,
        character_id: str | None = None,
    ) -> None:
        """
        Serve records already in a vendor's own shape, in one conversation, as they are.

        The records are what the vendor's document shows, oldest first: Convai
        interactions (``timestamp``, ``interaction``, ...), Talkifai messages (``role``,
        ``content``, ``timestamp``, ...), cursor-API messages (``id``, ``sender_type``,
        ``text``, ``metadata``, ``created_at``, ...). They are served as given (deep copies),
        odd fields and all, so that your code can meet exactly what you saw a vendor send;
        only what the fake itself needs is checked. The conversation is created if new
        (with no records, an empty one); a new Convai session starts at its first
        interaction's time.

        Args:
            vendor: ``"convai"``, ``"talkifai"`` or ``"cursor"``.
            conversation_id: The conversation (Convai: session) to add to.
            records: The vendor-shaped records, oldest first.
            character_id: Convai only: the character a new session belongs to (default:
                `CONVAI_CHARACTER_ID`).

        Raises:
            ConfigurationError: an unknown vendor, a record that is not an object, a
                ``character_id`` for another vendor, a Convai session of another
                character, or cursor-API records whose ``created_at`` does not parse or
                goes backwards (that fake pages by it).

        .. versionadded:: 0.2.0
        """
        target = _vendor(vendor, "vendor")
        owner = self._owner(target, character_id)
        nonempty_str(conversation_id, "conversation_id")
        copied = [_record(record, index) for index, record in enumerate(records)]
        self._append(target, conversation_id, copied, owner)

    def _owner(self, vendor: str | None, character_id: str | None) -> str | None:
        if character_id is None:
            return CONVAI_CHARACTER_ID if vendor == "convai" else None
        if vendor != "convai":
            msg = f"character_id is for Convai sessions, not for {vendor}"
            raise ConfigurationError(msg)
        return nonempty_str(character_id, "character_id")

    def _append(
        self, vendor: str, conversation_id: str, records: list[Record], owner: str | None
    ) -> None:
        self._check(vendor, conversation_id, records, owner)
        self._write(vendor, conversation_id, records, owner)

    def _check(
        self, vendor: str, conversation_id: str, records: list[Record], owner: str | None
    ) -> None:
        """Raise if *records* cannot join the conversation; change nothing."""
        if vendor == "cursor":
            _check_cursor(conversation_id, self.cursor.get(conversation_id, []), records)
            return
        if vendor == "talkifai":
            existing, parse = self.talkifai.get(conversation_id, []), _iso_time
        else:
            character_id = owner or CONVAI_CHARACTER_ID
            held_by = self.convai_session_owner(conversation_id)
            if held_by is not None and held_by != character_id:
                msg = (
                    f"convai session {conversation_id!r} belongs to character {held_by!r}, "
                    f"not {character_id!r}: pass character_id={held_by!r} or another session id"
                )
                raise ConfigurationError(msg)
            existing, parse = self.convai_interactions.get(conversation_id, []), _convai_time
        if existing and records:
            _check_not_older(vendor, conversation_id, existing[-1], records[0], parse)

    def _write(
        self, vendor: str, conversation_id: str, records: list[Record], owner: str | None
    ) -> None:
        if vendor == "convai":
            if conversation_id not in self.convai_interactions:
                began = _record_time(records[0], "timestamp", _convai_time) if records else None
                self._place_session(owner or CONVAI_CHARACTER_ID, conversation_id, began)
            held = self.convai_interactions
        else:
            held = self.talkifai if vendor == "talkifai" else self.cursor
        held.setdefault(conversation_id, []).extend(records)

    def _place_session(self, character_id: str, session_id: str, began: datetime | None) -> None:
        # Sessions are listed newest first: a loaded session goes where its time puts it.
        began = began or _EMPTY_SESSION_START
        sessions = self.convai_sessions.setdefault(character_id, [])
        self._add_session(character_id, session_id, began)
        session = sessions.pop(0)
        position = next(
            (i for i, s in enumerate(sessions) if _session_time(s) <= began), len(sessions)
        )
        sessions.insert(position, session)

    def _rng(self, *parts: object) -> random.Random:
        # A string seed is hashed with SHA-512: stable across runs and Python versions.
        return random.Random("/".join(str(p) for p in (self.seed, *parts)))  # noqa: S311 - fake data

    # -- Convai ----------------------------------------------------------------------------

    def _build_convai(self, sizes: Sequence[int]) -> None:
        # Generated sessions are older than the two documented ones, which stay the newest.
        start = datetime(2024, 9, 24, 9, 0, tzinfo=UTC)
        for index, size in reversed(list(enumerate(sizes))):
            rng = self._rng("convai", "session", index, size)
            began = start - timedelta(days=index * 2, seconds=rng.randint(0, 36_000))
            session_id = _hex(rng, 32)
            # Some sessions are in long-term memory: deterministic variety, not a coin toss.
            self._add_session(CONVAI_CHARACTER_ID, session_id, began, in_memory=index % 3 == 1)
            self.extend_convai(session_id, size)
        # 19:54:56, as in the documented list; its details are the documented interaction.
        documented = datetime(2024, 9, 25, 19, 54, 56, tzinfo=UTC)
        self._add_session(CONVAI_CHARACTER_ID, DOCS_CONVAI_SESSIONS[1], documented)
        self.convai_interactions[DOCS_CONVAI_SESSIONS[1]].append(
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
        self._add_session(CONVAI_CHARACTER_ID, DOCS_CONVAI_SESSIONS[0], latest)
        self.extend_convai(DOCS_CONVAI_SESSIONS[0], 3)

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
        self.convai_sessions[character_id].insert(0, session)
        self.convai_interactions[session_id] = []

    def add_convai_character(self, character_id: str) -> None:
        """Create a character without sessions (no-op if it exists)."""
        self.convai_sessions.setdefault(character_id, [])

    def add_convai_session(
        self, character_id: str = CONVAI_CHARACTER_ID, *, interactions: int = 0
    ) -> str:
        """
        Start a new session, newer than every other session of the character.

        Returns:
            The new session's id.
        """
        sessions = self.convai_sessions.setdefault(character_id, [])
        rng = self._rng("convai", "new-session", character_id, len(self.convai_interactions))
        session_id = _hex(rng, 32)
        while session_id in self.convai_interactions:
            session_id = _hex(rng, 32)
        newest = max(
            (self._convai_last_moment(s["sessionID"]) for s in sessions),
            default=datetime(2024, 9, 26, 9, 0, tzinfo=UTC),
        )
        began = newest.replace(microsecond=0) + timedelta(minutes=rng.randint(5, 600))
        self._add_session(character_id, session_id, began)
        self.extend_convai(session_id, interactions)
        return session_id

    def _convai_last_moment(self, session_id: str) -> datetime:
        interactions = self.convai_interactions[session_id]
        if interactions:
            return _convai_time(interactions[-1]["timestamp"])
        session = next(
            s
            for sessions in self.convai_sessions.values()
            for s in sessions
            if s["sessionID"] == session_id
        )
        day = datetime.strptime(f"{session['date']} {session['time']}", "%d-%m-%Y %H:%M:%S")  # noqa: DTZ007 - naive by design
        return day.replace(tzinfo=UTC)

    def extend_convai(self, session_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* interactions to a Convai session.

        Most are a ``User`` line and the ``Character``'s answer; some are trigger-only
        (``is_trigger_input``, no user line); a few carry an unknown ``Narrator`` speaker.

        Returns:
            The new interaction records.

        Raises:
            ConfigurationError: the session does not exist.
        """
        if session_id not in self.convai_interactions:
            msg = f"no convai session {session_id!r} in the sandbox"
            raise ConfigurationError(msg)
        interactions = self.convai_interactions[session_id]
        rng = self._rng("convai", "interactions", session_id, len(interactions))
        moment = self._convai_last_moment(session_id) + timedelta(seconds=rng.randint(2, 4))
        added: list[Record] = []
        for _ in range(_count(count)):
            position = len(interactions) + 1
            moment = moment.replace(microsecond=rng.randint(0, 999_999))
            trigger = rng.random() < _TRIGGER_SHARE
            entries: list[dict[str, str]] = []
            if trigger:
                line = rng.choice(_TRIGGER_LINES)
            else:
                entries.append(
                    {"speaker": "User", "message": f"{rng.choice(_USER_LINES)} (#{position})"}
                )
                line = rng.choice(_ASSISTANT_LINES)
            entries.append({"speaker": "Character", "message": f"{line} (#{position})"})
            if rng.random() < _NARRATOR_SHARE:
                entries.append(
                    {
                        "speaker": "Narrator",
                        "message": f"{rng.choice(_NARRATOR_LINES)} (#{position})",
                    }
                )
            record = {
                "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "interaction": entries,
                "is_trigger_input": trigger,
            }
            interactions.append(record)
            added.append(record)
            moment += timedelta(seconds=rng.randint(3, 90))
        return added

    def delete_convai_sessions(self, character_id: str, session_ids: Sequence[str]) -> None:
        """Delete sessions of a character; ids it does not have are ignored."""
        doomed = set(session_ids)
        sessions = self.convai_sessions.get(character_id, [])
        sessions[:] = [s for s in sessions if s["sessionID"] not in doomed]
        for session_id in doomed:
            self.convai_interactions.pop(session_id, None)

    def convai_session_owner(self, session_id: str) -> str | None:
        """The character a session belongs to, or ``None``."""
        for character_id, sessions in self.convai_sessions.items():
            if any(s["sessionID"] == session_id for s in sessions):
                return character_id
        return None

    # -- Talkifai --------------------------------------------------------------------------

    def _build_talkifai(self, sizes: Sequence[int]) -> None:
        # The documented example, verbatim: its five messages answer the documented request.
        self.talkifai[DOCS_TALKIFAI_CONVERSATION] = [
            _talkifai("assistant", "Hello! How can I help you today?", "10:00:00", None),
            _talkifai("user", "What services do you offer?", "10:00:05", None),
            _talkifai(
                "assistant", "We offer a wide range of services including...", "10:00:06", 45
            ),
            _talkifai("user", "What are your pricing plans?", "10:00:15", None),
            _talkifai("assistant", "Our pricing plans are as follows...", "10:00:16", 120),
        ]
        self.talkifai[DOCS_TALKIFAI_CURL_CONVERSATION] = []
        self._extend_talkifai_at(
            DOCS_TALKIFAI_CURL_CONVERSATION, 42, datetime(2024, 1, 15, 11, 0, tzinfo=UTC)
        )
        for index, size in enumerate(sizes):
            rng = self._rng("talkifai", "conversation", index, size)
            start = datetime(2024, 1, 16, 9, 0, tzinfo=UTC) + timedelta(
                days=index, seconds=rng.randint(0, 30_000)
            )
            conversation_id = f"chat_{_hex(rng, 6)}_user_{int(start.timestamp() * 1000)}"
            self.talkifai[conversation_id] = []
            self._extend_talkifai_at(conversation_id, size, start)

    def extend_talkifai(self, conversation_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* messages to a Talkifai conversation, creating it if needed.

        Returns:
            The new message records.
        """
        messages = self.talkifai.setdefault(conversation_id, [])
        if messages:
            start = datetime.fromisoformat(messages[-1]["timestamp"])
        else:
            start = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
        return self._extend_talkifai_at(conversation_id, count, start, after=bool(messages))

    def _extend_talkifai_at(
        self, conversation_id: str, count: int, start: datetime, *, after: bool = False
    ) -> list[Record]:
        messages = self.talkifai[conversation_id]
        rng = self._rng("talkifai", "messages", conversation_id, len(messages))
        role = messages[-1]["role"] if messages else None
        added: list[Record] = []
        for moment in _timeline(
            rng,
            start,
            _count(count),
            burst_rate=self.burst_rate,
            max_burst=self.max_burst,
            after=after,
        ):
            position = len(messages) + 1
            if role is None:
                role, line, tokens = "assistant", "Hello! How can I help you today?", None
            else:
                role = _next_role(rng, role, ("user", "assistant"))
                lines = _USER_LINES if role == "user" else _ASSISTANT_LINES
                line = rng.choice(lines)
                tokens = rng.randint(5, 400) if role == "assistant" else None
            record = _talkifai(role, f"{line} (#{position})", moment, tokens)
            messages.append(record)
            added.append(record)
        return added

    # -- cursor API ------------------------------------------------------------------------

    def _build_cursor(self, sizes: Sequence[int]) -> None:
        conversation = DOCS_CURSOR_CONVERSATION
        self.cursor[conversation] = []
        generated = self._extend_cursor_at(
            conversation, 45, datetime(2026, 3, 15, 13, 30, tzinfo=UTC)
        )
        # The two documented messages close it (13:59:11 and 14:00:01), as in the example:
        # a timeline that ran past them is moved back whole, bursts and gaps kept.
        latest = datetime.fromisoformat(generated[-1]["created_at"])
        overrun = latest - datetime(2026, 3, 15, 13, 59, 10, tzinfo=UTC)
        if overrun > timedelta(0):
            for record in generated:
                moved = datetime.fromisoformat(record["created_at"]) - overrun
                record["created_at"] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.cursor[conversation] += [
            {
                "id": "msg_92kd82",
                "sender_type": "user",
                "sender_id": "usr_82hd92",
                "text": "Hey, can you summarize today's calls?",
                "metadata": {"channel": "web", "attachments": []},
                "created_at": "2026-03-15T13:59:11Z",
            },
            {
                "id": "msg_18dk03",
                "sender_type": "ai",
                "sender_id": "ai_default_bot",
                "text": "Sure, you had 12 inbound and 5 outbound calls today.",
                "metadata": {"model": "gpt-4o-mini", "latency_ms": 743},
                "created_at": "2026-03-15T14:00:01Z",
            },
        ]
        for index, size in enumerate(sizes):
            rng = self._rng("cursor", "conversation", index, size)
            conversation_id = "con_" + "".join(rng.choice(_BASE36) for _ in range(7))
            start = datetime(2026, 3, 16, 8, 0, tzinfo=UTC) + timedelta(
                days=index, seconds=rng.randint(0, 30_000)
            )
            self.cursor[conversation_id] = []
            self._extend_cursor_at(conversation_id, size, start)

    def extend_cursor(self, conversation_id: str, count: int = 1) -> list[Record]:
        """
        Append *count* messages to a cursor-API conversation, creating it if needed.

        Returns:
            The new message records (with their ``metadata``).
        """
        messages = self.cursor.setdefault(conversation_id, [])
        if messages:
            start = datetime.fromisoformat(messages[-1]["created_at"])
        else:
            start = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
        return self._extend_cursor_at(conversation_id, count, start, after=bool(messages))

    def _extend_cursor_at(
        self, conversation_id: str, count: int, start: datetime, *, after: bool = False
    ) -> list[Record]:
        messages = self.cursor[conversation_id]
        rng = self._rng("cursor", "messages", conversation_id, len(messages))
        taken = {m["id"] for m in messages}
        user_id = "usr_" + _hex(self._rng("cursor", "user", conversation_id), 6)
        sender = messages[-1]["sender_type"] if messages else None
        added: list[Record] = []
        for moment in _timeline(
            rng,
            start,
            _count(count),
            burst_rate=self.burst_rate,
            max_burst=self.max_burst,
            after=after,
        ):
            position = len(messages) + 1
            # Some conversations open with a system notice; a rare one comes later.
            chance = 0.3 if sender is None else 0.02
            if rng.random() < chance:
                sender = "system"
            else:
                sender = _next_role(rng, sender or "ai", ("user", "ai"))
            message_id = _cursor_id(rng, taken)
            record: Record = {"id": message_id, "sender_type": sender}
            if sender == "user":
                attachments = (
                    [{"type": "image", "name": f"photo_{position}.png"}]
                    if rng.random() < _ATTACHMENT_SHARE
                    else []
                )
                text = rng.choice(_USER_LINES)
                record |= {
                    "sender_id": user_id,
                    "metadata": {
                        "channel": rng.choice(("web", "ios", "android", "api")),
                        "attachments": attachments,
                    },
                }
            elif sender == "ai":
                text = rng.choice(_ASSISTANT_LINES)
                record |= {
                    "sender_id": "ai_default_bot",
                    "metadata": {
                        "model": rng.choice(("gpt-4o-mini", "gpt-4o")),
                        "latency_ms": rng.randint(120, 2400),
                    },
                }
            else:
                text = "Conversation started." if position == 1 else "Agent joined the chat."
                record |= {"sender_id": "system", "metadata": {"event": "notice"}}
            record["text"] = f"{text} (#{position})"
            record["created_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            # Key order as documented: id, sender_type, sender_id, text, metadata, created_at.
            ordered = {
                k: record[k]
                for k in ("id", "sender_type", "sender_id", "text", "metadata", "created_at")
            }
            messages.append(ordered)
            added.append(ordered)
        return added


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count(count: int) -> int:
    if not _is_count(count):
        msg = f"count must be a non-negative integer, got {count!r}"
        raise ConfigurationError(msg)
    return count


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _cursor_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        candidate = "msg_" + "".join(rng.choice(_BASE36) for _ in range(6))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _timeline(
    rng: random.Random,
    start: datetime,
    count: int,
    *,
    burst_rate: float,
    max_burst: int,
    after: bool,
) -> list[datetime]:
    """
    *count* one-second timestamps from *start*: single messages and bursts sharing a second.

    With *after*, the first one is strictly later than *start* (growing a conversation).
    """
    moments: list[datetime] = []
    moment = start.replace(microsecond=0)
    if after:
        moment += timedelta(seconds=_gap(rng))
    while len(moments) < count:
        size = 1
        if max_burst > 1 and rng.random() < burst_rate:
            size = rng.randint(2, max_burst)
        moments.extend([moment] * min(size, count - len(moments)))
        moment += timedelta(seconds=_gap(rng))
    return moments


def _gap(rng: random.Random) -> int:
    """Seconds to the next message: mostly quick answers, sometimes a pause."""
    draw = rng.random()
    if draw < 0.55:  # noqa: PLR2004
        return rng.randint(1, 6)
    if draw < 0.95:  # noqa: PLR2004
        return rng.randint(7, 180)
    return rng.randint(600, 7200)


def _next_role(rng: random.Random, previous: str, roles: tuple[str, str]) -> str:
    """Mostly alternate between the two roles, sometimes the same speaker twice."""
    first, second = roles
    other = second if previous == first else first
    return other if rng.random() < 0.85 else previous  # noqa: PLR2004


def _talkifai(role: str, content: str, moment: datetime | str, tokens: int | None) -> Record:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(f"2024-01-15T{moment}+00:00")
    return {
        "role": role,
        "content": content,
        "timestamp": moment.isoformat(),
        "token_count": tokens,
    }


def _convai_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


# -- Messages written as each vendor serves them --------------------------------------------
# The inverse of each provider's reading: what that provider reads back as the same message.


def _created_at(message: Message) -> datetime:
    assert message.created_at is not None  # noqa: S101 - add_messages checked it
    return message.created_at


def _speaker(message: Message, words: Mapping[Role, str], *raw_path: str) -> str:
    """The vendor's word for the role, else the speaker *raw_path* finds in ``raw``."""
    word = words.get(message.role)
    if word is not None:
        return word
    found: object = message.raw
    for key in raw_path:
        found = found.get(key) if isinstance(found, Mapping) else None
    return found if isinstance(found, str) and found else message.role.value


def _convai_records(messages: list[Message]) -> list[Record]:
    # One interaction per run of messages with one time and the same extras, as Convai
    # groups a user's line and the character's answer.
    words = {Role.USER: "User", Role.ASSISTANT: "Character"}
    records: list[Record] = []
    for (moment, extras), run in itertools.groupby(
        messages, key=lambda m: (_created_at(m), dict(m.metadata))
    ):
        entries = [
            {"speaker": _speaker(m, words, "entry", "speaker"), "message": m.content} for m in run
        ]
        record: Record = {"timestamp": moment.strftime(_CONVAI_STAMP), "interaction": entries}
        # Extras never replace the two fields the interaction is made of.
        record |= {"is_trigger_input": False, **extras} | record
        records.append(record)
    return records


def _talkifai_records(messages: list[Message]) -> list[Record]:
    words = {Role.USER: "user", Role.ASSISTANT: "assistant", Role.SYSTEM: "system"}
    return [
        {
            **dict(m.metadata),
            "role": _speaker(m, words, "role"),
            "content": m.content,
            "timestamp": _created_at(m).isoformat(),
            "token_count": m.token_count,
        }
        for m in messages
    ]


def _cursor_records(messages: list[Message]) -> list[Record]:
    words = {Role.USER: "user", Role.ASSISTANT: "ai", Role.SYSTEM: "system"}
    records: list[Record] = []
    for m in messages:
        stamp = _created_at(m).isoformat().replace("+00:00", "Z")
        records.append(
            {
                "id": m.id,
                "sender_type": _speaker(m, words, "sender_type"),
                "sender_id": m.sender_id,
                "text": m.content,
                "metadata": copy.deepcopy(dict(m.metadata)),
                "created_at": stamp,
            }
        )
    return records


_RECORD_WRITERS: Final[Mapping[str, Callable[[list[Message]], list[Record]]]] = {
    "convai": _convai_records,
    "talkifai": _talkifai_records,
    "cursor": _cursor_records,
}


def _message(item: object) -> Message:
    if not isinstance(item, Message):
        msg = f"add_messages takes backscroll.Message objects, got {type(item).__name__}"
        raise ConfigurationError(msg)
    return item


def _record(item: object, index: int) -> Record:
    if not isinstance(item, Mapping):
        msg = f"records[{index}] is a {type(item).__name__}, not a JSON object (dict)"
        raise ConfigurationError(msg)
    return copy.deepcopy(dict(item))


def _vendor(name: object, what: str) -> str:
    if name not in VENDORS:
        known = ", ".join(VENDORS)
        msg = f"{what} {name!r} has no fake in the sandbox: pass vendor= one of {known}"
        raise ConfigurationError(msg)
    return str(name)


def _iso_time(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record_time(record: Record, field: str, parse: Callable[[str], datetime]) -> datetime | None:
    try:
        return parse(record[field])
    except (KeyError, TypeError, ValueError):
        return None


def _check_not_older(
    vendor: str, conversation_id: str, last: Record, first: Record, parse: Callable[[str], datetime]
) -> None:
    held, added = _record_time(last, "timestamp", parse), _record_time(first, "timestamp", parse)
    if held is not None and added is not None and added < held:
        msg = (
            f"the messages for {vendor} conversation {conversation_id!r} start at {added}, "
            f"before its last one ({held}): the fake would serve them out of order. Load "
            "older messages first, or into a new conversation"
        )
        raise ConfigurationError(msg)


def _check_cursor(conversation_id: str, existing: list[Record], records: list[Record]) -> None:
    # The fake pages by created_at: each must parse and none may go back in time.
    taken = {r.get("id") for r in existing}
    previous = _record_time(existing[-1], "created_at", _iso_time) if existing else None
    for index, record in enumerate(records):
        moment = _record_time(record, "created_at", _iso_time)
        if moment is None:
            msg = (
                f"cursor records[{index}] of {conversation_id!r} has created_at "
                f"{record.get('created_at')!r}: the fake pages by it, so it must be an ISO "
                "8601 time (2026-03-15T13:59:11Z)"
            )
            raise ConfigurationError(msg)
        if previous is not None and moment < previous:
            msg = (
                f"cursor records[{index}] of {conversation_id!r} is older than the record "
                f"before it ({moment} < {previous}): the fake pages by created_at, oldest "
                "first; sort them, or load older ones first"
            )
            raise ConfigurationError(msg)
        if "id" in record:
            if record["id"] in taken:
                msg = f"cursor message id {record['id']!r} is already in {conversation_id!r}"
                raise ConfigurationError(msg)
            taken.add(record["id"])
        previous = moment


def _session_time(session: Record) -> datetime:
    try:
        day = datetime.strptime(f"{session['date']} {session['time']}", "%d-%m-%Y %H:%M:%S")  # noqa: DTZ007 - naive by design
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return day.replace(tzinfo=UTC)
