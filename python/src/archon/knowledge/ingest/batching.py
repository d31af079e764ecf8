"""Coalesces concurrent embed calls into bigger batches (pages indexed in parallel share model calls).

While one batch is being embedded, new requests queue up; the next call takes up to `max_texts` of them at
once. A single caller sees no difference; six crawl workers indexing small pages get batches of ~32-64
texts instead of 3-10, which is what a CPU model needs to run at full speed.
"""

from __future__ import annotations

import asyncio
import contextlib

from archon.knowledge.embeddings.base import Embedder


class EmbedBatcher:
    def __init__(self, embedder: Embedder, *, max_texts: int = 64) -> None:
        self.embedder = embedder
        self.max_texts = max_texts
        self._pending: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`, possibly computed together with other callers' texts."""
        if not texts:
            return []
        future: asyncio.Future[list[list[float]]] = asyncio.get_running_loop().create_future()
        self._pending.append((texts, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="archon-embed-batcher")
        return await future

    def _take(self) -> list[tuple[list[str], asyncio.Future[list[list[float]]]]]:
        taken: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = []
        count = 0
        while self._pending and (not taken or count + len(self._pending[0][0]) <= self.max_texts):
            texts, future = self._pending.pop(0)
            if future.done():  # its caller was cancelled
                continue
            taken.append((texts, future))
            count += len(texts)
        return taken

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # callers scheduled in the same tick join this batch
            batch = self._take()
            if not batch:
                continue
            texts = [t for item, _ in batch for t in item]
            try:
                vectors = await self.embedder.embed(texts)
                if len(vectors) != len(texts):
                    raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # delivered to every caller of this batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for item, future in batch:
                if not future.done():
                    future.set_result(vectors[start:start + len(item)])
                start += len(item)

    async def aclose(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
