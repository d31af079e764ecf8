"""Query vectors: an in-process LRU cache plus coalescing of concurrent queries into one embed call."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from archon.knowledge.embeddings import Embedder

_MAX_BATCH = 64


class QueryEmbeddings:
    """Repeated queries skip the model; queries arriving together are embedded in one batch.

    The key includes provider, model and dimensions, so a model switch can never return a vector
    of the previous model.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._cache: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[np.ndarray]] = {}
        self._queues: dict[Hashable, list[tuple[str, Hashable]]] = {}
        self._drains: dict[Hashable, asyncio.Task[None]] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _model_key(embedder: Embedder) -> tuple[str, str, int, int]:
        return (embedder.provider, embedder.model, embedder.dimensions, id(embedder))

    def cached(self, embedder: Embedder, text: str) -> bool:
        """Whether `get` would answer from the cache (without counting a hit)."""
        return (self._model_key(embedder)[:3], text) in self._cache

    async def get(self, embedder: Embedder, text: str) -> np.ndarray:
        """The unit vector of `text` from `embedder` (float32)."""
        model_key = self._model_key(embedder)
        key = (model_key[:3], text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._inflight[key] = future
            self._queues.setdefault(model_key, []).append((text, key))
            drain = self._drains.get(model_key)
            if drain is None or drain.done():
                self._drains[model_key] = asyncio.create_task(self._drain(embedder, model_key))
        return await asyncio.shield(future)

    async def _drain(self, embedder: Embedder, model_key: Hashable) -> None:
        queue = self._queues[model_key]
        # Providers with a query-specific path (the local model's ONNX export) use it; others embed as usual.
        embed = getattr(embedder, "embed_queries", None) or embedder.embed
        while queue:
            batch, queue[:] = queue[:_MAX_BATCH], queue[_MAX_BATCH:]
            try:
                vectors = await embed([text for text, _ in batch])
            except Exception as exc:  # hand the failure to every waiting query, keep draining the rest
                for _, key in batch:
                    fut = self._inflight.pop(key, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, key), vector in zip(batch, vectors, strict=True):
                array = np.asarray(vector, dtype=np.float32)
                self._remember(key, array)
                fut = self._inflight.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(array)

    def _remember(self, key: Hashable, vector: np.ndarray) -> None:
        self._cache[key] = vector
        self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)

    def clear(self) -> None:
        self._cache.clear()
