"""
Where a migration writes: the `Sink` protocol and the built-in sinks.

.. code-block:: python

    async with backscroll.sinks.SqliteSink("history.db") as sink:
        report = await backscroll.migrate(provider, sink, checkpoint="history.ckpt")

- `JsonlSink`: the canonical, lossless JSON Lines export (one ``to_dict`` per line);
- `SqliteSink`: an SQLite file with ``conversations`` and ``messages`` tables;
- `Sink`: the protocol for your own targets (three async methods);
- `RewindableSink`: what an append-only sink adds to be exactly-once across crashes;
- `CountsMessages`, `RecordsConversations`: what a sink may add, and a migration uses.
"""

from __future__ import annotations

from backscroll.sinks._jsonl import JsonlSink
from backscroll.sinks._protocol import CountsMessages, RecordsConversations, RewindableSink, Sink
from backscroll.sinks._sqlite import SqliteSink

__all__ = [
    "CountsMessages",
    "JsonlSink",
    "RecordsConversations",
    "RewindableSink",
    "Sink",
    "SqliteSink",
]
