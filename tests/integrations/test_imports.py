"""Extras stay optional: the core imports without them, and a missing one says what to install."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from backscroll.errors import BackscrollError, MissingExtraError

# Each integration module, the top-level module of its framework, and the extra naming it.
INTEGRATIONS = [
    ("backscroll.integrations.langchain", "langchain_core", "langchain"),
    ("backscroll.integrations.pydantic_ai", "pydantic_ai", "pydantic-ai"),
    ("backscroll.integrations.llama_index", "llama_index", "llama-index"),
    ("backscroll.integrations.openai_agents", "agents", "openai-agents"),
    ("backscroll.integrations.langgraph", "langgraph", "langgraph"),
    ("backscroll.integrations.agent_framework", "agent_framework", "agent-framework"),
    ("backscroll.integrations.dlt", "dlt", "dlt"),
]
FRAMEWORKS = sorted({framework for _, framework, _ in INTEGRATIONS})


def test_the_core_and_the_openai_format_import_without_any_framework() -> None:
    """With every framework made unimportable, backscroll, its blocking facade and openai load."""
    code = (
        "import sys\n"
        f"for name in {FRAMEWORKS!r}:\n"
        "    sys.modules[name] = None\n"
        "import backscroll, backscroll.blocking, backscroll.integrations\n"
        "from backscroll.integrations.openai import to_openai_messages\n"
        "assert to_openai_messages([]) == []\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # noqa: S603 - our own interpreter


def test_importing_backscroll_loads_no_framework() -> None:
    """Importing the core (and the openai format) never imports a framework as a side effect."""
    code = (
        "import sys, backscroll, backscroll.blocking, backscroll.integrations.openai\n"
        f"loaded = [n for n in {FRAMEWORKS!r} if n in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # noqa: S603 - our own interpreter


@pytest.mark.parametrize(("module", "framework", "extra"), INTEGRATIONS)
def test_a_missing_framework_names_the_extra(
    module: str, framework: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing an integration without its framework raises MissingExtraError (an ImportError)."""
    # What an uninstalled package looks like, even where its modules were imported before.
    for name in [n for n in sys.modules if n.startswith(f"{framework}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, framework, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=rf"pip install 'backscroll\[{extra}\]'") as caught:
        importlib.import_module(module)
    assert isinstance(caught.value, MissingExtraError)
    assert isinstance(caught.value, BackscrollError)
