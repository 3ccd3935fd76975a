"""
The built-in providers, one module per vendor.

``from backscroll import ConvaiProvider`` works too; this package is where their
vendor-specific code lives.
"""

from __future__ import annotations

from backscroll.providers.convai import ConvaiProvider
from backscroll.providers.cursor import CursorProvider
from backscroll.providers.jsonl import JsonlProvider
from backscroll.providers.talkifai import TalkifaiProvider

__all__ = ["ConvaiProvider", "CursorProvider", "JsonlProvider", "TalkifaiProvider"]
