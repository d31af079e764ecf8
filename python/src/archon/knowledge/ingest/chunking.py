"""Markdown-aware chunking sized for the embedding model's window (pure).

Rules: a heading starts a new chunk (a tiny chunk may absorb a deeper sub-heading); fenced code and
tables are never cut (only one larger than `hard_limit` is split at line/row boundaries, each part
re-fenced or given the table header again, so every part is still valid markdown); long prose is split
at sentences with a small overlap. Every chunk carries its heading path (page title first) and position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from archon.knowledge.ingest.blocks import Block, parse_blocks

_WORDISH = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """Approximate WordPiece tokens (all-MiniLM's tokenizer): long or rare words split into pieces."""
    total = 0
    for match in _WORDISH.finditer(text):
        piece = match.group(0)
        if piece[0].isalpha():
            total += 1 + (len(piece) - 1) // 7 if len(piece) > 4 else 1
        elif piece[0].isdigit():
            total += math.ceil(len(piece) / 3)
        else:
            total += 1
    return total


@dataclass
class Chunk:
    content: str
    headings: list[str]
    index: int
    start: int
    end: int
    token_count: int
    kinds: list[str] = field(default_factory=list)

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


@dataclass
class _Buffer:
    headings: list[str]
    level: int
    parts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0
    tokens: int = 0

    def add(self, text: str, kind: str, start: int, tokens: int) -> None:
        if not self.parts:
            self.start = start
        self.parts.append(text)
        self.kinds.append(kind)
        self.end = start + len(text)
        self.tokens += tokens


def _split_words(text: str, limit: int, count: TokenCounter) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for word in text.split():
        if current and count(" ".join([*current, word])) > limit:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def split_sentences(text: str) -> list[str]:
    """Sentences (or clauses ending in ; and :) of a paragraph; list items stay on their own lines."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(s for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _split_text(text: str, limit: int, count: TokenCounter) -> list[str]:
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if count(sentence) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_split_words(sentence, limit, count))
            continue
        candidate = f"{current} {sentence}".strip() if current else sentence
        if current and count(candidate) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _split_lines(header: list[str], body: list[str], footer: list[str], limit: int,
                 count: TokenCounter) -> list[str]:
    """Group `body` lines into parts under `limit`, each wrapped in `header`/`footer` lines."""
    parts: list[str] = []
    current: list[str] = []
    overhead = count("\n".join(header + footer))
    used = overhead
    for line in body:
        cost = count(line) + 1
        if current and used + cost > limit:
            parts.append("\n".join(header + current + footer))
            current, used = [], overhead
        current.append(line)
        used += cost
    if current or not parts:
        parts.append("\n".join(header + current + footer))
    return parts


def split_block(block: Block, limit: int, count: TokenCounter) -> list[str]:
    """Split one oversized block into valid markdown parts (fences reopened, table header repeated)."""
    lines = block.text.split("\n")
    if block.kind == "code" and block.fence and len(lines) >= 2:
        closed = lines[-1].strip().startswith(block.fence[0] * 3)
        body = lines[1:-1] if closed else lines[1:]
        return _split_lines([lines[0]], body, [block.fence], limit, count)
    if block.kind == "table" and len(lines) > 2:
        return _split_lines(lines[:2], lines[2:], [], limit, count)
    if block.kind == "code":  # <pre> blocks: split by lines without re-wrapping
        return _split_lines([], lines, [], limit, count)
    return _split_text(block.text, limit, count)


def _overlap_tail(text: str, budget: int, count: TokenCounter) -> str:
    """The last sentences of `text` that fit in `budget` tokens (carried into the next chunk)."""
    if budget <= 0:
        return ""
    tail: list[str] = []
    for sentence in reversed(split_sentences(text)):
        if count(" ".join([sentence, *tail])) > budget:
            break
        tail.insert(0, sentence)
    return " ".join(tail)


def chunk_markdown(markdown: str, *, title: str = "", target_tokens: int = 200, overlap_tokens: int = 30,
                   hard_limit: int | None = None, min_tokens: int = 48,
                   count: TokenCounter = estimate_tokens) -> list[Chunk]:
    """Chunks of about `target_tokens` (heading path included), split at headings, code and tables whole.

    `hard_limit` (default 2 x target) is the size above which a code block or table is split.
    """
    hard = hard_limit or target_tokens * 2
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    base = [title.strip()] if title.strip() else []

    def path() -> list[str]:
        names = [name for _, name in stack]
        if base and names and names[0].casefold() == base[0].casefold():
            names = names[1:]  # the page's own H1 repeats its title
        return base + names

    buffer = _Buffer(path(), 0)

    def has_body() -> bool:
        return any(kind != "heading" for kind in buffer.kinds)

    def flush() -> None:
        nonlocal buffer
        content = "\n\n".join(buffer.parts).strip()
        if content:
            chunks.append(Chunk(content, buffer.headings, len(chunks), buffer.start, buffer.end,
                                count(content), list(buffer.kinds)))
        buffer = _Buffer(path(), buffer.level)

    def budget() -> int:
        return target_tokens - count(" > ".join(buffer.headings))

    for block in parse_blocks(markdown):
        if block.kind == "heading":
            # A tiny chunk absorbs a deeper sub-heading instead of becoming a fragment.
            absorb = has_body() and buffer.tokens < min_tokens and block.level > buffer.level
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.heading))
            if not absorb:
                if has_body():
                    flush()
                buffer.headings, buffer.level = path(), block.level  # headings-only buffers take the deeper path
            buffer.add(block.text, "heading", block.start, count(block.text))
            continue
        tokens = count(block.text)
        limit = budget()
        if tokens > (hard if block.kind in ("code", "table") else limit):
            if has_body():
                flush()
            parts = split_block(block, limit if block.kind == "text" else min(limit, hard), count)
            for k, part in enumerate(parts):
                if k > 0:
                    flush()
                buffer.add(part, block.kind, block.start, count(part))
            if block.kind != "text":
                flush()
            continue
        if has_body() and buffer.tokens + tokens > limit:
            previous = buffer.parts[-1] if buffer.kinds[-1] == "text" else ""
            flush()
            tail = _overlap_tail(previous, min(overlap_tokens, limit - tokens), count) if previous else ""
            if tail:
                buffer.add(tail, "overlap", block.start, count(tail))
        buffer.add(block.text, block.kind, block.start, tokens)
    flush()
    return chunks
