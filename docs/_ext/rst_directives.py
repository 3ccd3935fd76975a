"""
A griffe extension: the few reST constructs in backscroll's docstrings, as Markdown.

The docstrings follow the stamina/httpx family (``.. versionadded::``, ``.. code-block::``,
literal blocks after ``::``, simple tables framed by ``===  ===``), while the site is built
by mkdocstrings, which reads docstrings as Markdown. Rewriting them here keeps the source
in the family's style and the rendered pages clean.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_VERSION = re.compile(r"^(?P<indent>\s*)\.\. version(?P<kind>added|changed)::\s*(?P<rest>.*)$")
_CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<lang>\S*)\s*$")
_BORDER = re.compile(r"^\s*=+(?: +=+)+\s*$")
_WORDS = {"added": "Added", "changed": "Changed"}


def to_markdown(text: str) -> str:
    """Rewrite version directives, code-block directives and ``::`` literal blocks."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        version = _VERSION.match(line)
        code = _CODE_BLOCK.match(line)
        if _BORDER.match(line):
            table, i = _simple_table(lines, i)
            out.extend(table)
        elif version:
            version_number, _, note = version["rest"].partition(" ")
            said = f" {note.strip()}" if note.strip() else ""
            kind = _WORDS[version["kind"]]
            out.append(f"{version['indent']}*{kind} in version {version_number}.*{said}")
            i += 1
        elif code or line.rstrip().endswith("::"):
            if code:
                indent, lang = code["indent"], code["lang"] or "python"
            else:
                indent, lang = line[: len(line) - len(line.lstrip())], "text"
                lead = line.rstrip()[:-2].rstrip()
                if lead:
                    out.append(lead + ":")
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or _deeper(lines[i], indent)):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            body = textwrap.dedent("\n".join(block)).strip("\n")
            out.extend(["", f"{indent}```{lang}", *_indent(body, indent), f"{indent}```", ""])
        else:
            out.append(line)
            i += 1
    return "\n".join(out)


def _simple_table(lines: list[str], start: int) -> tuple[list[str], int]:
    """
    A reST simple table (border, header, border, rows, border) as a Markdown table.

    A row whose first cell is blank continues the row above, as in reST.
    """
    border = lines[start]
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
    indent = border[: len(border) - len(border.lstrip())]
    rows: list[list[str]] = []
    borders = 1
    i = start + 1
    while i < len(lines) and borders < 3:  # noqa: PLR2004 - a table has three borders
        line = lines[i]
        i += 1
        if _BORDER.match(line):
            borders += 1
            continue
        cells = [
            _cell(line, begin, end, last=n == len(spans) - 1)
            for n, (begin, end) in enumerate(spans)
        ]
        if rows and not cells[0] and borders == 2:  # noqa: PLR2004
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    header, *body = rows
    markdown = [_row(header), _row(["---"] * len(spans)), *(_row(row) for row in body)]
    return ["", *(indent + row for row in markdown), ""], i


def _cell(line: str, begin: int, end: int, *, last: bool) -> str:
    return line[begin:] if last else line[begin:end].strip()


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.strip().replace("|", "\\|") for cell in cells) + " |"


def _deeper(line: str, indent: str) -> bool:
    return len(line) - len(line.lstrip()) > len(indent)


def _indent(body: str, indent: str) -> list[str]:
    return [indent + line if line else "" for line in body.splitlines()]


class ReSTDirectives(griffe.Extension):
    """Convert each object's docstring as soon as griffe creates the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite *obj*'s docstring in place."""
        del kwargs
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
