"""REST routes for knowledge items, crawling, uploads and RAG (filled by the ingestion and search work)."""

from fastapi import APIRouter

router = APIRouter(tags=["knowledge"])

# Ingestion: knowledge items, uploads, progress (REST + WebSockets).
from archon.jobs.router import router as _progress_router  # noqa: E402
from archon.knowledge.items_router import router as _items_router  # noqa: E402
from archon.knowledge.upload_router import router as _upload_router  # noqa: E402

router.include_router(_items_router)
router.include_router(_upload_router)
router.include_router(_progress_router)
