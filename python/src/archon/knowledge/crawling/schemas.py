"""The crawl request: what a client may ask for, validated with field-named errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# folder and git are local sources (archon.knowledge.local): url is a server-side path or a repository URL.
CrawlType = Literal["auto", "single", "sitemap", "llms_txt", "recursive", "folder", "git"]
RenderMode = Literal["auto", "http", "browser"]
KnowledgeType = Literal["technical", "business", "general"]

MAX_PATTERNS = 50


class CrawlRequest(BaseModel):
    """Body of POST /api/knowledge-items/crawl (and the options of `archon crawl`)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., min_length=1, max_length=2048, description="The documentation URL to crawl.")
    knowledge_type: KnowledgeType = "technical"
    tags: list[str] = Field(default_factory=list, max_length=10)
    crawl_type: CrawlType = "auto"
    max_depth: int = Field(2, ge=0, le=10, description="Link depth for recursive crawls (0 = the seed only).")
    max_pages: int = Field(500, ge=1, le=100_000)
    include_patterns: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS)
    exclude_patterns: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS)
    same_path_prefix: bool = Field(False, description="Only follow links under the seed URL's directory.")
    respect_robots: bool | None = Field(None, description="Honour robots.txt (default: the respect_robots setting).")
    render: RenderMode | None = Field(None, description="auto, http or browser (default: the default_render_mode "
                                                        "setting).")
    update_frequency_days: int | None = Field(None, ge=1, le=3650)
    extract_code_examples: bool = True

    @field_validator("url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for tag in value:
            tag = tag.strip()
            if not tag or len(tag) > 64:
                raise ValueError("each tag must be 1-64 characters")
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned

    @field_validator("include_patterns", "exclude_patterns")
    @classmethod
    def _clean_patterns(cls, value: list[str]) -> list[str]:
        out = [p.strip() for p in value if p.strip()]
        if any(len(p) > 500 for p in out):
            raise ValueError("patterns must be at most 500 characters")
        return out


class CrawlStarted(BaseModel):
    """Answer of a crawl or refresh request: the id to follow progress with."""

    progressId: str
    sourceId: str
