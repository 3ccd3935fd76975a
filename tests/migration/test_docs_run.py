"""The migration guide and the sinks page tell the truth: their python blocks run."""

from __future__ import annotations

import pathlib

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

ROOT = pathlib.Path(__file__).parents[2]


@pytest.mark.parametrize("document", ["docs/migration.md", "docs/sinks.md"])
def test_python_blocks_run(
    document: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of the page runs, top to bottom, offline, in a scratch directory."""
    monkeypatch.chdir(tmp_path)  # the examples write their files where they run
    sybil = Sybil(parsers=[PythonCodeBlockParser(), SkipParser()])
    examples = list(sybil.parse(ROOT / document).examples())
    assert len(examples) >= 3
    for example in examples:
        example.evaluate()
