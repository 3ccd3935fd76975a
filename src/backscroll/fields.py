"""
Reading fields out of vendor JSON, for writing a provider: errors that name the field.

Read every record through these, so that a record of the wrong shape becomes a
`backscroll.ResponseFormatError` that says which field, where, and what was found (never
a bare ``KeyError``), and never quotes a value long enough to hold a credential.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from backscroll._fields import (
    fail,
    get_bool,
    get_int_or_none,
    get_list,
    get_mapping,
    get_str,
    get_str_or_none,
    parse_timestamp,
    read_timestamp,
    require_mapping,
)

__all__ = [
    "fail",
    "get_bool",
    "get_int_or_none",
    "get_list",
    "get_mapping",
    "get_str",
    "get_str_or_none",
    "parse_timestamp",
    "read_timestamp",
    "require_mapping",
]
