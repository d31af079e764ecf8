"""REST adapter of the search service: /api/rag/query, /api/rag/code-examples, /api/rag/sources, /api/pages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from archon.api.deps import RuntimeDep
from archon.knowledge.search import SearchService
from archon.knowledge.search_models import SearchResponse
from archon.knowledge.search_schemas import CodeExamplesRequest, RagQueryRequest

router = APIRouter(tags=["knowledge"])


def _response(response: SearchResponse) -> dict[str, Any]:
    body = asdict(response)
    if not body["notices"]:
        del body["notices"]
    return body


@router.post("/rag/query")
async def rag_query(body: RagQueryRequest, runtime: RuntimeDep) -> dict[str, Any]:
    """Search the knowledge base (hybrid by default); `return_mode: pages` gives one result per page."""
    response = await SearchService(runtime).query(
        body.query, match_count=body.match_count, filters=body.filters(), return_mode=body.return_mode,
        search_mode=body.search_mode, rerank=body.rerank)
    return _response(response)


@router.post("/rag/code-examples")
async def rag_code_examples(body: CodeExamplesRequest, runtime: RuntimeDep) -> dict[str, Any]:
    """Search extracted code examples (code, language, title, summary, url)."""
    response = await SearchService(runtime).code_examples(
        body.query, match_count=body.match_count, filters=body.filters(), search_mode=body.search_mode,
        rerank=body.rerank)
    return _response(response)


@router.get("/rag/sources")
async def rag_sources(runtime: RuntimeDep) -> dict[str, Any]:
    """The sources a search can be filtered on, with counts."""
    sources = await SearchService(runtime).sources()
    return {"success": True, "sources": [asdict(s) for s in sources], "count": len(sources)}


@router.get("/pages/by-url")
async def page_by_url(runtime: RuntimeDep, url: Annotated[str, Query(min_length=1, max_length=4096)],
                      source_id: str | None = None,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """A stored page's markdown by URL (capped at ARCHON_MAX_PAGE_CHARS; `offset` pages through the rest)."""
    page = await SearchService(runtime).get_page_by_url(url, source_id=source_id, offset=offset)
    return {"success": True, "page": asdict(page)}


@router.get("/pages/{page_id}")
async def page_by_id(page_id: Annotated[int, Path(ge=1, le=2**63 - 1)], runtime: RuntimeDep,
                     offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """A stored page's markdown by id (capped at ARCHON_MAX_PAGE_CHARS; `offset` pages through the rest)."""
    page = await SearchService(runtime).get_page(page_id, offset=offset)
    return {"success": True, "page": asdict(page)}
