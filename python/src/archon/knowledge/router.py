"""REST routes for knowledge items, crawling, uploads and RAG (filled by the ingestion and search work)."""

from fastapi import APIRouter

router = APIRouter(tags=["knowledge"])
