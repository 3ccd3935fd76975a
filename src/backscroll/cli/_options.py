"""
Reading the command line's words into backscroll's objects: sources, targets, credentials.

Everything here raises `UsageError` with a one-line message that names the flag and says
what to type instead; the commands turn it into exit status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, TypedDict

import attrs

from backscroll.providers import convai, cursor, talkifai
from backscroll.providers.convai import ConvaiProvider
from backscroll.providers.cursor import CursorProvider
from backscroll.providers.jsonl import JsonlProvider
from backscroll.providers.talkifai import TalkifaiProvider

if TYPE_CHECKING:
    from collections.abc import Mapping

    from backscroll.cli._selection import Shard

__all__ = [
    "CHARACTER_ENV_VAR",
    "Connection",
    "Provider",
    "Source",
    "Target",
    "UsageError",
    "default_checkpoint",
    "open_provider",
    "parse_source",
    "parse_target",
]

Vendor = Literal["convai", "talkifai", "cursor"]
Provider = ConvaiProvider | TalkifaiProvider | CursorProvider | JsonlProvider

VENDORS: Final[tuple[Vendor, ...]] = ("convai", "talkifai", "cursor")
_VENDORS_BY_NAME: Final[Mapping[str, Vendor]] = {vendor: vendor for vendor in VENDORS}
#: Not a secret, so read from the environment here too, beside the key.
CHARACTER_ENV_VAR: Final = "CONVAI_CHARACTER_ID"

#: Each vendor's credential flag and the environment variable its provider reads.
_CREDENTIAL: Final[Mapping[Vendor, tuple[str, str, str]]] = {
    "convai": ("--api-key", convai.ENV_VAR, "an API key"),
    "talkifai": ("--token", talkifai.ENV_VAR, "a token"),
    "cursor": ("--api-key", cursor.ENV_VAR, "an API key"),
}


class UsageError(Exception):
    """Bad input on the command line: one line for the user, exit status 2."""


@attrs.frozen
class Source:
    """
    Where history comes from: a vendor, or a JSONL export (``jsonl:PATH``).

    Attributes:
        kind: ``"convai"``, ``"talkifai"``, ``"cursor"`` or ``"jsonl"``.
        path: The export file, for ``"jsonl"``.
    """

    kind: Vendor | Literal["jsonl"]
    path: Path | None = None

    @property
    def label(self) -> str:
        """A short name for messages and file names: ``cursor``, ``jsonl-export.jsonl``."""
        return self.kind if self.path is None else f"jsonl-{self.path.name}"

    @property
    def lists_conversations(self) -> bool:
        """Whether the source can list its conversations (else ``--id`` is needed)."""
        return self.kind in {"convai", "jsonl"}

    def __str__(self) -> str:
        return self.kind if self.path is None else f"jsonl:{self.path}"


@attrs.frozen
class Target:
    """
    Where history goes: a sink (``jsonl``, ``sqlite``) or a training format file.

    Attributes:
        kind: ``"jsonl"`` or ``"sqlite"`` (sinks, resumable), ``"openai"`` or
            ``"sharegpt"`` (training formats, written whole).
        path: The file.
    """

    kind: Literal["jsonl", "sqlite", "openai", "sharegpt"]
    path: Path

    @property
    def resumable(self) -> bool:
        """Whether a checkpoint applies (the sinks) or the file is written whole."""
        return self.kind in {"jsonl", "sqlite"}

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


@attrs.frozen(kw_only=True)
class Connection:
    """How to reach a vendor: the credential flags (never shown: ``repr=False``)."""

    api_key: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    character_id: str | None = None
    base_url: str | None = None
    max_retries: int | None = None


def parse_source(text: str) -> Source:
    """
    Read ``convai``, ``talkifai``, ``cursor`` or ``jsonl:PATH``.

    Raises:
        UsageError: anything else, or a JSONL file that cannot be read.
    """
    vendor = _VENDORS_BY_NAME.get(text.strip().lower())
    if vendor is not None:
        return Source(vendor)
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() == "jsonl":
        path = Path(rest).expanduser()
        if not rest:
            msg = "jsonl: needs the export's path, as in jsonl:history.jsonl"
            raise UsageError(msg)
        _check_readable(path, f"the JSONL export {path}")
        return Source("jsonl", path)
    msg = f"unknown source {text!r}: use convai, talkifai, cursor or jsonl:PATH"
    raise UsageError(msg)


def parse_target(text: str) -> Target:
    """
    Read ``sqlite:PATH`` or ``jsonl:PATH`` (the ``--to`` of ``migrate``).

    Raises:
        UsageError: another form, or a path whose directory does not exist.
    """
    scheme, colon, rest = text.partition(":")
    kind = scheme.lower()
    if not colon or kind not in {"sqlite", "jsonl"} or not rest:
        msg = f"--to takes sqlite:PATH or jsonl:PATH, got {text!r}"
        raise UsageError(msg)
    path = Path(rest).expanduser()
    check_writable(path, f"--to {text}")
    return Target("sqlite" if kind == "sqlite" else "jsonl", path)


def check_writable(path: Path, what: str) -> None:
    """
    Check that *path* can be created: its directory exists and it is not a directory.

    Raises:
        UsageError: it cannot.
    """
    if path.is_dir():
        msg = f"{what}: {path} is a directory; name a file"
        raise UsageError(msg)
    directory = path.parent
    if not directory.is_dir():
        msg = f"{what}: the directory {directory} does not exist"
        raise UsageError(msg)


def _check_readable(path: Path, what: str) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        msg = f"cannot read {what}: {exc.strerror or exc}"
        raise UsageError(msg) from None


def default_checkpoint(target: Target, source: Source, shard: Shard | None) -> Path:
    """
    The checkpoint beside the target: ``history.db.cursor.checkpoint.json``.

    One per source and shard, so that one database can gather several vendors and several
    workers can split one account.
    """
    shard_part = "" if shard is None else f".shard-{shard.index}-of-{shard.count}"
    return target.path.with_name(f"{target.path.name}.{source.label}{shard_part}.checkpoint.json")


def open_provider(source: Source, connection: Connection) -> Provider:
    """
    The provider that reads *source*, with the credentials of *connection*.

    Raises:
        UsageError: a credential is missing, or a flag does not apply to this source.
        ConfigurationError: the provider refuses an option (say, a plain-http base URL).
    """
    _check_flags(source, connection)
    if source.kind == "jsonl":
        assert source.path is not None  # noqa: S101 - parse_source sets it for jsonl
        return JsonlProvider(source.path)
    options = _VendorOptions()
    if connection.base_url is not None:
        options["base_url"] = connection.base_url
    if connection.max_retries is not None:
        options["max_retries"] = connection.max_retries
    if source.kind == "convai":
        character_id = connection.character_id or os.environ.get(CHARACTER_ENV_VAR)
        if not character_id:
            msg = f"convai needs a character: pass --character-id or set {CHARACTER_ENV_VAR}"
            raise UsageError(msg)
        key = _credential("convai", connection.api_key)
        return ConvaiProvider(api_key=key, character_id=character_id, **options)
    if source.kind == "talkifai":
        token = _credential("talkifai", connection.token)
        return TalkifaiProvider(token=token, **options)
    key = _credential("cursor", connection.api_key)
    return CursorProvider(api_key=key, **options)


class _VendorOptions(TypedDict, total=False):
    base_url: str
    max_retries: int


def _credential(vendor: Vendor, given: str | None) -> str:
    flag, env_var, what = _CREDENTIAL[vendor]
    value = given if given is not None else os.environ.get(env_var)
    if not value:
        msg = f"{vendor} needs {what}: set {env_var} (or pass {flag})"
        raise UsageError(msg)
    return value


def _check_flags(source: Source, connection: Connection) -> None:
    """Refuse a flag that the source would silently ignore."""
    given = {
        "--api-key": connection.api_key is not None,
        "--token": connection.token is not None,
        "--character-id": connection.character_id is not None,
        "--base-url": connection.base_url is not None,
        "--max-retries": connection.max_retries is not None,
    }
    if source.kind == "jsonl":
        applies: set[str] = set()
    else:
        applies = {_CREDENTIAL[source.kind][0], "--base-url", "--max-retries"}
        if source.kind == "convai":
            applies.add("--character-id")
    for flag, present in given.items():
        if present and flag not in applies:
            msg = f"{flag} does not apply to {source}"
            if source.kind != "jsonl" and flag in {"--api-key", "--token"}:
                msg += f": {source.kind} takes {_CREDENTIAL[source.kind][0]}"
            raise UsageError(msg)
