"""Build a large search corpus fast: real docs text repeated with variations, clustered realistic vectors.

Text: chunks of the Python docs (the quality benchmark's pages), each repeated with a variant marker and a
rotated paragraph order, so term statistics grow like a real multi-site corpus. Vectors: for each copy,
the *real* all-MiniLM-L6-v2 vector of its original chunk plus Gaussian noise (cosine ~0.93 to it), then
normalised: clusters around real embeddings, not uniform random points. Rows are written with COPY; the
full-text (GIN) and btree secondary indexes are dropped before and rebuilt after the load, and the
per-model HNSW index is built last with a large maintenance_work_mem (the fast path for a bulk load).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pgvector import Vector
from psycopg import AsyncConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import VectorCache, active_model
from docs_corpus import Page, embed_text

from archon.knowledge.embedding_models import _create_indexes, index_names
from archon.runtime import Runtime

CHUNKS_PER_PAGE = 20
SOURCES = 10
NOISE = 0.4  # norm of the noise added to a unit vector: cosine to the original ~ 1/sqrt(1 + 0.4^2) = 0.93


def _variant(text: str, n: int) -> str:
    parts = text.split("\n\n")
    k = n % len(parts)
    return "\n\n".join(parts[k:] + parts[:k]) + f"\n\n(revision {n})"


async def loaded(runtime: Runtime) -> int:
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM archon_chunks")).fetchone()
    return int(row["n"]) if row else 0


# Secondary indexes dropped before the bulk COPY and rebuilt after it: building a GIN or btree index
# once over sorted input is many times faster than maintaining it row by row during the load.
_BULK_INDEXES = ("archon_chunks_tsv", "archon_chunks_simple_tsv", "archon_chunks_source",
                 "archon_chunk_embeddings_source", "archon_chunk_embeddings_chunk")
_BATCH = 20_000


async def _drop_indexes(conn: AsyncConnection[Any]) -> list[str]:
    rows = await (await conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
                                     (list(_BULK_INDEXES),))).fetchall()
    for r in rows:
        await conn.execute(f'DROP INDEX IF EXISTS "{r["indexname"]}"')
    return [str(r["indexdef"]) for r in rows]


async def build(runtime: Runtime, pages: list[Page], total: int) -> dict[str, float]:
    """Load `total` chunks (skips if already there); returns timings."""
    if await loaded(runtime) >= total:
        return {}
    model = await active_model(runtime)
    cache = VectorCache(f"{runtime.embedder.provider}-{runtime.embedder.model}")
    base = [(c, cache.data.get(cache.key(embed_text(c)))) for p in pages for c in p.chunks]
    base = [(c, v) for c, v in base if v is not None]
    if not base:
        raise SystemExit("no cached real vectors: run bench/quality/run.py first")
    base_vectors = np.stack([v for _, v in base]).astype(np.float32)
    rng = np.random.default_rng(7)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    async with runtime.db.connection() as conn:
        for name in index_names(model):
            await conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        await conn.execute("TRUNCATE archon_sources CASCADE")
        index_defs = await _drop_indexes(conn)
        for s in range(SOURCES):
            await conn.execute("INSERT INTO archon_sources (id, source_type, title, status, tags) "
                               "VALUES (%s, 'url', %s, 'ready', %s)", (f"s{s}", f"Source {s}", [f"t{s % 3}"]))
    n_pages = (total + CHUNKS_PER_PAGE - 1) // CHUNKS_PER_PAGE
    async with runtime.db.transaction() as conn:
        async with conn.cursor().copy(
                "COPY archon_pages (source_id, url, title, markdown, content_hash) FROM STDIN") as copy:
            for p in range(n_pages):
                await copy.write_row((f"s{p % SOURCES}", f"https://bench.invalid/{p}", f"Page {p}", "", str(p)))
        rows = await (await conn.execute("SELECT id, source_id FROM archon_pages ORDER BY id")).fetchall()
        page_rows = [(int(r["id"]), str(r["source_id"])) for r in rows]
        async with conn.cursor().copy(
                "COPY archon_chunks (source_id, page_id, chunk_index, content, headings, heading_path, token_count) "
                "FROM STDIN") as copy:
            for i in range(total):
                chunk, _ = base[i % len(base)]
                page_id, source_id = page_rows[i // CHUNKS_PER_PAGE]
                await copy.write_row((source_id, page_id, i % CHUNKS_PER_PAGE,
                                      _variant(chunk.content, i // len(base)), chunk.headings,
                                      " > ".join(chunk.headings), len(chunk.content.split())))
        timings["copy_text_s"] = time.perf_counter() - started
        ids = await (await conn.execute(
            "SELECT c.id, c.source_id FROM archon_chunks c ORDER BY c.page_id, c.chunk_index")).fetchall()
        t = time.perf_counter()
        async with conn.cursor().copy("COPY archon_chunk_embeddings (model_id, chunk_id, source_id, embedding) "
                                      "FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["integer", "bigint", "text", "vector"])
            for start in range(0, len(ids), _BATCH):  # noise and normalisation per batch (numpy), rows one by one
                idx = np.arange(start, min(start + _BATCH, len(ids)))
                v = base_vectors[idx % len(base)] + rng.normal(0, NOISE / np.sqrt(model.dimensions),
                                                               (len(idx), model.dimensions)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                for j, i in enumerate(idx):
                    r = ids[int(i)]
                    await copy.write_row((model.id, int(r["id"]), r["source_id"], Vector(v[j])))
        timings["copy_vectors_s"] = time.perf_counter() - t
    t = time.perf_counter()
    async with runtime.db.connection() as conn:
        await conn.execute("SET maintenance_work_mem = '4GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")  # leader + 1 worker: the 2 cores
        for definition in index_defs:
            await conn.execute(definition)
    timings["secondary_indexes_s"] = time.perf_counter() - t
    t = time.perf_counter()
    async with runtime.db.transaction() as conn:
        await conn.execute("SET LOCAL maintenance_work_mem = '4GB'")
        await conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        await _create_indexes(conn, model)
    timings["hnsw_build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    async with runtime.db.connection() as conn:
        await conn.execute("VACUUM ANALYZE")
    timings["vacuum_analyze_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in timings.items()}
