"""The docs' provider table is the registry's: README.md shows what the built-ins declare."""

from __future__ import annotations

import pathlib

import backscroll
from backscroll._registry import provider_table

ROOT = pathlib.Path(__file__).parent.parent


def test_the_readme_provider_table_is_rendered_from_the_registry() -> None:
    """Each built-in vendor's row in README.md is what its Vendor declaration renders."""
    built_in = {
        name: vendor
        for name, vendor in backscroll.vendors().items()
        if vendor.distribution == "backscroll"
    }
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert list(built_in) == ["convai", "talkifai", "cursor"]
    assert provider_table(built_in) in readme
