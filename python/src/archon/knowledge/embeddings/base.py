"""The `Embedder` interface every provider implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from archon.errors import ArchonError


class EmbeddingError(ArchonError):
    """An embedding provider failed in a way a retry will not fix (auth, quota, bad model)."""

    status = 502
    error = "embedding_failed"
    retryable = False


class EmbeddingUnavailable(EmbeddingError):
    """The provider kept answering 429/5xx or refusing connections: a job waits and tries again later."""

    status = 503
    error = "embedding_unavailable"
    retryable = True


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. One instance per (provider, model, dimensions)."""

    provider: str
    model: str
    dimensions: int
    max_tokens: int  # the model's input window in word pieces; chunkers size chunks for it

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector per text, in order. Never returns a zero vector."""
        ...

    def status(self) -> str:
        """A short human-readable state for /health ("ready", "not loaded yet", an error)."""
        ...
