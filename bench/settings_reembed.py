"""Model-switch benchmark: re-embed throughput (DB side) and search latency/errors while the switch runs.

    python/.venv/bin/python bench/settings_reembed.py [--chunks 20000] [--searchers 4]

Uses the deterministic hashing embedder on both sides so the numbers measure Archon's part (reading
items, writing vectors with their HNSW index, the atomic switch), not a model: with the local model the
job runs at the model's speed (~15-30 chunks/s on 2 cores, see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from common import open_runtime

from archon.jobs.runner import run_job
from archon.jobs.service import JobService
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.models import ChunkInput, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.search import SearchService
from archon.settings.changes import SettingsManager
from archon.settings.embedders import EmbedderRegistry
from archon.settings.reembed import ReembedService

WORDS = ("vector index query table column schema tuple cursor socket thread lock queue buffer page chunk "
         "model token embed search fusion rank score filter source crawl parse render fetch cache").split()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def seed(runtime: object, n_chunks: int) -> None:
    registry = EmbedderRegistry(runtime)  # type: ignore[arg-type]
    model, embedder = await registry.active()
    async with runtime.db.connection() as conn:  # type: ignore[attr-defined]
        await conn.execute("INSERT INTO archon_sources (id, source_type, url, title) VALUES "
                           "('bench', 'url', 'http://bench.test/', 'bench') ON CONFLICT DO NOTHING")
    repo = KnowledgeRepository(runtime.db)  # type: ignore[attr-defined]
    per_page = 20
    for p in range(n_chunks // per_page):
        chunks = [ChunkInput(content=" ".join(WORDS[(p * 7 + c * 3 + i) % len(WORDS)] for i in range(40))
                             + f" item{p}-{c}", headings=[f"Page {p}"]) for c in range(per_page)]
        page = PageInput(url=f"http://bench.test/{p}", markdown="x", content_hash=str(p), chunks=chunks)
        vectors = await embedder.embed([f"{c.heading_path}\n\n{c.content}" for c in chunks])
        await repo.replace_page("bench", page, model=model, chunk_vectors=vectors)


async def main(n_chunks: int, searchers: int) -> dict[str, object]:
    runtime = await open_runtime(f"reembed-{n_chunks}", embedding_provider="hash", db_pool_max=searchers + 8)
    try:
        async with runtime.db.connection() as conn:
            await conn.execute("TRUNCATE archon_sources, archon_embedding_models, archon_jobs CASCADE")
            await conn.execute("DELETE FROM archon_settings")
        started = time.perf_counter()
        await seed(runtime, n_chunks)
        seed_s = time.perf_counter() - started

        manager = SettingsManager(runtime)
        runtime.queue.defer = _no_defer  # type: ignore[method-assign]  # the job runs here, timed
        overview = await manager.update({"embedding_model": "hash-v2"})
        job_id = overview["embedding"]["reembed_progress_id"]
        stop = asyncio.Event()
        latencies: list[float] = []
        errors: list[str] = []

        async def searcher(i: int) -> None:
            service = SearchService(runtime)
            n = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    result = await service.query(f"{WORDS[(i + n) % len(WORDS)]} item{n % 100}-3", match_count=10)
                    if len(result.results) != 10:
                        errors.append(f"{len(result.results)} results")
                except Exception as exc:  # the benchmark counts every failure
                    errors.append(type(exc).__name__)
                latencies.append((time.perf_counter() - t) * 1000)
                n += 1

        tasks = [asyncio.create_task(searcher(i)) for i in range(searchers)]
        started = time.perf_counter()
        service = ReembedService(runtime)
        await run_job(runtime, job_id, lambda reporter: service.run(job_id, reporter))
        job_s = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
        job = await JobService(runtime.db).get(job_id)
        active = await EmbeddingModelRepository(runtime.db).active()
        return {
            "chunks": n_chunks, "seed_seconds": round(seed_s, 1), "job_status": job.status,
            "reembed_seconds": round(job_s, 1), "reembed_items_per_s": round(n_chunks / job_s, 1),
            "active_model_after": active.model if active else None,
            "searches_during_switch": len(latencies), "search_errors": len(errors),
            "search_p50_ms": round(pct(latencies, 0.5), 1), "search_p95_ms": round(pct(latencies, 0.95), 1),
        }
    finally:
        await runtime.stop()


async def _no_defer(task: str, **kwargs: object) -> int:
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--searchers", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.chunks, args.searchers)), indent=2))
