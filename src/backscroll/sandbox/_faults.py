"""
Fault injection: the ways a real vendor fails, on a seeded, replayable plan.

In three rooms: the plan (`_fault_plan`: which request gets which fault), the ASGI layer
that carries it out (`_fault_layer`), and the in-process transport that turns a dropped
connection into what a socket would give (`_transport`). This module is their one face
for the rest of the sandbox.
"""

from __future__ import annotations

from backscroll.sandbox._fault_layer import IN_PROCESS, ConnectionDropped, FaultLayer
from backscroll.sandbox._fault_plan import (
    FaultPlan,
    Faults,
    Kind,
    Outcome,
    PageRepeater,
    RequestRecord,
    Target,
    check_every,
    check_positive,
)
from backscroll.sandbox._transport import SandboxTransport

__all__ = [
    "IN_PROCESS",
    "ConnectionDropped",
    "FaultLayer",
    "FaultPlan",
    "Faults",
    "Kind",
    "Outcome",
    "PageRepeater",
    "RequestRecord",
    "SandboxTransport",
    "Target",
    "check_every",
    "check_positive",
]
