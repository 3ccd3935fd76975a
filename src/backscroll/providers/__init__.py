"""
The built-in providers, one module per vendor.

``from backscroll import ConvaiProvider`` works too; this package is where their
vendor-specific code lives. `HTTPProvider` is the base class of the HTTP ones, and of
yours (see the "Writing a provider" guide), with `resolve_credential`,
`encode_path_segment` and `DEFAULT_MAX_RESPONSE_BYTES`.
"""

from __future__ import annotations

from backscroll._http import DEFAULT_MAX_RESPONSE_BYTES, encode_path_segment
from backscroll._provider import HTTPProvider, resolve_credential
from backscroll.providers.convai import ConvaiProvider
from backscroll.providers.cursor import CursorProvider
from backscroll.providers.jsonl import JsonlProvider
from backscroll.providers.talkifai import TalkifaiProvider

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ConvaiProvider",
    "CursorProvider",
    "HTTPProvider",
    "JsonlProvider",
    "TalkifaiProvider",
    "encode_path_segment",
    "resolve_credential",
]
