"""Fenced code blocks of a Markdown file, with the `<!-- not run: why -->` marker that may precede one."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", flags=re.M | re.S)


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    skip_reason: str | None


def code_blocks(text: str, lang: str = "bash") -> list[Block]:
    """The `lang` blocks of `text` in order; `skip_reason` is set when a not-run marker precedes one."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match["lang"] != lang:
            continue
        before = text[: match.start()].rstrip().splitlines()
        marker = re.match(r"<!--\s*not run:\s*(.*?)\s*-->", before[-1]) if before else None
        blocks.append(Block(match["lang"], match["body"], marker.group(1) if marker else None))
    return blocks
