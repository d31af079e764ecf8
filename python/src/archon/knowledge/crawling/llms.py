"""llms.txt (a list of links) and llms-full.txt (the docs in one file) parsing (pure)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urldefrag

from archon.knowledge.crawling.urls import resolve_link

_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Section:
    """One H1/H2 section of an llms-full.txt, stored as its own page at `url#slug`."""

    url: str
    title: str
    markdown: str
    order: int


def llms_links(text: str, base_url: str) -> list[str]:
    """Absolute http(s) links of an llms.txt, in order (fragments dropped)."""
    out: list[str] = []
    for match in _LINK.finditer(text):
        absolute = resolve_link(base_url, match.group(2))
        if absolute:
            out.append(urldefrag(absolute)[0])
    return out


def slugify(text: str) -> str:
    """A GitHub-style anchor: lower-case words joined by hyphens."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"[\s_-]+", "-", text) or "section"


def split_sections(text: str, base_url: str) -> list[Section]:
    """Split llms-full.txt at H1 and H2 headings (never inside fenced code); each section is a page."""
    base = urldefrag(base_url)[0]
    sections: list[tuple[str, list[str]]] = []
    title, lines = "", list[str]()
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            if any(part.strip() for part in lines):
                sections.append((title, lines))
            title, lines = heading.group(2).strip(), [line]
        else:
            lines.append(line)
    if any(part.strip() for part in lines):
        sections.append((title, lines))
    out: list[Section] = []
    used: dict[str, int] = {}
    for order, (heading_title, body) in enumerate(sections):
        slug = slugify(heading_title or "introduction")
        count = used.get(slug, 0)
        used[slug] = count + 1
        if count:
            slug = f"{slug}-{count}"
        out.append(Section(url=f"{base}#{slug}", title=heading_title or "Introduction",
                           markdown="\n".join(body).strip(), order=order))
    return out
