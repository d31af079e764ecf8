"""Scale-out: two real `archon worker` processes share one crawl through the frontier.

The test process plays the API (`archon serve --no-worker`): it starts the crawl and only watches.
Both workers fetch part of the pages, no page is stored or embedded twice, and a worker killed
with SIGKILL mid-crawl leaves nothing behind: its claimed pages are fetched by the other one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archon.jobs.recovery import retry_stalled_jobs
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import page_urls
from tests.knowledge.crawling.site import Response, Site, html_page, prose
from tests.knowledge.crawling.test_crash_resume import Worker

PAGES = 48
# Pages from GATED on are held until the second worker has claimed a page (or GATE_LIMIT passed), so
# the crawl cannot finish before a helper joins however slow the machine is. Pages below GATED leave
# more than INVITE_MIN_PENDING pages queued, so the crawl keeps inviting while the first worker waits.
GATED = 16
GATE_LIMIT = 90.0


def _slow_page(i: int, delay: float, gate: threading.Event) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(delay)  # slow enough that the crawl outlives a helper's start-up
        if i >= GATED:
            gate.wait(GATE_LIMIT)
        links = [f"/s/{j}" for j in (2 * i + 1, 2 * i + 2, i + 1) if j < PAGES]
        return Response(html_page(f"Scale page {i}", prose(f"scale-{i}", n=3), links=links))
    return route


@pytest.fixture
def workers(database_url: str, tmp_path: Path, site: Site) -> Iterator[Worker]:
    worker = Worker(database_url, tmp_path / "worker-data", site)
    yield worker
    worker.stop_all()


def _wait_ready(workers: Worker, count: int) -> None:
    """Start `count` workers and wait until each one listens for jobs."""
    for _ in range(count):
        workers.start()
    deadline = time.monotonic() + 60
    for i in range(count):
        log = workers.data_dir.parent / f"worker{i}.log"
        while "worker running" not in (log.read_text(errors="replace") if log.exists() else ""):
            assert workers.procs[i].poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"worker {i} did not start"
            time.sleep(0.1)


async def _start(runtime: Runtime, site: Site, delay: float = 0.25) -> tuple[str, asyncio.Task[None]]:
    """Start the crawl; gated pages are answered once two worker processes hold claims in it (the
    returned task opens the gate; it ends at the latest when the crawl does)."""
    gate = threading.Event()
    for i in range(PAGES):
        site.set(f"/s/{i}", _slow_page(i, delay, gate))
    request = CrawlRequest(url=site.url("/s/0"), crawl_type="recursive", max_depth=10, max_pages=PAGES)
    job_id = (await CrawlService(runtime).start_crawl(request)).progressId
    return job_id, asyncio.create_task(_open_when_two_claim(runtime, job_id, gate))


async def _open_when_two_claim(runtime: Runtime, job_id: str, gate: threading.Event) -> None:
    jobs = JobService(runtime.db)
    try:
        async with asyncio.timeout(GATE_LIMIT):
            while len(await _claimers(runtime, job_id)) < 2 and not (await jobs.get(job_id)).finished:
                await asyncio.sleep(0.1)
    finally:
        gate.set()


async def _claimers(runtime: Runtime, job_id: str) -> set[str]:
    """Worker processes (pids) that claimed or finished pages of the crawl."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT DISTINCT split_part(claimed_by, ':', 2) AS pid FROM archon_crawl_urls "
            "WHERE job_id = %s AND status IN ('claimed', 'done')", (job_id,))).fetchall()
    return {str(r["pid"]) for r in rows}


async def _wait_finished(runtime: Runtime, job_id: str, seconds: float = 120) -> JobView:
    jobs = JobService(runtime.db)
    async with asyncio.timeout(seconds):
        while not (job := await jobs.get(job_id)).finished:
            await asyncio.sleep(0.1)
    return job


async def _holders(runtime: Runtime, job_id: str) -> dict[str, int]:
    """Pages done per worker process (pid, from the claim's worker id)."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT split_part(claimed_by, ':', 2) AS pid, count(*) AS n FROM archon_crawl_urls "
            "WHERE job_id = %s AND status = 'done' GROUP BY 1", (job_id,))).fetchall()
    return {str(r["pid"]): int(r["n"]) for r in rows}


async def _assert_complete(runtime: Runtime, job: JobView) -> None:
    assert job.status == "completed", job.error
    assert job.source_id is not None
    urls = await page_urls(runtime, job.source_id)
    assert len(urls) == len(set(urls)) == PAGES
    async with runtime.db.connection() as conn:
        dup = await (await conn.execute(
            "SELECT page_id, chunk_index, count(*) FROM archon_chunks WHERE source_id = %s "
            "GROUP BY 1, 2 HAVING count(*) > 1", (job.source_id,))).fetchall()
        chunks = await (await conn.execute("SELECT count(*) AS n FROM archon_chunks WHERE source_id = %s",
                                           (job.source_id,))).fetchone()
        vectors = await (await conn.execute(
            "SELECT count(*) AS n, count(DISTINCT e.chunk_id) AS d FROM archon_chunk_embeddings e "
            "JOIN archon_chunks c ON c.id = e.chunk_id WHERE c.source_id = %s", (job.source_id,))).fetchone()
    assert dup == [], dup
    assert chunks is not None and vectors is not None
    assert vectors["n"] == vectors["d"] == chunks["n"] > 0  # one vector per chunk: nothing embedded twice
    progress = job.progress_data()
    assert progress["processedPages"] == progress["totalPages"] == PAGES
    assert progress["chunksStored"] == chunks["n"]


async def test_two_workers_share_one_crawl(runtime: Runtime, site: Site, workers: Worker) -> None:
    _wait_ready(workers, 2)
    job_id, opener = await _start(runtime, site, delay=0.5)
    job = await _wait_finished(runtime, job_id)
    await opener
    await _assert_complete(runtime, job)
    holders = await _holders(runtime, job_id)
    assert set(holders) == {str(p.pid) for p in workers.procs}, holders  # both workers fetched pages
    for i in range(PAGES):  # no page was fetched twice
        assert site.hits_for(f"/s/{i}") == 1, i


async def test_worker_killed_mid_crawl_other_worker_finishes(runtime: Runtime, site: Site, workers: Worker) -> None:
    _wait_ready(workers, 2)
    job_id, opener = await _start(runtime, site, delay=0.5)
    frontier = FrontierRepository(runtime.db)
    async with asyncio.timeout(90):  # wait until both workers have finished pages, well before the end
        while len(await _holders(runtime, job_id)) < 2:
            assert not (await JobService(runtime.db).get(job_id)).finished, "the second worker never joined"
            await asyncio.sleep(0.05)
    victim = workers.procs[1]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    rows = await frontier.job_rows(job_id)
    done_before = {r["url"] for r in rows if r["status"] == "done"}
    assert len(done_before) < PAGES, "the crawl ended before the kill: make the pages slower"

    # Had the victim run the job itself, the stalled-job recovery (every minute) queues it again.
    await asyncio.sleep(1.5)
    await retry_stalled_jobs(runtime.queue.app, seconds_since_heartbeat=1)
    job = await _wait_finished(runtime, job_id)
    await opener
    await _assert_complete(runtime, job)
    for url in done_before:  # pages finished before the kill were not fetched again
        assert site.hits_for(url.removeprefix(site.base)) == 1, url
