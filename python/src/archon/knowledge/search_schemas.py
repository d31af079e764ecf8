"""Request bodies of the search endpoints (pydantic: the router validates, the service re-checks)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from archon.knowledge.search_models import MAX_MATCH_COUNT, MAX_QUERY_CHARS, SearchFilters


class _SearchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    query: str = Field(..., max_length=MAX_QUERY_CHARS, description="What to look for, in plain words or code.")
    match_count: int = Field(5, ge=1, le=MAX_MATCH_COUNT, validation_alias=AliasChoices("match_count", "limit"),
                             description="How many results (alias: limit).")
    source_id: str | None = Field(None, validation_alias=AliasChoices("source_id", "source"),
                                  description="Only this source (alias: source).")
    source_ids: list[str] | None = Field(None, max_length=100, description="Only these sources.")
    knowledge_type: Literal["technical", "business", "general"] | None = None
    tags: list[str] | None = Field(None, max_length=50, description="Sources with any of these tags.")
    project_id: UUID | None = Field(None, description="Only the sources linked to this project.")
    search_mode: Literal["hybrid", "vector", "keyword"] | None = Field(
        None, description="Default: hybrid, or vector when use_hybrid_search is off in the settings.")
    rerank: bool | None = Field(None, description="Rerank with the configured cross-encoder (if any).")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    def filters(self) -> SearchFilters:
        ids = tuple(dict.fromkeys([*([self.source_id] if self.source_id else []), *(self.source_ids or [])]))
        return SearchFilters(source_ids=ids, knowledge_type=self.knowledge_type, tags=tuple(self.tags or ()),
                             project_id=str(self.project_id) if self.project_id else None)


class RagQueryRequest(_SearchRequest):
    return_mode: Literal["chunks", "pages"] = "chunks"


class CodeExamplesRequest(_SearchRequest):
    pass
