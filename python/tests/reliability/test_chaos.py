"""R1/R2: a real `archon worker` killed with SIGKILL at random points of crawls and uploads, restarted each
time. Every job must end completed with exactly the chunks of an uninterrupted run: 0 duplicates, 0 orphans,
no source 'ready' but empty. ARCHON_CHAOS_RUNS crawls and as many upload batches (default 6 each)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archon.config import Settings
from archon.jobs.recovery import retry_stalled_jobs
from archon.jobs.service import JobService
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.ingest.uploads import IncomingFile, UploadService
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.conftest import run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site, html_page, prose
from tests.knowledge.crawling.test_crash_resume import Worker
from tests.reliability.conftest import env_int

PAGES = 30
RUNS = env_int("ARCHON_CHAOS_RUNS", 6)
RESULTS: dict[str, Any] = {}
# pytest-timeout's default (300 s) fits the default size only; each run is a crawl or upload with restarts.
RUN_TIMEOUT = pytest.mark.timeout(180 + 120 * RUNS)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport])


@pytest.fixture
def workers(database_url: str, tmp_path: Path, site: Site) -> Iterator[Worker]:
    worker = Worker(database_url, tmp_path / "worker-data", site)
    yield worker
    worker.stop_all()


def _page(i: int) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(0.05)
        links = [f"/c/{j}" for j in (2 * i + 1, 2 * i + 2, i + 1) if j < PAGES]
        return Response(html_page(f"Page {i}", prose(f"chaos-{i}", n=4), links=links))
    return route


async def invariants(runtime: Runtime) -> dict[str, int]:
    """Counts that must all be 0 after every run."""
    async with runtime.db.connection() as conn:
        async def one(sql: str) -> int:
            return int((await (await conn.execute(sql)).fetchone())["n"])  # type: ignore[index]
        return {
            "duplicate_chunks": await one("SELECT count(*) AS n FROM (SELECT page_id, chunk_index FROM archon_chunks "
                                          "GROUP BY 1, 2 HAVING count(*) > 1) d"),
            "orphan_chunks": await one("SELECT count(*) AS n FROM archon_chunks c LEFT JOIN archon_pages p "
                                       "ON p.id = c.page_id WHERE p.id IS NULL"),
            "chunks_without_vector": await one(
                "SELECT count(*) AS n FROM archon_chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM archon_chunk_embeddings e WHERE e.chunk_id = c.id)"),
            "ready_but_empty_sources": await one(
                "SELECT count(*) AS n FROM archon_sources s WHERE s.status IN ('ready', 'completed') AND NOT EXISTS "
                "(SELECT 1 FROM archon_chunks c WHERE c.source_id = s.id)"),
        }


async def _finish(runtime: Runtime, workers: Worker, job_id: str, kills: int, progress: Callable[[], Any],
                  rng: random.Random) -> tuple[Any, int]:
    """Start a worker, SIGKILL it `kills` times at random progress points, then let it finish."""
    jobs = JobService(runtime.db)
    done_kills = 0
    proc = workers.start()
    while done_kills < kills:
        target = rng.uniform(0.1, 0.8)
        async with asyncio.timeout(120):
            while (await progress()) < target and not (await jobs.get(job_id)).finished:
                await asyncio.sleep(0.02)
        if (await jobs.get(job_id)).finished:
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        done_kills += 1
        await asyncio.sleep(1.2)  # the dead worker's heartbeat goes stale
        await retry_stalled_jobs(runtime.queue.app, seconds_since_heartbeat=1)
        proc = workers.start()
    async with asyncio.timeout(180):
        while not (job := await jobs.get(job_id)).finished:
            await asyncio.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    return job, done_kills


@RUN_TIMEOUT
async def test_sigkill_chaos_during_crawls(runtime: Runtime, site: Site, workers: Worker) -> None:
    for i in range(PAGES):
        site.set(f"/c/{i}", _page(i))
    request = {"url": site.url("/c/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": PAGES}
    job, source = await run_crawl(runtime, **request)
    assert job.status == "completed", job.error
    reference = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, source.source_id)]
    await KnowledgeService(runtime).delete_source(source.source_id)
    rng = random.Random(9)
    frontier = FrontierRepository(runtime.db)
    kills_total = 0
    began = time.monotonic()
    for run in range(RUNS):
        started = await CrawlService(runtime).start_crawl(CrawlRequest(**request))

        async def progress(job_id: str = started.progressId) -> float:
            return (await frontier.counts(job_id)).get("done", 0) / PAGES

        job, kills = await _finish(runtime, workers, started.progressId, rng.randint(1, 3), progress, rng)
        kills_total += kills
        assert job.status == "completed", (run, job.error)
        resumed = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, started.sourceId)]
        assert resumed == reference, f"run {run}: chunk set differs from the uninterrupted crawl"
        assert await invariants(runtime) == dict.fromkeys(await invariants(runtime), 0)
        await KnowledgeService(runtime).delete_source(started.sourceId)
    RESULTS["crawl_runs"], RESULTS["crawl_kills"] = RUNS, kills_total
    print(f"\nchaos crawls: {RUNS} runs, {kills_total} SIGKILLs, all completed with the reference chunk set "
          f"({time.monotonic() - began:.0f} s)")
    assert kills_total >= RUNS  # every run was really interrupted at least once


def _files(batch: int) -> list[IncomingFile]:
    return [IncomingFile(f"doc{batch}-{i}.md", (f"# Doc {batch}-{i}\n\n" + prose(f"upload-{i}", n=40)).encode(),
                         "text/markdown") for i in range(12)]


@RUN_TIMEOUT
async def test_sigkill_chaos_during_uploads(runtime: Runtime, workers: Worker) -> None:
    rng = random.Random(11)
    jobs = JobService(runtime.db)
    # Reference: the same batch processed without interruption.
    reference_id = await UploadService(runtime).upload(_files(0), knowledge_type="technical", tags=[],
                                                       extract_code_examples=True)
    job, _ = await _finish(runtime, workers, reference_id, 0, lambda: asyncio.sleep(0, 1.0), rng)
    assert job.status == "completed", job.error
    async with runtime.db.connection() as conn:
        reference = await (await conn.execute(
            "SELECT s.title, c.chunk_index, c.content FROM archon_chunks c JOIN archon_sources s ON s.id = c.source_id "
            "ORDER BY 1, 2")).fetchall()
        await conn.execute("DELETE FROM archon_sources")
    kills_total = 0
    began = time.monotonic()
    for run in range(RUNS):
        job_id = await UploadService(runtime).upload(_files(0), knowledge_type="technical", tags=[],
                                                     extract_code_examples=True)

        async def progress(job_id: str = job_id) -> float:
            return float((await jobs.get(job_id)).percentage or 0) / 100

        job, kills = await _finish(runtime, workers, job_id, rng.randint(1, 2), progress, rng)
        kills_total += kills
        assert job.status == "completed", (run, job.error)
        async with runtime.db.connection() as conn:
            chunks = await (await conn.execute(
                "SELECT s.title, c.chunk_index, c.content FROM archon_chunks c JOIN archon_sources s "
                "ON s.id = c.source_id ORDER BY 1, 2")).fetchall()
        assert chunks == reference, f"upload run {run}: chunk set differs"
        counts = await invariants(runtime)
        assert counts == dict.fromkeys(counts, 0), counts
        async with runtime.db.connection() as conn:
            await conn.execute("DELETE FROM archon_sources")
    print(f"\nchaos uploads: {RUNS} runs, {kills_total} SIGKILLs, all completed with the reference chunk set "
          f"({time.monotonic() - began:.0f} s)")
