"""REST routes for crawling: start a crawl, refresh a web source."""

from __future__ import annotations

from fastapi import APIRouter

from archon.api.deps import RuntimeDep
from archon.knowledge.crawling.schemas import CrawlRequest, CrawlStarted
from archon.knowledge.crawling.service import CrawlService

router = APIRouter(tags=["knowledge"])


@router.post("/knowledge-items/crawl", response_model=CrawlStarted)
async def start_crawl(request: CrawlRequest, runtime: RuntimeDep) -> CrawlStarted:
    """Start crawling a documentation site; returns at once with the progressId to follow."""
    return await CrawlService(runtime).start_crawl(request)


@router.post("/knowledge-items/{source_id}/refresh", response_model=CrawlStarted)
async def refresh_source(source_id: str, runtime: RuntimeDep) -> CrawlStarted:
    """Re-crawl a web source with its stored options; only changed pages are re-embedded."""
    return await CrawlService(runtime).refresh(source_id)
