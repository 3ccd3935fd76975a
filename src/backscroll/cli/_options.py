"""
Reading the command line's words into backscroll's objects: sources, targets, credentials.

Everything here raises `UsageError` with a one-line message that names the flag and says
what to type instead; the commands turn it into exit status 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs

from backscroll._registry import VendorProvider, vendors
from backscroll.providers.jsonl import JsonlProvider

if TYPE_CHECKING:
    from backscroll._registry import Vendor
    from backscroll.cli._selection import Shard

__all__ = [
    "GENERAL_FLAGS",
    "HINT_FLAGS",
    "Connection",
    "FileAccessError",
    "Provider",
    "Source",
    "Target",
    "UsageError",
    "default_checkpoint",
    "open_provider",
    "parse_source",
    "parse_target",
]

Provider: TypeAlias = VendorProvider | JsonlProvider

#: The flags every vendor takes, by the provider keyword they set.
GENERAL_FLAGS: Final[Mapping[str, str]] = {
    "base_url": "--base-url",
    "max_retries": "--max-retries",
    "timeout": "--timeout",
    "allow_insecure_http": "--allow-insecure-http",
    "rate_limit": "--rate-limit",
}
#: Keywords that hints name, spelled as the command line's flags (see `backscroll._hints`).
HINT_FLAGS: Final[Mapping[str, str]] = {
    **GENERAL_FLAGS,
    "concurrency": "--concurrency",
    "allow_remote": "--allow-remote",
    "since": "--since",
    "checkpoint": "--checkpoint",
}


class UsageError(Exception):
    """Bad input on the command line: one line for the user, exit status 2."""


class FileAccessError(Exception):
    """A file or folder the command needs cannot be read or written: exit status 4."""


@attrs.frozen
class Source:
    """
    Where history comes from: a vendor, or a JSONL export (``jsonl:PATH``).

    Attributes:
        kind: A registered vendor's name (see `backscroll.vendors`) or ``"jsonl"``.
        path: The export file, for ``"jsonl"``.
    """

    kind: str
    path: Path | None = None

    @property
    def vendor(self) -> Vendor | None:
        """The registered vendor, ``None`` for a JSONL export."""
        return None if self.path is not None else vendors()[self.kind]

    @property
    def label(self) -> str:
        """A short name for messages and file names: ``cursor``, ``jsonl-export.jsonl``."""
        return self.kind if self.path is None else f"jsonl-{self.path.name}"

    @property
    def lists_conversations(self) -> bool:
        """Whether the source can list its conversations (else ``--id`` is needed)."""
        return self.vendor is None or self.vendor.lists_conversations

    @property
    def deletes_conversations(self) -> bool:
        """Whether the source can delete conversations at the vendor."""
        return self.vendor is not None and self.vendor.deletes_conversations

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
    """
    How to reach a vendor: its settings' flags as given (never shown: ``repr=False``).

    Attributes:
        settings: The vendors' setting flags given, by flag (``{"--api-key": "..."}``).
    """

    settings: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    base_url: str | None = None
    max_retries: int | None = None
    timeout: float | None = None
    allow_insecure_http: bool = False
    rate_limit: float | None = None


def parse_source(text: str) -> Source:
    """
    Read a registered vendor's name (``cursor``) or ``jsonl:PATH``.

    Raises:
        UsageError: anything else, or a JSONL file that cannot be read.
    """
    name = text.strip().lower()
    if name in vendors():
        return Source(name)
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() == "jsonl":
        path = Path(rest).expanduser()
        if not rest:
            msg = "jsonl: needs the export's path, as in jsonl:history.jsonl"
            raise UsageError(msg)
        _check_readable(path, f"the JSONL export {path}")
        return Source("jsonl", path)
    msg = f"unknown source {text!r}: use {', '.join(vendors())} or jsonl:PATH"
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
    Check that *path* can be written: its directory exists, and the user may write there.

    Raises:
        UsageError: *path* is a directory, or its directory does not exist.
        FileAccessError: the file, or its folder, is not writable for this user.
    """
    if path.is_dir():
        msg = f"{what}: {path} is a directory; name a file"
        raise UsageError(msg)
    directory = path.parent
    if not directory.is_dir():
        msg = f"{what}: the directory {directory} does not exist"
        raise UsageError(msg)
    if path.exists() and not os.access(path, os.W_OK):
        msg = (
            f"{what}: permission denied: {path} is read-only for this user; make it "
            "writable (chmod u+w) or name another file"
        )
        raise FileAccessError(msg)
    if not path.exists() and not os.access(directory, os.W_OK | os.X_OK):
        msg = (
            f"{what}: permission denied: the folder {directory.resolve()} is read-only for "
            "this user, so no file can be created there; name a file in a writable folder"
        )
        raise FileAccessError(msg)


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
    vendor = source.vendor
    _check_flags(source, vendor, connection)
    if vendor is None:
        assert source.path is not None  # noqa: S101 - parse_source sets it for jsonl
        return JsonlProvider(source.path)
    options: dict[str, Any] = {}
    if connection.base_url is not None:
        options["base_url"] = connection.base_url
    if connection.max_retries is not None:
        options["max_retries"] = connection.max_retries
    if connection.timeout is not None:
        options["timeout"] = connection.timeout
    if connection.allow_insecure_http:
        options["allow_insecure_http"] = True
    if connection.rate_limit is not None:
        options["rate_limit"] = connection.rate_limit
    for setting in vendor.all_settings:
        value = connection.settings.get(setting.flag) or os.environ.get(setting.env_var)
        if not value:
            msg = (
                f"{vendor.name} needs {setting.what}: set {setting.env_var} "
                f"(or pass {setting.flag})"
            )
            raise UsageError(msg)
        options[setting.parameter] = value
    return vendor.open(**options)


def setting_flags() -> dict[str, str]:
    """Every registered vendor's setting flags, by the provider keyword they set."""
    return {s.parameter: s.flag for vendor in vendors().values() for s in vendor.all_settings}


def _check_flags(source: Source, vendor: Vendor | None, connection: Connection) -> None:
    """Refuse a flag that the source would silently ignore."""
    given = list(connection.settings)
    given += [
        flag
        for flag, value in (
            ("--base-url", connection.base_url),
            ("--max-retries", connection.max_retries),
            ("--timeout", connection.timeout),
            ("--allow-insecure-http", connection.allow_insecure_http or None),
        )
        if value is not None
    ]
    applies = set() if vendor is None else {s.flag for s in vendor.all_settings}
    if vendor is not None:
        applies |= set(GENERAL_FLAGS.values())
    for flag in given:
        if flag not in applies:
            msg = f"{flag} does not apply to {source}"
            if vendor is not None and flag not in GENERAL_FLAGS.values():
                msg += f": {vendor.name} takes {', '.join(s.flag for s in vendor.all_settings)}"
            raise UsageError(msg)
