"""Knowledge sources: create, read, edit, delete, and page through their pages, chunks and code examples."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from archon.errors import Invalid, NotFound
from archon.jobs.events import SOURCE_ADDED, SOURCE_DELETED, SOURCE_UPDATED, notify_knowledge
from archon.jobs.service import JobService
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.sources_repository import SourcesRepository

if TYPE_CHECKING:
    from archon.runtime import Runtime

KNOWLEDGE_TYPES = ("technical", "business", "general")
SOURCE_TYPES = ("url", "file", "folder", "git", "pack")
SOURCE_STATUSES = ("pending", "processing", "ready", "error", "cancelled")
MAX_TAGS = 10
MAX_TAG_LENGTH = 64
MAX_TITLE_LENGTH = 500
MAX_PER_PAGE = 100

T = TypeVar("T")


def source_id_for_url(canonical_url: str) -> str:
    """`src_` + 16 hex of sha256(canonical URL): the same site always maps to the same source."""
    return "src_" + hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


def new_file_source_id() -> str:
    """`file_` + 8 hex: every upload is its own source."""
    return "file_" + uuid.uuid4().hex[:8]


def validate_knowledge_type(value: str, field_name: str = "knowledge_type") -> str:
    if value not in KNOWLEDGE_TYPES:
        raise Invalid(f"{field_name} must be one of {', '.join(KNOWLEDGE_TYPES)}",
                      detail=[{"field": field_name, "message": f"got {value!r}"}])
    return value


def validate_tags(tags: list[str], field_name: str = "tags") -> list[str]:
    """Trimmed, de-duplicated tags; at most 10, each 1-64 characters."""
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise Invalid(f"{field_name} must be a list of strings",
                          detail=[{"field": field_name, "message": "not a string"}])
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise Invalid(f"each of {field_name} must be 1-{MAX_TAG_LENGTH} characters",
                          detail=[{"field": field_name, "message": f"bad tag {tag[:80]!r}"}])
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} {field_name} are allowed",
                      detail=[{"field": field_name, "message": f"got {len(cleaned)}"}])
    return cleaned


def _validate_frequency(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= 3650:
        raise Invalid("update_frequency_days must be between 1 and 3650",
                      detail=[{"field": "update_frequency_days", "message": f"got {days}"}])
    return days


def _paging(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise Invalid("page must be >= 1", detail=[{"field": "page", "message": f"got {page}"}])
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid(f"per_page must be between 1 and {MAX_PER_PAGE}",
                      detail=[{"field": "per_page", "message": f"got {per_page}"}])
    return (page - 1) * per_page, per_page


@dataclass(frozen=True)
class SourceView:
    source_id: str
    source_type: str
    url: str | None
    title: str
    summary: str
    knowledge_type: str
    tags: list[str]
    config: dict[str, Any]
    update_frequency_days: int | None
    status: str
    error: str | None
    last_indexed_at: datetime | None
    next_refresh_at: datetime | None
    created_at: datetime
    updated_at: datetime
    page_count: int
    chunk_count: int
    code_example_count: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SourceView:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    page: int
    per_page: int
    extra: dict[str, Any] = field(default_factory=dict)


class KnowledgeService:
    """Sources and their content; the only entry point routers, MCP tools, jobs and the CLI use."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.sources = SourcesRepository(runtime.db)
        self.repository = KnowledgeRepository(runtime.db)

    async def create_source(self, *, source_id: str, source_type: str, url: str | None, title: str = "",
                            knowledge_type: str = "technical", tags: list[str] | None = None,
                            config: dict[str, Any] | None = None,
                            update_frequency_days: int | None = None) -> SourceView:
        """Create the source, or update its settings if the id exists (idempotent for retried jobs)."""
        if source_type not in SOURCE_TYPES:
            raise Invalid(f"source_type must be one of {', '.join(SOURCE_TYPES)}")
        validate_knowledge_type(knowledge_type)
        inserted = await self.sources.upsert(
            source_id=source_id, source_type=source_type, url=url, title=title[:MAX_TITLE_LENGTH],
            knowledge_type=knowledge_type, tags=validate_tags(tags or []), config=config or {},
            update_frequency_days=_validate_frequency(update_frequency_days))
        await self._publish(SOURCE_ADDED if inserted else SOURCE_UPDATED, source_id)
        return await self.get_source(source_id)

    async def get_source(self, source_id: str) -> SourceView:
        """One source with its page, chunk and code-example counts; NotFound if absent."""
        row = await self.sources.get(source_id)
        if row is None:
            raise NotFound(f"no knowledge item with source_id {source_id!r}")
        return SourceView.from_row(row)

    async def list_sources(self, page: int = 1, per_page: int = 20, knowledge_type: str | None = None,
                           tag: str | None = None, text: str | None = None) -> Page[SourceView]:
        """Sources, newest first, filtered by knowledge type, tag and free text (title, URL, summary)."""
        offset, limit = _paging(page, per_page)
        knowledge_type = knowledge_type or None  # an empty filter (?knowledge_type=) means no filter
        if knowledge_type is not None:
            validate_knowledge_type(knowledge_type)
        rows, total = await self.sources.list_sources(offset=offset, limit=limit, knowledge_type=knowledge_type,
                                              tag=tag or None, text=(text or "").strip() or None)
        return Page([SourceView.from_row(r) for r in rows], total, page, per_page)

    async def update_source(self, source_id: str, *, title: str | None = None, tags: list[str] | None = None,
                            knowledge_type: str | None = None, update_frequency_days: int | None = None,
                            clear_update_frequency: bool = False) -> SourceView:
        """Edit title, tags, knowledge type or refresh frequency; fields left as None are unchanged."""
        changes: dict[str, Any] = {}
        if title is not None:
            title = title.strip()
            if not title or len(title) > MAX_TITLE_LENGTH:
                raise Invalid(f"title must be 1-{MAX_TITLE_LENGTH} characters",
                              detail=[{"field": "title", "message": "empty or too long"}])
            changes["title"] = title
        if tags is not None:
            changes["tags"] = validate_tags(tags)
        if knowledge_type is not None:
            changes["knowledge_type"] = validate_knowledge_type(knowledge_type)
        if update_frequency_days is not None or clear_update_frequency:
            changes["update_frequency_days"] = _validate_frequency(update_frequency_days)
        if not await self.sources.update(source_id, changes):
            raise NotFound(f"no knowledge item with source_id {source_id!r}")
        await self._publish(SOURCE_UPDATED, source_id)
        return await self.get_source(source_id)

    async def delete_source(self, source_id: str) -> None:
        """Stop the source's running jobs, then delete it in batches (large sources never time out)."""
        await self.get_source(source_id)
        jobs = JobService(self.db)
        for job in await jobs.list_active():
            if job.source_id == source_id or source_id in job.params.get("source_ids", []):
                await jobs.request_cancel(job.id)
        if not await self.repository.delete_source(source_id):
            raise NotFound(f"no knowledge item with source_id {source_id!r}")
        await self._publish(SOURCE_DELETED, source_id)

    async def set_status(self, source_id: str, status: str, error: str | None = None,
                         last_indexed_at: datetime | Literal["now"] | None = None) -> None:
        """Record the source's state; pass last_indexed_at ("now" or a time) when content was (re)indexed.

        Setting last_indexed_at also moves next_refresh_at to last_indexed_at + update_frequency_days.
        """
        if status not in SOURCE_STATUSES:
            raise Invalid(f"status must be one of {', '.join(SOURCE_STATUSES)}")
        touch = last_indexed_at is not None
        at = last_indexed_at if isinstance(last_indexed_at, datetime) else None
        if not await self.sources.set_status(source_id, status, error=error, last_indexed_at=at,
                                             touch_indexed=touch):
            raise NotFound(f"no knowledge item with source_id {source_id!r}")
        await self._publish(SOURCE_UPDATED, source_id, status=status)

    async def list_pages(self, source_id: str, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """The source's pages (without their markdown), in document order."""
        return await self._listing(self.sources.pages, source_id, page, per_page)

    async def list_chunks(self, source_id: str, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """The source's chunks with heading path, page URL and position."""
        return await self._listing(self.sources.chunks, source_id, page, per_page)

    async def list_code_examples(self, source_id: str, page: int = 1,
                                 per_page: int = 20) -> Page[dict[str, Any]]:
        """The source's code examples with language, title and context."""
        return await self._listing(self.sources.code_examples, source_id, page, per_page)

    async def _listing(self, fetch: Any, source_id: str, page: int, per_page: int) -> Page[dict[str, Any]]:
        offset, limit = _paging(page, per_page)
        await self.get_source(source_id)
        rows, total = await fetch(source_id, offset, limit)
        return Page(rows, total, page, per_page)

    async def _publish(self, event: str, source_id: str, **data: Any) -> None:
        async with self.db.connection() as conn:
            await notify_knowledge(conn, event, sourceId=source_id, **data)
