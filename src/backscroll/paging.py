"""
The paging engine, for writing a provider: each kind of vendor paging, written once.

A provider supplies one ``fetch`` function that sends one request and parses one page;
the kind it hands it to does the rest: each message exactly once, in order, in bounded
memory, and `backscroll.PaginationError` instead of a loop that never ends.

- `token_pages`: opaque page tokens (``next_page_token`` / ``page_token``).
- `offset_pages`: ``offset``/``limit`` positions.
- `cursor_pages`: ``before``/``after`` timestamp cursors (`CursorPage`).
- `single_page`: one response that holds the whole conversation.

`backscroll.providers.HTTPProvider` turns the batches into ``messages()`` with the
``since``/``until`` window applied. See the "Writing a provider" guide.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from backscroll._paging import (
    CursorPage,
    TokenPage,
    Window,
    cursor_pages,
    offset_pages,
    single_page,
    token_pages,
)

__all__ = [
    "CursorPage",
    "TokenPage",
    "Window",
    "cursor_pages",
    "offset_pages",
    "single_page",
    "token_pages",
]
