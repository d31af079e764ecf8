"""Optional second-stage reranking: a served rerank API (`rerank_http.py`) or a local cross-encoder folder.

Nothing is ever downloaded: the local model must already be in a folder, the served one runs elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archon.errors import Unavailable
from archon.knowledge.rerank_http import HttpReranker, credential_key

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    name: str

    async def score(self, query: str, passages: list[str]) -> list[float]:
        """One relevance score per passage, in order."""
        ...


class CrossEncoderReranker:
    """sentence-transformers CrossEncoder from a folder (e.g. a copy of ms-marco-MiniLM-L-6-v2)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if not self.path.is_dir():
                    raise Unavailable(f"ARCHON_RERANK_MODEL: {self.path} is not a folder with a cross-encoder model")
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(str(self.path), device="cpu")
                log.info("reranker %s loaded", self.path)
        return self._model

    def _predict(self, query: str, passages: list[str]) -> list[float]:
        model = self._load()
        scores = model.predict([(query, p) for p in passages], batch_size=32, show_progress_bar=False)
        return [float(s) for s in scores]

    async def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        return await asyncio.to_thread(self._predict, query, passages)


_RERANKERS: dict[Path, CrossEncoderReranker] = {}


def reranker_for(path: Path | None) -> Reranker | None:
    """The process-wide reranker for a configured model folder (loaded on first use), or None."""
    if path is None:
        return None
    if path not in _RERANKERS:
        _RERANKERS[path] = CrossEncoderReranker(path)
    return _RERANKERS[path]


_STATE = "knowledge.reranker"


def reranker_from(runtime: Runtime) -> Reranker | None:
    """The runtime's reranker: the HTTP rerank API when ARCHON_RERANK_URL is set, else the local folder, else None."""
    s = runtime.settings
    if s.rerank_url is None:
        return reranker_for(s.rerank_model)
    cached = runtime.state.get(_STATE)
    if isinstance(cached, HttpReranker):
        return cached
    reranker = HttpReranker(s.rerank_url, api=s.rerank_api, model=s.rerank_remote_model,
                            api_key=credential_key(runtime, s.rerank_api_key_name), timeout=s.rerank_timeout)
    runtime.state[_STATE] = reranker
    return reranker
