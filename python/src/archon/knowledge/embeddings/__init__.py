"""Embedders: the interface and its providers."""

from archon.knowledge.embeddings.base import Embedder, EmbeddingError
from archon.knowledge.embeddings.factory import create_embedder

__all__ = ["Embedder", "EmbeddingError", "create_embedder"]
