"""
The documentation tells the truth: its code runs, and CI runs the README's own command.

The ``python`` blocks of each document run in order in one namespace, offline, against the
sandbox, in a scratch directory. A block that cannot run (one that needs a real vendor) is
preceded by ``<!-- skip: next -->``; sybil parses both. The README links every page.
"""

from __future__ import annotations

import pathlib
import re

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

ROOT = pathlib.Path(__file__).parent.parent
DOCUMENTS = [
    "README.md",
    "docs/index.md",
    "docs/quickstart.md",
    "docs/providers/convai.md",
    "docs/providers/talkifai.md",
    "docs/providers/cursor.md",
    "docs/writing-a-provider.md",
    "docs/concepts/paging.md",
    "docs/following.md",
    "docs/errors.md",
    "docs/sandbox.md",
]
# The README's two command lines sit in the first ``sh`` block after this comment.
COMMANDS_MARKER = "<!-- commands -->"
DEMO_COMMAND = "python -m pip install '.[cli,sandbox]' && backscroll demo"

_skip = SkipParser()
_sybil = Sybil(parsers=[PythonCodeBlockParser(), _skip])


@pytest.mark.parametrize("document", DOCUMENTS)
def test_python_blocks_run(
    document: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of the document runs, top to bottom, and most are not skipped."""
    monkeypatch.chdir(tmp_path)  # examples that write files (a migration's) write them here
    # The examples must not lean on credentials that happen to be in this shell.
    for variable in ("CONVAI_API_KEY", "TALKIFAI_TOKEN", "EXAMPLE_AI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    examples = list(_sybil.parse(ROOT / document).examples())
    skips = [e for e in examples if e.region.evaluator is _skip.skipper]
    assert all(e.parsed == ("next", None) for e in skips), "only a bare 'skip: next' is used"
    runs = len(examples) - 2 * len(skips)  # each skip is a directive and the block it skips
    assert runs > len(skips), f"{document} skips more python blocks than it runs"
    for example in examples:
        example.evaluate()


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    _, marker, rest = readme.partition(COMMANDS_MARKER)
    assert marker, f"README.md lost its {COMMANDS_MARKER} marker"
    block = re.search(r"```sh\n(.*?)```", rest, re.DOTALL)
    assert block is not None, f"no ```sh block after {COMMANDS_MARKER} in README.md"
    return block.group(1).splitlines()


def test_readme_shows_exactly_two_commands() -> None:
    """The README's command block is two lines: the demo, then the whole test suite."""
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0] == DEMO_COMMAND


def test_readme_links_every_page() -> None:
    """README.md's documentation list links every page of docs/ (the changelog directly)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#\s]+)", readme))
    assert all((ROOT / link).exists() for link in linked), "README.md links a missing file"
    pages = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "docs").rglob("*.md")
        if "_ext" not in path.parts
    }
    # docs/changelog.md only includes CHANGELOG.md, which the README links itself.
    pages.discard("docs/changelog.md")
    assert "CHANGELOG.md" in linked
    assert sorted(pages - linked) == []


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs the README's second command line and nothing else."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    code = [line for line in script if line.strip() and not line.lstrip().startswith("#")]
    assert code[0] == "set -euo pipefail"
    assert code[-1] == _readme_commands()[1]
    assert all(line.startswith(("set ", "cd ")) for line in code[:-1])
