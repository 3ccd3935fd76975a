from __future__ import annotations

import importlib
import inspect
import pathlib
import types

import pytest

import backscroll

# The names API.md promises from the top-level package. Later milestones add to it.
API_NAMES = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BackscrollError",
    "BadRequestError",
    "ChatHistoryProvider",
    "ConvaiProvider",
    "Conversation",
    "CursorProvider",
    "DeletesConversations",
    "ListsConversations",
    "Message",
    "NotFoundError",
    "Order",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseFormatError",
    "Role",
    "ServerError",
    "Setting",
    "TalkifaiProvider",
    "Vendor",
    "VendorProvider",
    "errors",
    "from_dict",
    "migrate",
    "to_dict",
    "vendors",
]


def test_all_equals_the_public_names() -> None:
    """__all__ lists every public name bound in the package, sorted, and nothing else."""
    public = {
        name
        for name, value in vars(backscroll).items()
        if not name.startswith("_")
        # Submodules are bound by the import system when anyone imports them, and the
        # __future__ import binds `annotations`: neither is part of the public face.
        and not isinstance(value, types.ModuleType)
        and type(value).__name__ != "_Feature"
    }
    assert backscroll.__all__ == sorted(public | {"errors"})


def test_all_is_sorted_and_unique() -> None:
    """__all__ is sorted and has no duplicates, as in httpx."""
    assert backscroll.__all__ == sorted(set(backscroll.__all__))


@pytest.mark.parametrize("name", API_NAMES)
def test_api_names_import_from_backscroll(name: str) -> None:
    """Every name API.md documents at the top level imports from `backscroll`."""
    if name == "migrate" and not hasattr(backscroll, name):
        pytest.skip("backscroll.migrate is not built yet")
    module = importlib.import_module("backscroll")
    assert name in backscroll.__all__
    assert getattr(module, name) is not None


def test_exported_classes_say_where_users_find_them() -> None:
    """Exported classes and functions live in backscroll's own modules, none elsewhere."""
    for name in backscroll.__all__:
        value = getattr(backscroll, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("backscroll"), name


def test_unknown_attribute_raises_attribute_error() -> None:
    """A name the package does not have raises AttributeError naming it."""
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = backscroll.no_such_name


#: The modules a vendor plugin imports (see docs/writing-a-provider.md).
PLUGIN_MODULES = ["backscroll.fields", "backscroll.paging", "backscroll.providers"]


@pytest.mark.parametrize("module_name", PLUGIN_MODULES)
def test_plugin_modules_export_exactly_their_public_names(module_name: str) -> None:
    """What a plugin imports is listed in its module's __all__ once, and nothing else."""
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__name__ != "_Feature"
    }
    # The order is ruff's (RUF022: constants first), checked by the lint session.
    assert sorted(module.__all__) == sorted(public)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module_name", PLUGIN_MODULES)
def test_plugin_names_are_documented(module_name: str) -> None:
    """Every class and function a plugin imports has a docstring."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module_name}.{name}"


def test_the_plugin_api_is_typed() -> None:
    """The package ships py.typed, so a plugin's type checker reads these annotations."""
    assert (pathlib.Path(backscroll.__file__).parent / "py.typed").is_file()
