"""Split markdown into blocks (pure): headings, fenced/`<pre>` code, tables and text paragraphs.

Fences are recognised first, so a `# comment` inside a code block never becomes a heading and a
`|` inside code never starts a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["heading", "code", "table", "text"]

_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_PRE_OPEN = re.compile(r"^\s*<pre[\s>]", re.IGNORECASE)
_PRE_CLOSE = re.compile(r"</pre>", re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    start: int  # character offset in the markdown
    level: int = 0  # heading level
    heading: str = ""  # heading text without the #s
    language: str = ""  # code block info string
    fence: str = ""  # the opening fence (``` or ~~~~), "" for <pre>


def _is_table_line(line: str) -> bool:
    return "|" in line and line.strip() != ""


def parse_blocks(markdown: str) -> list[Block]:
    """The markdown's blocks in order; code and tables are never split here."""
    lines = markdown.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        start = offsets[i]
        fence = _FENCE_OPEN.match(line)
        if fence:
            marker = fence.group(2)
            j = i + 1
            while j < n:
                stripped = lines[j].strip()
                if stripped.startswith(marker[0] * len(marker)) and set(stripped) <= {marker[0]}:
                    break
                j += 1
            end = min(j, n - 1)
            blocks.append(Block("code", "\n".join(lines[i:end + 1]), start, language=fence.group(3).lower(),
                                fence=marker))
            i = end + 1
            continue
        if _PRE_OPEN.match(line):
            j = i
            while j < n and not _PRE_CLOSE.search(lines[j]):
                j += 1
            end = min(j, n - 1)
            blocks.append(Block("code", "\n".join(lines[i:end + 1]), start))
            i = end + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            blocks.append(Block("heading", line.strip(), start, level=len(heading.group(1)),
                                heading=heading.group(2).strip()))
            i += 1
            continue
        if _is_table_line(line) and i + 1 < n and _TABLE_SEPARATOR.match(lines[i + 1]) and "-" in lines[i + 1]:
            j = i + 2
            while j < n and _is_table_line(lines[j]):
                j += 1
            blocks.append(Block("table", "\n".join(lines[i:j]), start))
            i = j
            continue
        # A paragraph (or list): consecutive lines up to a blank line or the start of another block.
        j = i + 1
        while j < n and lines[j].strip():
            if _FENCE_OPEN.match(lines[j]) or _HEADING.match(lines[j]) or _PRE_OPEN.match(lines[j]):
                break
            if _is_table_line(lines[j]) and j + 1 < n and _TABLE_SEPARATOR.match(lines[j + 1]) \
                    and "-" in lines[j + 1]:
                break
            if j == i + 1 and _SETEXT.match(lines[j]):
                break
            j += 1
        if j == i + 1 and j < n and _SETEXT.match(lines[j]) and lines[j].strip():
            level = 1 if lines[j].strip().startswith("=") else 2
            text = line.strip()
            blocks.append(Block("heading", f"{'#' * level} {text}", start, level=level, heading=text))
            i = j + 1
            continue
        blocks.append(Block("text", "\n".join(lines[i:j]), start))
        i = j
    return blocks
