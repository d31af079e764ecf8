"""Run versioning (R6): cost of staging a refresh's changed pages and of the swap that makes them visible,
and search latency before and during the swap (searches never wait for it; they see the previous run).

    flock /tmp/archon-bench.lock python/.venv/bin/python bench/run_versioning.py [--pages 1000] [--changed 500]

Uses the deterministic hashing embedder (384 dimensions) so the numbers measure the database side:
staging rows, writing chunks + vectors (HNSW insertion included) in one transaction, deleting old chunks.
Results go to bench/runversioning/results.json. Not part of run_all.sh (a one-off measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from common import open_runtime

from archon.jobs.service import JobService
from archon.knowledge.models import ChunkInput, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.search import SearchService
from archon.knowledge.staging import StagingRepository
from archon.settings.embedders import EmbedderRegistry

WORDS = ("vector index query table column schema tuple cursor socket thread lock queue buffer page chunk "
         "model token embed search fusion rank score filter source crawl parse render fetch cache").split()
PER_PAGE = 20
RESULTS = Path(__file__).resolve().parent / "runversioning" / "results.json"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def make_page(p: int, version: int) -> PageInput:
    chunks = [ChunkInput(content=" ".join(WORDS[(p * 7 + c * 3 + i + version) % len(WORDS)] for i in range(40))
                         + f" item{p}-{c} v{version}", headings=[f"Page {p}"]) for c in range(PER_PAGE)]
    return PageInput(url=f"http://bench.test/{p}", markdown=f"v{version}", content_hash=f"{p}-{version}",
                     chunks=chunks)


async def searches(runtime: object, stop: asyncio.Event, latencies: list[float], errors: list[str]) -> None:
    service = SearchService(runtime)  # type: ignore[arg-type]
    n = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await service.query(f"{WORDS[n % len(WORDS)]} item{n % 100}-3", match_count=10)
        except Exception as exc:  # every failure is counted
            errors.append(type(exc).__name__)
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1


async def measure_search(runtime: object, seconds: float | None, until: asyncio.Future[object] | None,
                         searchers: int) -> tuple[list[float], list[str]]:
    stop, latencies, errors = asyncio.Event(), [], []  # type: ignore[var-annotated]
    tasks = [asyncio.create_task(searches(runtime, stop, latencies, errors)) for _ in range(searchers)]
    if until is not None:
        await until
    else:
        await asyncio.sleep(seconds or 0)
    stop.set()
    await asyncio.gather(*tasks)
    return latencies, errors


async def main(pages: int, changed: int, searchers: int) -> dict[str, object]:
    runtime = await open_runtime(f"runversioning-{pages}", embedding_provider="hash", db_pool_max=searchers + 8)
    try:
        async with runtime.db.connection() as conn:
            await conn.execute("TRUNCATE archon_sources, archon_embedding_models, archon_jobs CASCADE")
            await conn.execute("INSERT INTO archon_sources (id, source_type, url, title) VALUES "
                               "('bench', 'url', 'http://bench.test/', 'bench')")
        model, embedder = await EmbedderRegistry(runtime).active()
        repo = KnowledgeRepository(runtime.db)
        for p in range(pages):
            page = make_page(p, 1)
            vectors = await embedder.embed([f"{c.heading_path}\n\n{c.content}" for c in page.chunks])
            await repo.replace_page("bench", page, model=model, chunk_vectors=vectors)
        job_id = await JobService(runtime.db).create("refresh", {}, "bench")
        staging = StagingRepository(runtime.db)
        staged_at = time.perf_counter()
        for p in range(changed):
            page = make_page(p, 2)
            vectors = await embedder.embed([f"{c.heading_path}\n\n{c.content}" for c in page.chunks])
            await staging.stage_page(job_id, "bench", page, model=model, chunk_vectors=vectors)
        stage_ms = (time.perf_counter() - staged_at) * 1000 / changed
        async with runtime.db.connection() as conn:
            await conn.execute("ANALYZE")

        before, before_errors = await measure_search(runtime, 10.0, None, searchers)
        swap = asyncio.ensure_future(staging.swap(job_id, "bench"))
        started = time.perf_counter()
        during, during_errors = await measure_search(runtime, None, swap, searchers)
        swap_s = time.perf_counter() - started
        result = swap.result()

        async def in_place() -> None:  # the same writes without run versioning: page by page, back to v1
            for p in range(changed):
                page = make_page(p, 1)
                vectors = await embedder.embed([f"{c.heading_path}\n\n{c.content}" for c in page.chunks])
                await repo.replace_page("bench", page, model=model, chunk_vectors=vectors)

        started = time.perf_counter()
        writes = asyncio.ensure_future(in_place())
        during_inplace, inplace_errors = await measure_search(runtime, None, writes, searchers)
        inplace_s = time.perf_counter() - started
        writes.result()
        return {
            "pages": pages, "chunks": pages * PER_PAGE, "changed_pages": changed, "changed_chunks": changed * PER_PAGE,
            "stage_ms_per_page": round(stage_ms, 1), "swap_seconds": round(swap_s, 2),
            "swap_chunks_per_s": round(changed * PER_PAGE / swap_s), "pages_written": len(result.written),
            "searchers": searchers, "search_before_p50_ms": round(pct(before, 0.5), 1),
            "search_before_p95_ms": round(pct(before, 0.95), 1), "searches_during_swap": len(during),
            "search_during_p50_ms": round(pct(during, 0.5), 1), "search_during_p95_ms": round(pct(during, 0.95), 1),
            "inplace_seconds": round(inplace_s, 2), "search_during_inplace_p95_ms": round(pct(during_inplace, 0.95), 1),
            "search_errors": len(before_errors) + len(during_errors) + len(inplace_errors),
        }
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=500)
    parser.add_argument("--searchers", type=int, default=2)
    args = parser.parse_args()
    out = asyncio.run(main(args.pages, args.changed, args.searchers))
    out["load_average"] = Path("/proc/loadavg").read_text().split()[:3]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
