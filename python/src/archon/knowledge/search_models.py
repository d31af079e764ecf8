"""Plain data of the search service: filters, requests and results (IO-free, framework-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from archon.knowledge.fusion import MatchType

SearchMode = Literal["hybrid", "vector", "keyword"]
ReturnMode = Literal["chunks", "pages"]
SEARCH_MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")
RETURN_MODES: tuple[str, ...] = ("chunks", "pages")
MAX_QUERY_CHARS = 1000
MAX_MATCH_COUNT = 50


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to sources; every given filter must hold (tags: any of them)."""

    source_ids: tuple[str, ...] = ()
    knowledge_type: str | None = None
    tags: tuple[str, ...] = ()
    project_id: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.source_ids or self.knowledge_type or self.tags or self.project_id)


@dataclass
class SearchResult:
    chunk_id: int
    page_id: int
    source_id: str
    url: str
    title: str
    headings: list[str]
    content: str
    score: float
    match_type: MatchType
    indexed_at: datetime | None
    chunk_matches: int = 1  # pages mode: how many of the page's chunks matched


@dataclass
class CodeExampleResult:
    id: int
    page_id: int
    source_id: str
    url: str
    title: str
    summary: str
    code: str
    language: str
    score: float
    match_type: MatchType
    indexed_at: datetime | None


@dataclass
class SearchResponse:
    results: list[Any]
    search_mode: SearchMode
    return_mode: ReturnMode
    reranked: bool
    took_ms: float
    notices: list[str] = field(default_factory=list)


@dataclass
class PageContent:
    id: int
    source_id: str
    url: str
    title: str
    content: str
    word_count: int
    total_chars: int
    offset: int
    next_offset: int | None
    truncated: bool
    message: str | None
    indexed_at: datetime | None


@dataclass
class SourceSummary:
    source_id: str
    title: str
    url: str | None
    source_type: str
    knowledge_type: str
    tags: list[str]
    status: str
    page_count: int
    chunk_count: int
    code_example_count: int
    last_indexed_at: datetime | None
