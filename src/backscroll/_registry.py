"""
The vendor registry: each vendor declared once, and everything generic loops over it.

A vendor is one `Vendor` declaration beside its provider (``VENDOR = Vendor(...)`` at the
end of the provider's module): its name, its provider class, the settings it needs (the
credential first; each with its keyword, environment variable and command-line flag),
the keys its error bodies put their text under, and its sandbox fake. The command line
(sources, flags, hints, ``backscroll vendors``), the demo, the sandbox and the docs'
provider table read these declarations; none of them names a vendor.

Capabilities are not declared: they are read from the provider class, which lists or
deletes conversations when it satisfies `ListsConversations` or `DeletesConversations`.

Plugins register a `Vendor` under the entry-point group ``backscroll.vendors``, named as
the vendor::

    [project.entry-points."backscroll.vendors"]
    tokenchat = "tokenchat_backscroll:VENDOR"

`vendors` lists the built-ins, then the plugins by name. A plugin that cannot be loaded,
is not a `Vendor`, or takes a name already taken is a `ConfigurationError` that names
its distribution: a vendor never disappears silently.
"""

from __future__ import annotations

import functools
import importlib
import re
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, runtime_checkable

import attrs

from backscroll._hints import in_python, spell
from backscroll._protocols import ChatHistoryProvider, DeletesConversations, ListsConversations
from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

__all__ = [
    "ENTRY_POINT_GROUP",
    "Setting",
    "Vendor",
    "VendorProvider",
    "load_object",
    "provider_table",
    "vendors",
]

#: The entry-point group plugins register their `Vendor` under.
ENTRY_POINT_GROUP: Final = "backscroll.vendors"
#: The built-in vendors' modules, each ending in ``VENDOR = Vendor(...)``.
_BUILT_IN: Final = (
    "backscroll.providers.convai",
    "backscroll.providers.talkifai",
    "backscroll.providers.cursor",
)
#: Names a vendor cannot take: the command line's other sources.
_RESERVED: Final = frozenset({"jsonl"})
_NAME: Final = re.compile(r"[a-z][a-z0-9_-]*\Z")
_FLAG: Final = re.compile(r"--[a-z][a-z0-9-]*\Z")


@runtime_checkable
class VendorProvider(ChatHistoryProvider, Protocol):
    """
    What a registered vendor's provider class makes: a provider that is closed with it.

    .. versionadded:: 0.2.0
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def aclose(self) -> None:
        """Release what the provider holds."""
        ...


def _check_parameter(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.isidentifier():
        msg = f"Setting({attribute.name}=...) must be a Python identifier, got {value!r}"
        raise ConfigurationError(msg)


def _check_flag(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _FLAG.match(value):
        msg = f"Setting({attribute.name}=...) must look like --api-key, got {value!r}"
        raise ConfigurationError(msg)


@attrs.frozen(kw_only=True)
class Setting:
    """
    One thing a vendor's provider needs: a credential, or an id such as a character.

    Declared once, it is the provider's keyword, the environment variable read when the
    keyword is not given, and the command line's flag; hints name whichever the user
    is using.

    Attributes:
        parameter: The provider's keyword argument (``"api_key"``).
        env_var: The environment variable that holds it (``"CONVAI_API_KEY"``).
        flag: The command line's flag (``"--api-key"``); vendors may share one.
        what: What it is, after "needs" (``"an API key"``).
        secret: Whether it is a secret (kept out of every repr and message).
        python_note: Said after the keyword in Python hints only
            (``" (or a token callable)"``).

    .. versionadded:: 0.2.0
    """

    parameter: str = attrs.field(validator=_check_parameter)
    env_var: str
    flag: str = attrs.field(validator=_check_flag)
    what: str
    secret: bool = True
    python_note: str = ""

    def hint(self) -> str:
        """How to give it, in the terms of the interface in use: ``pass --api-key or set X``."""
        note = self.python_note if in_python() else ""
        return f"pass {spell(self.parameter)}{note} or set {self.env_var}"


def _check_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value) or value in _RESERVED:
        msg = (
            f"Vendor({attribute.name}=...) must be lowercase letters, digits, '-' or '_' "
            f"(and not {', '.join(sorted(_RESERVED))}), got {value!r}"
        )
        raise ConfigurationError(msg)


def _check_provider(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, type) or not issubclass(value, VendorProvider):
        msg = (
            f"Vendor({attribute.name}=...) must be a provider class with messages(), "
            f"aclose() and async with, got {value!r}"
        )
        raise ConfigurationError(msg)


@attrs.frozen(kw_only=True)
class Vendor:
    """
    A vendor's one declaration: what backscroll needs to know to offer it everywhere.

    Attributes:
        name: The source name on the command line and `Message.provider` (``"convai"``).
        provider: The provider class; it is called with the settings' keywords.
        summary: One line for ``backscroll vendors`` and the docs' provider table.
        credential: The secret the provider needs.
        settings: More values the provider needs (Convai's character id), in the order
            they are asked for.
        fake: The sandbox fake, as ``"module:attribute"`` naming a callable that takes the
            `backscroll.sandbox.Sandbox` and returns a `backscroll.sandbox.SandboxFake`;
            ``None`` when the vendor has none. Imported only when a sandbox is made.
        paging: How the vendor pages, for the provider table (``"page tokens"``).
        distribution: The package that declares it (filled in for plugins).

    .. versionadded:: 0.2.0
    """

    name: str = attrs.field(validator=_check_name)
    provider: type[VendorProvider] = attrs.field(validator=_check_provider)
    summary: str
    credential: Setting
    settings: tuple[Setting, ...] = ()
    fake: str | None = None
    paging: str = ""
    distribution: str = "backscroll"

    @property
    def lists_conversations(self) -> bool:
        """Whether the provider can list its conversations (`ListsConversations`)."""
        return issubclass(self.provider, ListsConversations)

    @property
    def deletes_conversations(self) -> bool:
        """Whether the provider can delete conversations (`DeletesConversations`)."""
        return issubclass(self.provider, DeletesConversations)

    def open(self, **options: Any) -> VendorProvider:
        """
        A new provider of this vendor: the provider class called with *options*.

        Every vendor's provider takes the shared keywords (``base_url``, ``http_client``,
        ``max_retries``...) and its settings' keywords.
        """
        make: Callable[..., VendorProvider] = self.provider
        return make(**options)

    @property
    def all_settings(self) -> tuple[Setting, ...]:
        """The credential, then the other settings."""
        return (self.credential, *self.settings)


def vendors() -> Mapping[str, Vendor]:
    """
    The registered vendors by name: the built-ins, then every installed plugin.

    Plugins are the `Vendor` objects registered under the entry-point group
    ``backscroll.vendors``.

    Raises:
        ConfigurationError: a plugin cannot be loaded, is not a `Vendor`, or takes a name
            that another vendor has.

    .. versionadded:: 0.2.0
    """
    return _registered()


@functools.cache
def _registered() -> Mapping[str, Vendor]:
    found: dict[str, Vendor] = {}
    for module in _BUILT_IN:
        vendor: Vendor = importlib.import_module(module).VENDOR
        found[vendor.name] = vendor
    plugins = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)
    for point in plugins:
        distribution = point.dist.name if point.dist is not None else "an unknown package"
        where = f"the {ENTRY_POINT_GROUP} entry point {point.name!r} of {distribution}"
        try:
            loaded = point.load()
        except Exception as exc:
            msg = (
                f"{where} cannot be loaded ({type(exc).__name__}: {exc}): fix or uninstall "
                f"{distribution}"
            )
            raise ConfigurationError(msg) from exc
        if not isinstance(loaded, Vendor):
            msg = f"{where} is {type(loaded).__name__}, not a backscroll.Vendor: fix {point.value}"
            raise ConfigurationError(msg)
        if loaded.name != point.name or loaded.name in found:
            taken = "already taken" if loaded.name in found else f"not {point.name!r}"
            msg = f"{where} declares the vendor name {loaded.name!r}, {taken}: rename one"
            raise ConfigurationError(msg)
        found[loaded.name] = attrs.evolve(loaded, distribution=distribution)
    return MappingProxyType(found)


def load_object(reference: str) -> Any:
    """
    The object ``"package.module:attribute"`` names (as entry points do).

    Raises:
        ConfigurationError: it cannot be imported.
    """
    module, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module)
        for part in attribute.split(".") if attribute else ():
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        msg = f"cannot load {reference!r} ({type(exc).__name__}: {exc}): is its package installed?"
        raise ConfigurationError(msg) from exc
    return target


def provider_table(registered: Mapping[str, Vendor]) -> str:
    """The docs' provider table (Markdown), one row per vendor, as README.md shows it."""
    rows = ["| provider | vendor API | credential | paging |", "| --- | --- | --- | --- |"]
    for vendor in registered.values():
        settings = ", ".join(f"`{setting.env_var}`" for setting in vendor.all_settings)
        provider = f"`{vendor.provider.__name__}`"
        rows.append(f"| {provider} | {vendor.summary} | {settings} | {vendor.paging} |")
    return "\n".join(rows) + "\n"
