"""What a migration tells its caller: progress events while it runs, a report at the end."""

from __future__ import annotations

from typing import Any, Literal

import attrs

__all__ = ["ConversationFailure", "EventKind", "MigrationReport", "ProgressEvent"]

EventKind = Literal["listed", "started", "skipped", "written", "finished", "failed", "deleted"]


@attrs.frozen(kw_only=True)
class ProgressEvent:
    """
    One step of a running migration, handed to ``migrate(on_progress=...)``.

    Attributes:
        kind: What happened:

            - ``"listed"``: a conversation was found (a progress bar's total grows by one);
            - ``"started"``: copying a conversation began;
            - ``"skipped"``: a conversation was finished by the interrupted run being
              resumed, so it is not read again;
            - ``"written"``: *messages* more messages of the conversation are committed in
              the sink (durable);
            - ``"finished"``: the conversation is copied and committed; *messages* is how
              many of its messages this run wrote;
            - ``"failed"``: the conversation could not be copied (or deleted); see *reason*;
            - ``"deleted"``: ``delete_after`` deleted the conversation at the vendor.
        conversation_id: The conversation the event is about.
        messages: A count of messages, as described under *kind*; else 0.
        reason: Why it failed, for ``"failed"``; else ``None``.

    .. versionadded:: 0.1.0
    """

    kind: EventKind
    conversation_id: str
    messages: int = 0
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ConversationFailure:
    """
    A conversation the migration could not copy, or (with ``delete_after``) not delete.

    Attributes:
        conversation_id: The conversation.
        reason: What went wrong: the error's own message, which says what to do.
        error_type: The name of the exception class, for example ``"NotFoundError"``.

    .. versionadded:: 0.1.0
    """

    conversation_id: str
    reason: str
    error_type: str


@attrs.frozen(kw_only=True)
class MigrationReport:
    """
    What `backscroll.migrate` did.

    Attributes:
        conversations_done: Conversations copied completely by this run.
        conversations_skipped: Conversations the interrupted run being resumed had finished
            already, so they were not read again.
        failures: Conversations that could not be copied (and, with ``delete_after``,
            conversations copied but not deleted), each with the reason.
        deleted: Conversations deleted at the vendor (``delete_after``), after their
            messages were committed in the sink.
        messages_read: Messages the source yielded.
        messages_written: Messages written to the sink and committed.
        messages_skipped: Messages read but not written because the sink already holds
            them (the checkpoint's watermark says so).
        retries: Requests the source retried (for providers with a ``retries`` counter).
        duration: Seconds the migration took.
        complete: Whether every conversation was copied: a rerun with the same checkpoint
            then checks every conversation for new messages (incremental sync), whereas a
            rerun after an incomplete run first finishes the conversations left over.
        stopped_by: The failure that ended the run early, else ``None``: the source's
            first `backscroll.AuthenticationError` or `backscroll.PermissionDeniedError`
            (every other conversation would fail the same way, one request each). It is
            also in *failures*, once; the conversations not tried are not listed. Fix the
            credential and rerun with the same checkpoint to go on.

    .. versionadded:: 0.1.0
    """

    conversations_done: int
    conversations_skipped: int
    failures: tuple[ConversationFailure, ...]
    deleted: tuple[str, ...]
    messages_read: int
    messages_written: int
    messages_skipped: int
    retries: int
    duration: float
    complete: bool
    stopped_by: ConversationFailure | None = None

    @property
    def conversations_failed(self) -> int:
        """How many conversations failed."""
        return len({failure.conversation_id for failure in self.failures})

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-compatible data, for ``--json`` summaries and logs."""
        data = attrs.asdict(self)
        data["failures"] = [attrs.asdict(failure) for failure in self.failures]
        if self.stopped_by is not None:
            data["stopped_by"] = attrs.asdict(self.stopped_by)
        data["deleted"] = list(self.deleted)
        data["conversations_failed"] = self.conversations_failed
        data["ok"] = self.ok
        return data
