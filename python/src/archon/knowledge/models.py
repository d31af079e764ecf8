"""Plain data passed between the ingestion steps and the knowledge repository (IO-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EmbeddingModel:
    id: int
    provider: str
    model: str
    dimensions: int

    @property
    def uses_halfvec(self) -> bool:
        """pgvector's HNSW indexes `vector` up to 2000 dimensions; larger models are stored as halfvec."""
        return self.dimensions > 2000

    @property
    def column(self) -> str:
        return "embedding_half" if self.uses_halfvec else "embedding"

    @property
    def sql_type(self) -> str:
        return f"halfvec({self.dimensions})" if self.uses_halfvec else f"vector({self.dimensions})"


@dataclass
class ChunkInput:
    content: str
    headings: list[str] = field(default_factory=list)
    token_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


@dataclass
class CodeExampleInput:
    position: int
    code: str
    language: str = ""
    title: str = ""
    summary: str = ""
    context: str = ""


@dataclass
class PageInput:
    """One page with everything derived from it; stored (or replaced) atomically."""

    url: str
    markdown: str
    content_hash: str
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    section_order: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    chunks: list[ChunkInput] = field(default_factory=list)
    code_examples: list[CodeExampleInput] = field(default_factory=list)

    @property
    def word_count(self) -> int:
        return len(self.markdown.split())
