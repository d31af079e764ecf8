"""A real `archon worker` killed with SIGKILL mid-crawl: the retried job resumes from the frontier,
refetches no finished page, and ends with exactly the chunks of an uninterrupted crawl."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archon.jobs.recovery import retry_stalled_jobs
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site, html_page, prose

PAGES = 40


def _slow_page(i: int) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(0.08)
        links = [f"/k/{j}" for j in (2 * i + 1, 2 * i + 2, i + 1) if j < PAGES]
        return Response(html_page(f"Page {i}", prose(f"resume-{i}", n=4), links=links))
    return route


class Worker:
    """`python -m archon worker` against the test database."""

    def __init__(self, database_url: str, data_dir: Path, site: Site) -> None:
        self.env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url, "ARCHON_DATA_DIR": str(data_dir),
                    "EMBEDDING_PROVIDER": "hash", "ARCHON_CRAWL_ALLOWED_HOSTS": site.hostport,
                    "LOG_LEVEL": "INFO", "ARCHON_SHUTDOWN_GRACE": "1", "CRAWL4AI_NO_CLOUD_NOTICE": "1",
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "CRAWL4_AI_BASE_DIRECTORY": os.environ.get("CRAWL4_AI_BASE_DIRECTORY", str(data_dir))}
        self.data_dir = data_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.data_dir.parent / f"worker{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "archon", "worker"], env=self.env, cwd=self.data_dir.parent,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def resume_after_kill(runtime: Runtime, workers: Worker, job_id: str) -> JobView:
    """Retry the killed worker's job, start a new worker, and wait until the job completed as its 2nd attempt."""
    await asyncio.sleep(1.5)  # the dead worker's heartbeat goes stale
    # The crawl job, plus a `crawl_helper` task the dead worker may have held (scale-out), are retried.
    assert await retry_stalled_jobs(runtime.queue.app, seconds_since_heartbeat=1) >= 1
    workers.start()
    jobs = JobService(runtime.db)
    async with asyncio.timeout(120):
        while not (job := await jobs.get(job_id)).finished:
            await asyncio.sleep(0.1)
    assert job.status == "completed", job.error
    assert job.attempts == 2 and any("resuming" in line for line in job.log)
    return job


@pytest.fixture
def workers(database_url: str, tmp_path: Path, site: Site) -> Iterator[Worker]:
    worker = Worker(database_url, tmp_path / "worker-data", site)
    yield worker
    worker.stop_all()


async def test_sigkill_mid_crawl_resumes_without_refetching(runtime: Runtime, site: Site, workers: Worker) -> None:
    for i in range(PAGES):
        site.set(f"/k/{i}", _slow_page(i))
    request = {"url": site.url("/k/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": PAGES}

    # Reference: the same crawl, uninterrupted.
    job, source = await run_crawl(runtime, **request)
    assert job.status == "completed", job.error
    reference = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, source.source_id)]
    assert len({url for url, _, _ in reference}) == PAGES
    await KnowledgeService(runtime).delete_source(source.source_id)
    with site.lock:
        site.hits.clear()

    started = await CrawlService(runtime).start_crawl(CrawlRequest(**request))
    frontier = FrontierRepository(runtime.db)
    first = workers.start()
    async with asyncio.timeout(90):
        while (await frontier.counts(started.progressId)).get("done", 0) < 8:
            assert first.poll() is None, (workers.data_dir.parent / "worker0.log").read_text()
            await asyncio.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    rows = await frontier.job_rows(started.progressId)
    done_before = {r["url"] for r in rows if r["status"] == "done"}
    assert 8 <= len(done_before) < PAGES
    assert (await JobService(runtime.db).get(started.progressId)).status == "running"

    await resume_after_kill(runtime, workers, started.progressId)

    resumed = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, started.sourceId)]
    assert resumed == reference  # same chunk set, no duplicates (ordered by url, chunk_index)
    for url in done_before:  # finished pages were neither fetched nor embedded again
        assert site.hits_for(url.removeprefix(site.base)) == 1, url
    assert job.progress_data()["chunksStored"] == len(reference)
