"""R1/R2: SIGKILL at random points of crawls and uploads, the killed process restarted each time. Two
victims: a separate `archon worker`, and a whole `archon serve` (API, MCP and the in-process worker in
one process group) driven through its REST API. Nothing in the test recovers a job: the restarted
process finds its dead predecessor's jobs (jobs/recovery.py). Every job must end completed with exactly
the chunks of an uninterrupted run: 0 duplicates, 0 orphans, no source 'ready' but empty.
ARCHON_CHAOS_RUNS crawls and as many upload batches per victim (default 6 each)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archon.config import Settings
from archon.jobs.service import JobService
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.ingest.uploads import IncomingFile, UploadService
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.conftest import run_crawl
from tests.knowledge.crawling.site import Response, Site, html_page, prose
from tests.knowledge.crawling.test_crash_resume import Worker
from tests.reliability.chaos import (
    ServeVictim,
    Tally,
    WorkerVictim,
    assert_clean,
    crawl_chunks,
    delete_all_sources,
    finish,
    make_serve,
    upload_chunks,
    upload_files,
)
from tests.reliability.conftest import env_int

PAGES = 30
RUNS = env_int("ARCHON_CHAOS_RUNS", 6)
# pytest-timeout's default (300 s) fits the default size only; each run is a crawl or upload with restarts.
RUN_TIMEOUT = pytest.mark.timeout(240 + 150 * RUNS)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport])


@pytest.fixture
def worker_victim(database_url: str, tmp_path: Path, site: Site, runtime: Runtime) -> Iterator[WorkerVictim]:
    workers = Worker(database_url, tmp_path / "worker-data", site)
    yield WorkerVictim(workers, runtime)
    workers.stop_all()


@pytest.fixture
async def serve_victim(database_url: str, tmp_path: Path, site: Site) -> Any:
    victim = make_serve(tmp_path, database_url, site)
    yield victim
    await victim.api.aclose()
    if victim.serve.proc is not None and victim.serve.proc.poll() is None:
        victim.kill()


def _page(i: int) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(0.05)
        links = [f"/c/{j}" for j in (2 * i + 1, 2 * i + 2, i + 1) if j < PAGES]
        return Response(html_page(f"Page {i}", prose(f"chaos-{i}", n=4), links=links))
    return route


def _crawl_request(site: Site) -> dict[str, Any]:
    for i in range(PAGES):
        site.set(f"/c/{i}", _page(i))
    return {"url": site.url("/c/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": PAGES}


def _crawl_progress(runtime: Runtime, job_id: str) -> Callable[[], Any]:
    frontier = FrontierRepository(runtime.db)

    async def progress() -> float:
        return (await frontier.counts(job_id)).get("done", 0) / PAGES
    return progress


def _upload_progress(runtime: Runtime, job_id: str) -> Callable[[], Any]:
    jobs = JobService(runtime.db)

    async def progress() -> float:
        return float((await jobs.get(job_id)).percentage or 0) / 100
    return progress


@RUN_TIMEOUT
async def test_sigkill_chaos_during_crawls(runtime: Runtime, site: Site, worker_victim: WorkerVictim) -> None:
    request = _crawl_request(site)
    job, source = await run_crawl(runtime, **request)
    assert job.status == "completed", job.error
    reference = await crawl_chunks(runtime, source.source_id)
    await KnowledgeService(runtime).delete_source(source.source_id)
    rng, tally, began = random.Random(9), Tally(), time.monotonic()
    worker_victim.start()
    for run in range(RUNS):
        started = await CrawlService(runtime).start_crawl(CrawlRequest(**request))
        job = await finish(worker_victim, started.progressId, JobService(runtime.db), rng.randint(1, 3),
                           _crawl_progress(runtime, started.progressId), rng, tally)
        assert job.status == "completed", (run, job.error)
        assert await crawl_chunks(runtime, started.sourceId) == reference, f"run {run}: chunk set differs"
        await assert_clean(runtime)
        await KnowledgeService(runtime).delete_source(started.sourceId)
    worker_victim.stop()
    print(f"\nchaos crawls (archon worker): {RUNS} runs, {tally.summary()}, all completed with the reference "
          f"chunk set ({time.monotonic() - began:.0f} s)")
    assert tally.kills >= RUNS  # every run was really interrupted at least once


def _incoming(batch: int) -> list[IncomingFile]:
    return [IncomingFile(name, data, kind) for name, data, kind in upload_files(batch)]


@RUN_TIMEOUT
async def test_sigkill_chaos_during_uploads(runtime: Runtime, worker_victim: WorkerVictim) -> None:
    rng, tally, jobs = random.Random(11), Tally(), JobService(runtime.db)
    upload = UploadService(runtime)
    worker_victim.start()
    # Reference: the same batch processed without interruption.
    reference_id = await upload.upload(_incoming(0), knowledge_type="technical", tags=[], extract_code_examples=True)
    job = await finish(worker_victim, reference_id, jobs, 0, _upload_progress(runtime, reference_id), rng, tally)
    assert job.status == "completed", job.error
    reference = await upload_chunks(runtime)
    await delete_all_sources(runtime)
    began = time.monotonic()
    for run in range(RUNS):
        job_id = await upload.upload(_incoming(0), knowledge_type="technical", tags=[], extract_code_examples=True)
        job = await finish(worker_victim, job_id, jobs, rng.randint(1, 2), _upload_progress(runtime, job_id), rng,
                           tally)
        assert job.status == "completed", (run, job.error)
        assert await upload_chunks(runtime) == reference, f"upload run {run}: chunk set differs"
        await assert_clean(runtime)
        await delete_all_sources(runtime)
    worker_victim.stop()
    print(f"\nchaos uploads (archon worker): {RUNS} runs, {tally.summary()}, all completed with the reference "
          f"chunk set ({time.monotonic() - began:.0f} s)")


async def serve_crawl_chaos(runtime: Runtime, site: Site, victim: ServeVictim, runs: int,
                            kills: Callable[[random.Random], int]) -> Tally:
    """`runs` crawls started through the REST API of a real `archon serve` that is SIGKILLed mid-crawl."""
    request = _crawl_request(site)
    rng, tally, jobs = random.Random(19), Tally(), JobService(runtime.db)
    victim.start()
    await victim.ready()
    reference: list[tuple[str, int, str]] | None = None
    for run in range(-1, runs):  # run -1: the uninterrupted reference, through the same server
        response = await victim.api.post("/knowledge-items/crawl", json=request)
        assert response.status_code == 200, response.text
        started = response.json()
        job = await finish(victim, started["progressId"], jobs, 0 if run < 0 else kills(rng),
                           _crawl_progress(runtime, started["progressId"]), rng, tally)
        assert job.status == "completed", (run, job.error)
        progress = await victim.progress(started["progressId"])
        assert progress["status"] == "completed" and progress["percentage"] == 100, progress
        chunks = await crawl_chunks(runtime, started["sourceId"])
        if reference is None:
            assert len({url for url, _, _ in chunks}) == PAGES
            reference = chunks
        assert chunks == reference, f"run {run}: chunk set differs from the uninterrupted crawl"
        assert progress["chunksStored"] == len(reference), progress
        await assert_clean(runtime)
        await KnowledgeService(runtime).delete_source(started["sourceId"])
    victim.stop()
    return tally


@RUN_TIMEOUT
async def test_sigkill_chaos_of_the_server_during_crawls(runtime: Runtime, site: Site,
                                                         serve_victim: ServeVictim) -> None:
    began = time.monotonic()
    tally = await serve_crawl_chaos(runtime, site, serve_victim, RUNS, lambda rng: rng.randint(1, 3))
    print(f"\nchaos crawls (archon serve): {RUNS} runs, {tally.summary()}, all completed with the reference "
          f"chunk set ({time.monotonic() - began:.0f} s)")
    assert tally.kills >= RUNS


async def test_smoke_one_sigkill_of_the_server_mid_crawl(runtime: Runtime, site: Site,
                                                        serve_victim: ServeVictim) -> None:
    """In `make test`: the reference crawl, then one crawl with the server SIGKILLed once and restarted."""
    tally = await serve_crawl_chaos(runtime, site, serve_victim, 1, lambda rng: 1)
    assert tally.kills == 1 and len(tally.resume_seconds) == 1
    print(f"\nserver smoke: {tally.summary()}")


@RUN_TIMEOUT
async def test_sigkill_chaos_of_the_server_during_uploads(runtime: Runtime, serve_victim: ServeVictim) -> None:
    rng, tally, jobs = random.Random(23), Tally(), JobService(runtime.db)
    serve_victim.start()
    await serve_victim.ready()
    began = time.monotonic()
    reference: list[tuple[str, int, str]] | None = None
    for run in range(-1, RUNS):  # run -1: the uninterrupted reference
        files = [("file", f) for f in upload_files(0)]
        response = await serve_victim.api.post("/documents/upload", files=files,
                                               data={"knowledge_type": "technical", "extract_code_examples": "true"})
        assert response.status_code == 200, response.text
        job_id = response.json()["progressId"]
        job = await finish(serve_victim, job_id, jobs, 0 if run < 0 else rng.randint(1, 2),
                           _upload_progress(runtime, job_id), rng, tally)
        assert job.status == "completed", (run, job.error)
        assert (await serve_victim.progress(job_id))["status"] == "completed"
        chunks = await upload_chunks(runtime)
        reference = reference or chunks
        assert len(reference) >= 12
        assert chunks == reference, f"upload run {run}: chunk set differs"
        await assert_clean(runtime)
        await delete_all_sources(runtime)
    serve_victim.stop()
    print(f"\nchaos uploads (archon serve): {RUNS} runs, {tally.summary()}, all completed with the reference "
          f"chunk set ({time.monotonic() - began:.0f} s)")
    assert tally.kills >= RUNS
