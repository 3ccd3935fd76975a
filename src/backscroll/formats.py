"""
Training and interchange formats: one JSON line per conversation.

- ``"openai"``: the OpenAI fine-tuning and TRL conversational format,
  ``{"messages": [{"role": "user", "content": "..."}, ...]}``;
- ``"sharegpt"``: ``{"conversations": [{"from": "human", "value": "..."}, ...]}``, with
  ``human``, ``gpt`` and ``system``, as LLaMA-Factory and FastChat read it.

Both keep only speaker and text: for a lossless copy, export with
`backscroll.sinks.JsonlSink` (and convert that export later: `export_conversations`
takes a `backscroll.providers.JsonlProvider` as its source). Tool output and unknown
speakers (`Role.TOOL`, `Role.UNKNOWN`) have no faithful place in either format and are
left out.

.. code-block:: python

    report = await export_conversations(provider, "train.jsonl", format="sharegpt")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from backscroll._migration.records import export_records
from backscroll.errors import ConfigurationError
from backscroll.integrations.openai import to_openai_messages

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime

    from backscroll._migration.report import MigrationReport, ProgressEvent
    from backscroll._models import Message
    from backscroll._protocols import ChatHistoryProvider

__all__ = ["Format", "export_conversations", "openai_record", "sharegpt_record"]

Format = Literal["openai", "sharegpt"]

_SHAREGPT_SPEAKERS: Final[Mapping[str, str]] = {
    "system": "system",
    "user": "human",
    "assistant": "gpt",
}


def openai_record(messages: Iterable[Message]) -> dict[str, Any]:
    """
    One conversation in the OpenAI/TRL chat format: ``{"messages": [{"role", "content"}]}``.

    Roles are ``system``, ``user`` and ``assistant``, mapped as
    `backscroll.integrations.openai.to_openai_messages` maps them; tool and unknown
    speakers are left out (a training ``tool`` message needs a ``tool_call_id``).

    Args:
        messages: The conversation's messages, oldest first.

    .. versionadded:: 0.1.0
    """
    return {"messages": to_openai_messages(messages, unmapped="skip")}


def sharegpt_record(messages: Iterable[Message]) -> dict[str, Any]:
    """
    One conversation in the ShareGPT format: ``{"conversations": [{"from", "value"}]}``.

    Speakers are ``system``, ``human`` and ``gpt``; tool and unknown speakers are left out.

    Args:
        messages: The conversation's messages, oldest first.

    .. versionadded:: 0.1.0
    """
    # The same speakers as the OpenAI record, renamed: one mapping of roles, not two.
    return {
        "conversations": [
            {"from": _SHAREGPT_SPEAKERS[m["role"]], "value": m["content"]}
            for m in to_openai_messages(messages, unmapped="skip")
        ]
    }


_RECORDS: Final[Mapping[str, Callable[[Iterable[Message]], dict[str, Any]]]] = {
    "openai": openai_record,
    "sharegpt": sharegpt_record,
}


async def export_conversations(
    source: ChatHistoryProvider,
    path: str | os.PathLike[str],
    *,
    format: Format,  # noqa: A002 - the word users know; the builtin is not needed here
    conversation_ids: Iterable[str] | None = None,
    shard: tuple[int, int] | None = None,
    since: datetime | None = None,
    concurrency: int = 8,
    fail_fast: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> MigrationReport:
    """
    Write conversations to a training file, one JSON line per conversation.

    Each conversation is read whole (oldest first), turned into one record and written;
    conversations with no message left are skipped. The file is written under a
    temporary name and moved into place at the end, so *path* is either the old file or
    the complete new one. Lines come in the order conversations finish (pass
    ``concurrency=1`` for the source's order). Unlike `backscroll.migrate` this does not
    resume: for very large accounts, migrate into a `backscroll.sinks.JsonlSink` first
    and export from that file with a `backscroll.providers.JsonlProvider`.

    Args:
        source: Any provider, a `backscroll.providers.JsonlProvider` included.
        path: The file to write (replaced if it exists).
        format: ``"openai"`` or ``"sharegpt"``.
        conversation_ids: The conversations; ``None`` lists all (`ListsConversations`).
        shard: ``(index, count)``: only the conversations of that shard, as in
            `backscroll.migrate`.
        since: Only messages created at or after this time (naive means UTC).
        concurrency: How many conversations are read at once.
        fail_fast: Stop at the first conversation that fails (the file is still written).
        on_progress: Called with a `backscroll.ProgressEvent` at each step.

    Returns:
        A `backscroll.MigrationReport`: conversations done and failed, messages read and
        written (``messages_written`` counts the messages in the records).

    Raises:
        ConfigurationError: an argument is unusable.
        SinkError: *path* cannot be written.
        BackscrollError: listing the conversations failed.

    .. versionadded:: 0.1.0
    """
    if format not in _RECORDS:
        msg = f"format must be 'openai' or 'sharegpt', got {format!r}"
        raise ConfigurationError(msg)
    return await export_records(
        source,
        Path(path),
        record=_RECORDS[format],
        conversation_ids=conversation_ids,
        shard=shard,
        since=since,
        concurrency=concurrency,
        fail_fast=fail_fast,
        on_progress=on_progress,
    )
