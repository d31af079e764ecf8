"""Shared benchmark plumbing: a persistent embedded Postgres per benchmark and the indexed Python docs.

Data lives under $ARCHON_BENCH_DIR (default /tmp/archon-bench) so a second run reuses the database
and the cached chunk vectors instead of re-embedding ~10k chunks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from docs_corpus import DOCS_ROOT, Page, embed_text, load_page

from archon.config import Settings
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.models import ChunkInput, EmbeddingModel, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.runtime import Runtime

log = logging.getLogger("bench")
BENCH_DIR = Path(os.environ.get("ARCHON_BENCH_DIR", "/tmp/archon-bench"))
DOCS_SOURCE = "pydocs311"


def bench_settings(name: str, **overrides: object) -> Settings:
    """Settings for one benchmark's own embedded database, with the real local embedding model."""
    # ARCHON_BENCH_EMBEDDER=hash: a fast smoke run of the benchmark code with the deterministic embedder.
    provider = os.environ.get("ARCHON_BENCH_EMBEDDER", "local")
    name = name if provider == "local" else f"{name}-{provider}"
    values: dict[str, object] = {"data_dir": BENCH_DIR / name, "embedding_provider": provider,
                                 "run_worker": False, "log_level": "WARNING", "db_pool_max": 20}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def open_runtime(name: str, **overrides: object) -> Runtime:
    return await Runtime.start(bench_settings(name, **overrides), run_worker=False)


class VectorCache:
    """Chunk vectors keyed by sha1(model + text), stored as one .npz: re-runs skip the model."""

    def __init__(self, model: str) -> None:
        self.path = BENCH_DIR / f"vectors-{model.replace('/', '_')}.npz"
        self.model = model
        self.data: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as npz:
                self.data = {k: npz[k] for k in npz.files}

    def key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model}\0{text}".encode()).hexdigest()  # noqa: S324 (cache key)

    def save(self) -> None:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.data)
        tmp.replace(self.path)


async def embed_all(runtime: Runtime, texts: list[str], batch: int = 256) -> np.ndarray:
    """Vectors for `texts` through the runtime's embedder, via the on-disk cache."""
    cache = VectorCache(f"{runtime.embedder.provider}-{runtime.embedder.model}")
    keys = [cache.key(t) for t in texts]
    missing = sorted({i for i, k in enumerate(keys) if k not in cache.data})
    started = time.perf_counter()
    for n, start in enumerate(range(0, len(missing), batch)):
        idx = missing[start:start + batch]
        vectors = await runtime.embedder.embed([texts[i] for i in idx])
        for i, v in zip(idx, vectors, strict=True):
            cache.data[keys[i]] = np.asarray(v, dtype=np.float32)
        done = start + len(idx)
        rate = done / (time.perf_counter() - started)
        print(f"  embedded {done}/{len(missing)} ({rate:.1f} chunks/s)", file=sys.stderr, flush=True)
        cache.save()
    if missing:
        cache.save()
    if not keys:
        return np.zeros((0, runtime.embedder.dimensions), dtype=np.float32)
    return np.stack([cache.data[k] for k in keys])


async def active_model(runtime: Runtime) -> EmbeddingModel:
    e = runtime.embedder
    return await EmbeddingModelRepository(runtime.db).ensure_active(e.provider, e.model, e.dimensions)


def page_input(page: Page) -> PageInput:
    return PageInput(url=page.url, markdown=page.markdown, content_hash=page.content_hash, title=page.title,
                     chunks=[ChunkInput(content=c.content, headings=c.headings,
                                        token_count=len(c.content.split())) for c in page.chunks])


def selected_pages(paths: list[str]) -> list[Page]:
    """The given docs pages (relative paths), parsed once and cached under $ARCHON_BENCH_DIR."""
    cache = BENCH_DIR / "pydocs-pages.pickle"
    known: dict[str, Page] = pickle.loads(cache.read_bytes()) if cache.exists() else {}  # noqa: S301 (own file)
    missing = [p for p in paths if p not in known]
    for path in missing:
        page = load_page(DOCS_ROOT / path)
        if page is not None:
            known[path] = page
    if missing:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(known))
    return [known[p] for p in paths if p in known]


async def ensure_python_docs(runtime: Runtime, pages: list[Page]) -> list[Page]:
    """Index `pages` into source `pydocs311`, skipping pages already stored with the same content."""
    if runtime.embedder.provider == "local":
        await runtime.embedder.embed(["warm up"])
    model = await active_model(runtime)
    async with runtime.db.connection() as conn:
        await conn.execute(
            "INSERT INTO archon_sources (id, source_type, url, title, knowledge_type, tags, status) "
            "VALUES (%s, 'url', %s, 'Python 3.11 documentation', 'technical', '{python,stdlib}', 'processing') "
            "ON CONFLICT (id) DO NOTHING", (DOCS_SOURCE, "https://docs.python.org/3.11/"))
    repo = KnowledgeRepository(runtime.db)
    stored = await repo.page_fingerprints(DOCS_SOURCE)
    todo = [p for p in pages if stored.get(p.url, {}).get("content_hash") != p.content_hash]
    texts = [embed_text(c) for p in todo for c in p.chunks]
    print(f"indexing {len(todo)} of {len(pages)} pages, {len(texts)} chunks", file=sys.stderr)
    vectors = await embed_all(runtime, texts)
    offset = 0
    for page in todo:
        n = len(page.chunks)
        await repo.replace_page(DOCS_SOURCE, page_input(page), model=model, chunk_vectors=vectors[offset:offset + n])
        offset += n
    wanted = {p.url for p in pages}
    for url in set(stored) - wanted:  # pages dropped from the selection leave the index too
        await repo.delete_page(DOCS_SOURCE, url)
    async with runtime.db.connection() as conn:
        await conn.execute("UPDATE archon_sources SET status = 'ready', last_indexed_at = now() WHERE id = %s",
                           (DOCS_SOURCE,))
        await conn.execute("ANALYZE")
    return pages
