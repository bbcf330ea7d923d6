"""Read the API document (openapi/source/*.md): its sections, its fenced
sample blocks and its response-code tables, as `capmock lint` needs them.

Blocks are numbered from 1 within each `## ` section, counting every fence in
document order; fixtures/samples.yaml cites blocks by (section, number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from capmock.openapi.contract import package_text

DOCUMENT = "source/capillary-customer-v1.1.md"
FENCE = "```"
CAPTION = re.compile(r"^\s*#")
CODE_ROW = re.compile(r"^\|\s*([0-9/ ]*?)\s*\|\s*(.+?)\s*\|\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of the document."""

    section: str
    number: int
    language: str
    line: int  # 1-based line of the opening fence
    text: str  # content without fences and without the rendering caption line

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


def default_text() -> str:
    return package_text(DOCUMENT)


def strip_caption(lines: list[str]) -> list[str]:
    """Drop the Slate caption (`# Sample Response`) that opens many blocks."""
    for i, line in enumerate(lines):
        if line.strip():
            return lines[:i] + lines[i + 1 :] if CAPTION.match(line) else lines
    return lines


def blocks(text: str) -> list[Block]:
    """Every fenced block, in document order."""
    out: list[Block] = []
    section, number = "", 0
    opened: tuple[int, str] | None = None  # (line, info string) of the open fence
    body: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if opened is None and line.startswith("## "):
            section, number = line[3:].strip(), 0
        elif line.lstrip().startswith(FENCE):
            if opened is None:
                number += 1
                opened, body = (lineno, line.strip()[3:].strip()), []
            else:
                content = "\n".join(strip_caption(body))
                out.append(Block(section, number, opened[1], opened[0], content))
                opened = None
        elif opened is not None:
            body.append(line)
    return out


def sections(text: str) -> list[str]:
    """Titles of the `## ` sections, in order."""
    return [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]


def code_rows(text: str) -> list[tuple[str, str]]:
    """(code cell, description) of every row of the Response Codes tables.

    A continuation row (empty code cell) keeps the code of the row above, as
    the table means it.
    """
    start = text.index("## Response Codes")
    rows, current = [], ""
    for line in text[start:].splitlines():
        match = CODE_ROW.match(line)
        if not match or set(match[2]) <= set("-| ") or match[1] == "Code":
            continue
        current = match[1].strip() or current
        rows.append((current, match[2].strip()))
    return rows
