"""
backscroll's sandbox: faithful fakes of the three vendor APIs, as one ASGI app.

Use it to try backscroll without accounts, to test your own code against realistic
history (bursts of messages sharing a second, "last page" answers past the end,
newest-first pages), and to rehearse failures (429 with ``Retry-After``, 5xx, dropped
connections, truncated JSON) on a seeded, replayable plan.

.. code-block:: python

    from backscroll.sandbox import Sandbox

    sandbox = Sandbox(seed=0)
    async with sandbox.cursor() as provider:
        messages = [m async for m in provider.messages("con_9s2kd81")]

Needs the ``sandbox`` extra: ``pip install 'backscroll[sandbox]'``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401 - fail here, with the extra's name, not deep inside
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    msg = "backscroll.sandbox needs the sandbox extra: pip install 'backscroll[sandbox]'"
    raise ImportError(msg, name=exc.name) from exc

from backscroll.sandbox._app import BASE_URL, Sandbox, create_app
from backscroll.sandbox._convai import API_KEY as CONVAI_API_KEY
from backscroll.sandbox._convai import ConvaiQuirks
from backscroll.sandbox._convai_data import CONVAI_CHARACTER_ID
from backscroll.sandbox._cursor import API_KEY as CURSOR_API_KEY
from backscroll.sandbox._cursor import CursorQuirks
from backscroll.sandbox._data import SandboxData
from backscroll.sandbox._fake import SandboxFake
from backscroll.sandbox._faults import Faults, Outcome, RequestRecord, SandboxTransport
from backscroll.sandbox._server import serve, serving
from backscroll.sandbox._store import ConversationStore, GrowsConversations, RecordStore
from backscroll.sandbox._talkifai import MASTER_TOKEN as TALKIFAI_TOKEN
from backscroll.sandbox._talkifai import TalkifaiQuirks, session_token

__all__ = [
    "BASE_URL",
    "CONVAI_API_KEY",
    "CONVAI_CHARACTER_ID",
    "CURSOR_API_KEY",
    "TALKIFAI_TOKEN",
    "ConvaiQuirks",
    "ConversationStore",
    "CursorQuirks",
    "Faults",
    "GrowsConversations",
    "Outcome",
    "RecordStore",
    "RequestRecord",
    "Sandbox",
    "SandboxData",
    "SandboxFake",
    "SandboxTransport",
    "TalkifaiQuirks",
    "create_app",
    "serve",
    "serving",
    "session_token",
]
