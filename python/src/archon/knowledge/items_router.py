"""REST for knowledge items (sources) and their pages, chunks and code examples."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from archon.api.deps import RuntimeDep
from archon.knowledge.service import MAX_PER_PAGE, KnowledgeService, Page, SourceView

router = APIRouter(tags=["knowledge"])

PageNo = Annotated[int, Query(ge=1, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="items per page")]


class SourceUpdate(BaseModel):
    """Editable fields; omitted fields stay as they are, `update_frequency_days: null` turns refresh off."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=500)
    tags: list[str] | None = Field(None, max_length=10)
    knowledge_type: str | None = None
    update_frequency_days: int | None = Field(None, ge=1, le=3650)


def source_json(source: SourceView) -> dict[str, Any]:
    """A source as the API shows it (the seed's knowledge item fields plus a few more)."""
    data = asdict(source)
    for key in ("last_indexed_at", "next_refresh_at", "created_at", "updated_at"):
        value = data[key]
        data[key] = value.isoformat() if value is not None else None
    return data


def _page_json(page: Page[Any], items: list[Any]) -> dict[str, Any]:
    return {"items": items, "total": page.total, "page": page.page, "per_page": page.per_page}


def _rows_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for row in rows]


@router.get("/knowledge-items")
async def list_knowledge_items(
    runtime: RuntimeDep, page: PageNo = 1, per_page: PerPage = 20,
    knowledge_type: Annotated[str | None, Query(description="technical, business or general")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=200, description="text in title, URL or summary")] = None,
    text: Annotated[str | None, Query(max_length=200, description="alias of search")] = None,
) -> dict[str, Any]:
    """Knowledge items, newest first, with page/chunk/code-example counts."""
    result = await KnowledgeService(runtime).list_sources(page, per_page, knowledge_type, tag, search or text)
    return _page_json(result, [source_json(s) for s in result.items])


@router.get("/knowledge-items/{source_id}")
async def get_knowledge_item(source_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """One knowledge item; 404 if unknown."""
    return source_json(await KnowledgeService(runtime).get_source(source_id))


@router.put("/knowledge-items/{source_id}")
async def update_knowledge_item(source_id: str, body: SourceUpdate, runtime: RuntimeDep) -> dict[str, Any]:
    """Edit title, tags, knowledge_type or update_frequency_days."""
    source = await KnowledgeService(runtime).update_source(
        source_id, title=body.title, tags=body.tags, knowledge_type=body.knowledge_type,
        update_frequency_days=body.update_frequency_days,
        clear_update_frequency="update_frequency_days" in body.model_fields_set and body.update_frequency_days is None)
    return source_json(source)


@router.delete("/knowledge-items/{source_id}")
async def delete_knowledge_item(source_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """Delete the item with its pages, chunks, code examples and vectors (in batches)."""
    await KnowledgeService(runtime).delete_source(source_id)
    return {"success": True, "source_id": source_id}


@router.get("/knowledge-items/{source_id}/pages")
async def list_pages(source_id: str, runtime: RuntimeDep, page: PageNo = 1, per_page: PerPage = 20) -> dict[str, Any]:
    """The item's pages (URL, title, word and chunk counts), in document order."""
    result = await KnowledgeService(runtime).list_pages(source_id, page, per_page)
    return _page_json(result, _rows_json(result.items))


@router.get("/knowledge-items/{source_id}/chunks")
async def list_chunks(source_id: str, runtime: RuntimeDep, page: PageNo = 1, per_page: PerPage = 20) -> dict[str, Any]:
    """The item's chunks with heading path, page URL and position."""
    result = await KnowledgeService(runtime).list_chunks(source_id, page, per_page)
    return _page_json(result, _rows_json(result.items))


@router.get("/knowledge-items/{source_id}/code-examples")
async def list_code_examples(source_id: str, runtime: RuntimeDep, page: PageNo = 1,
                             per_page: PerPage = 20) -> dict[str, Any]:
    """The item's code examples with language, title, summary and context."""
    result = await KnowledgeService(runtime).list_code_examples(source_id, page, per_page)
    return _page_json(result, _rows_json(result.items))
