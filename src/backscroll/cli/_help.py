"""
How ``--help`` shows options: plain flags and readable metavars.

typer's rich help shows each option's Python type (``--json <bool>``, ``--id <list[str]>``)
and braces a required argument in the usage line (``{SOURCE}``): words a user never types.
The command classes here show ``--json``, ``--id ID`` and ``SOURCE`` instead, for every
command, whatever metavar its options declare or forget to.
"""

# No `from __future__ import annotations`: typer's classes are subclassed at import.

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup

__all__ = ["PlainCommand", "PlainGroup", "plain_metavars"]


def plain_metavars(params: list[Any]) -> list[Any]:
    """
    Give each of *params* a metavar a user would type; return them.

    Flags (and counted flags such as ``-v``) show none; an option of choices shows them
    (``jsonl|openai|sharegpt``); another option without one shows its name in capitals;
    an argument shows its name only (no type beside it).
    """
    for param in params:
        if isinstance(param, TyperArgument):
            param.display_type_rich = _no_type  # type: ignore[method-assign]
            continue
        # Options by what they have: typer vendors click in recent releases, not in older.
        if param.metavar is not None or not hasattr(param, "is_flag"):
            continue
        choices = _choices(param)
        if param.is_flag or param.count:
            param.metavar = ""
        elif choices:
            param.metavar = "|".join(str(getattr(c, "value", c)) for c in choices)
        else:
            param.metavar = (param.name or "value").upper()
    return params


def _choices(param: Any) -> list[Any]:
    """An option's choices: typer's own description of its type, or click's type."""
    described = getattr(param, "type_descriptor", None)
    if described is not None:
        return list(described.choices or ()) if described.is_choice else []
    return list(getattr(getattr(param, "type", None), "choices", None) or ())


def _no_type(ctx: object) -> None:  # noqa: ARG001 - typer's signature
    return None


def _unbraced(pieces: list[str]) -> list[str]:
    return [piece.replace("{", "").replace("}", "") for piece in pieces]


class PlainCommand(TyperCommand):
    """A command whose help shows plain flags and readable metavars."""

    def get_params(self, ctx: Any) -> list[Any]:
        return plain_metavars(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _unbraced(super().collect_usage_pieces(ctx))


class PlainGroup(TyperGroup):
    """A group whose help shows plain flags and readable metavars."""

    def get_params(self, ctx: Any) -> list[Any]:
        return plain_metavars(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _unbraced(super().collect_usage_pieces(ctx))
