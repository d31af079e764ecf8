"""The Python 3.11 docs (Debian `python3-doc`) as markdown pages and heading-based chunks, for benchmarks.

The converter is deliberately simple (Sphinx HTML is regular): headings, paragraphs, list items,
API signatures (`dl.py > dt`), code blocks and tables. The chunker splits at headings and packs
blocks up to ~180 words, the window all-MiniLM-L6-v2 actually reads (256 word pieces).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

DOCS_ROOT = Path("/usr/share/doc/python3.11-doc/html")
BASE_URL = "https://docs.python.org/3.11/"
# The parts a developer searches: the library reference, language reference, tutorial, HOWTOs, FAQ,
# glossary and setup guides (the C API, distutils and release notes are left out to bound embedding time).
INCLUDE = re.compile(r"^(library|reference|tutorial|howto|faq|using)/|^glossary\.html$")
MAX_WORDS = 180
MIN_WORDS = 30


@dataclass
class Block:
    kind: str  # heading | text | signature | code
    text: str
    level: int = 0


@dataclass
class Chunk:
    content: str
    headings: list[str]


@dataclass
class Page:
    path: str  # relative to DOCS_ROOT, e.g. library/asyncio-task.html
    url: str
    title: str
    markdown: str
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.markdown.encode()).hexdigest()


def _text(node: Tag | NavigableString) -> str:
    if isinstance(node, NavigableString):
        return str(node)
    for link in node.select("a.headerlink"):
        link.decompose()
    return re.sub(r"\s+", " ", node.get_text("")).strip()


def _blocks(node: Tag) -> Iterator[Block]:
    for child in node.children:
        if isinstance(child, NavigableString):
            text = str(child).strip()
            if text:
                yield Block("text", text)
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            yield Block("heading", _text(child), int(name[1]))
        elif name == "pre":
            yield Block("code", child.get_text())
        elif name in ("p", "li", "dt", "caption", "th", "td") and not child.find(["pre", "p", "ul", "ol", "dl", "div"]):
            text = _text(child)
            if text:
                if name == "dt" and "sig" in (child.get("class") or []):
                    yield Block("signature", f"`{text}`")
                else:
                    yield Block("text", text)
        elif name == "table":
            for row in child.find_all("tr"):
                cells = [_text(c) for c in row.find_all(["td", "th"])]
                if any(cells):
                    yield Block("text", " | ".join(cells))
        elif name in ("script", "style", "nav"):
            continue
        else:
            yield from _blocks(child)


def _markdown(blocks: list[Block]) -> str:
    parts = []
    for b in blocks:
        if b.kind == "heading":
            parts.append("#" * b.level + " " + b.text)
        elif b.kind == "code":
            parts.append("```\n" + b.text.rstrip() + "\n```")
        else:
            parts.append(b.text)
    return "\n\n".join(parts) + "\n"


def _chunks(blocks: list[Block]) -> list[Chunk]:
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    buf: list[str] = []
    words = 0

    def flush() -> None:
        nonlocal buf, words
        if buf:
            chunks.append(Chunk("\n\n".join(buf), [h for _, h in stack]))
        buf, words = [], 0

    for b in blocks:
        if b.kind == "heading":
            flush()
            stack = [(lvl, h) for lvl, h in stack if lvl < b.level] + [(b.level, b.text)]
            continue
        text = "```\n" + b.text.rstrip() + "\n```" if b.kind == "code" else b.text
        n = len(text.split())
        # An API entry (signature) starts a new chunk unless the current one is still tiny.
        if words and (words + n > MAX_WORDS or (b.kind == "signature" and words >= 60)):
            flush()
        buf.append(text)
        words += n
        if words > MAX_WORDS * 2:  # one huge block (a long table or listing): keep it whole but alone
            flush()
    flush()
    # Merge a tiny tail into its predecessor under the same headings: lone 5-word chunks rank oddly.
    merged: list[Chunk] = []
    for c in chunks:
        if merged and merged[-1].headings == c.headings and len(c.content.split()) < MIN_WORDS:
            merged[-1].content += "\n\n" + c.content
        else:
            merged.append(c)
    return merged


def load_page(path: Path, root: Path = DOCS_ROOT) -> Page | None:
    """One docs page as markdown and chunks, or None when it has no main content."""
    soup = BeautifulSoup(path.read_bytes(), "lxml")
    body = soup.select_one('div[role="main"]') or soup.select_one("div.body")
    if body is None:
        return None
    blocks = list(_blocks(body))
    title_tag = soup.find("title")
    title = _text(title_tag).split(" — Python")[0] if title_tag else path.stem
    rel = str(path.relative_to(root))
    return Page(rel, BASE_URL + rel, title, _markdown(blocks), _chunks(blocks))


def iter_pages(root: Path = DOCS_ROOT) -> Iterator[Page]:
    """Every content page of the docs, in a stable order."""
    for path in sorted(root.rglob("*.html")):
        rel = str(path.relative_to(root))
        if not INCLUDE.match(rel):
            continue
        page = load_page(path, root)
        if page is not None and page.chunks:
            yield page


def embed_text(chunk: Chunk) -> str:
    """What gets embedded: the heading path gives a short chunk its context."""
    return " > ".join(chunk.headings) + "\n\n" + chunk.content
