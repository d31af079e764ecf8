"""Builds the configured embedder."""

from __future__ import annotations

from archon.config import Settings
from archon.knowledge.embeddings.base import Embedder, EmbeddingError


def create_embedder(settings: Settings) -> Embedder:
    """The embedder selected by EMBEDDING_PROVIDER / EMBEDDING_MODEL / EMBEDDING_DIMENSIONS."""
    if settings.embedding_provider == "local":
        from archon.knowledge.embeddings.local import LocalEmbedder

        return LocalEmbedder(settings.embedding_model, settings.embedding_dimensions or 384)
    if settings.embedding_provider == "hash":
        from archon.knowledge.embeddings.hashing import HashingEmbedder

        model = settings.embedding_model if settings.embedding_model != "all-MiniLM-L6-v2" else "hash-v1"
        return HashingEmbedder(model, settings.embedding_dimensions or 384)
    raise EmbeddingError(f"embedding provider {settings.embedding_provider!r} is not available yet")
