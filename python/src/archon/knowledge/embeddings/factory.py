"""Builds the configured embedder."""

from __future__ import annotations

from archon.config import Settings
from archon.knowledge.embeddings.base import Embedder, EmbeddingError


def create_embedder(settings: Settings) -> Embedder:
    """The embedder selected by EMBEDDING_PROVIDER / EMBEDDING_MODEL / EMBEDDING_DIMENSIONS."""
    if settings.embedding_provider == "local":
        from archon.knowledge.embeddings.local import LocalEmbedder

        onnx_dir = settings.data_dir / "models" / "onnx" if settings.embedding_onnx else None
        return LocalEmbedder(settings.embedding_model, settings.embedding_dimensions or 384, onnx_dir=onnx_dir)
    if settings.embedding_provider == "hash":
        from archon.knowledge.embeddings.hashing import HashingEmbedder

        model = settings.embedding_model if settings.embedding_model != "all-MiniLM-L6-v2" else "hash-v1"
        return HashingEmbedder(model, settings.embedding_dimensions or 384)
    if settings.embedding_provider == "openai":
        from archon.knowledge.embeddings.openai import OpenAIEmbedder

        model = settings.embedding_model if settings.embedding_model != "all-MiniLM-L6-v2" else "text-embedding-3-small"
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key is not None else None
        return OpenAIEmbedder(model, api_key=key, base_url=settings.embedding_base_url,
                              dimensions=settings.embedding_dimensions)
    raise EmbeddingError(f"embedding provider {settings.embedding_provider!r} is not available yet")
