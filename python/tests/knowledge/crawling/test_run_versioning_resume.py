"""A refresh whose `archon worker` is killed with SIGKILL: the previous run stays visible, the staged
pages survive, and the resumed refresh ends with exactly the pages of an uninterrupted refresh."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

from archon.jobs.service import JobService
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.staging import StagingRepository
from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site, html_page, prose, sitemap
from tests.knowledge.crawling.test_crash_resume import Worker, resume_after_kill, workers  # noqa: F401 - the fixture
from tests.knowledge.crawling.test_run_versioning import orphans

PAGES = 20
CHANGED = range(10)


def _slow(i: int, version: int) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(0.3)  # slow enough to kill the worker half-way through the refresh
        return Response(html_page(f"Page {i}", prose(f"v{version}marker{i}")))
    return route


def _publish(site: Site, version: int) -> None:
    """Version 1 of every page, or version 2 of the changed ones."""
    for i in range(PAGES):
        site.set(f"/v/{i}.html", _slow(i, version if i in CHANGED else 1))


async def _refresh_here(runtime: Runtime, source_id: str) -> None:
    service = CrawlService(runtime)
    started = await service.refresh(source_id)
    await service.run(started.progressId)
    assert (await JobService(runtime.db).get(started.progressId)).status == "completed"


async def _chunk_ids(runtime: Runtime, source_id: str) -> dict[str, list[int]]:
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT p.url, array_agg(c.id ORDER BY c.id) AS ids FROM archon_pages p JOIN archon_chunks c "
            "ON c.page_id = p.id WHERE p.source_id = %s GROUP BY p.url", (source_id,))).fetchall()
    return {str(r["url"]): list(r["ids"]) for r in rows}


async def test_a_killed_refresh_resumes_from_its_staged_pages(runtime: Runtime, site: Site,
                                                              workers: Worker) -> None:  # noqa: F811
    _publish(site, 1)
    site.set("/sitemap.xml", Response(sitemap([site.url(f"/v/{i}.html") for i in range(PAGES)]),
                                      content_type="application/xml"))
    job, source = await run_crawl(runtime, url=site.url("/sitemap.xml"))
    assert job.status == "completed", job.error
    source_id = source.source_id

    # Reference: the same refresh, uninterrupted; then back to version 1.
    _publish(site, 2)
    await _refresh_here(runtime, source_id)
    reference = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, source_id)]
    _publish(site, 1)
    await _refresh_here(runtime, source_id)
    previous = await source_chunks(runtime, source_id)
    previous_ids = await _chunk_ids(runtime, source_id)
    assert not any("v2marker" in c["content"] for c in previous)

    _publish(site, 2)
    with site.lock:
        site.hits.clear()
    started = await CrawlService(runtime).refresh(source_id)
    staging, frontier = StagingRepository(runtime.db), FrontierRepository(runtime.db)
    first = workers.start()
    async with asyncio.timeout(90):
        while await staging.count(started.progressId) < 2:
            assert first.poll() is None, (workers.data_dir.parent / "worker0.log").read_text()
            await asyncio.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    staged_before = await staging.count(started.progressId)
    done_before = {r["url"] for r in await frontier.job_rows(started.progressId) if r["status"] == "done"}
    assert staged_before >= 2 and len(done_before) < PAGES
    assert await source_chunks(runtime, source_id) == previous  # the killed refresh is invisible

    await resume_after_kill(runtime, workers, started.progressId)

    resumed = [(c["url"], c["chunk_index"], c["content"]) for c in await source_chunks(runtime, source_id)]
    assert resumed == reference  # same pages and chunks, 0 duplicates
    assert await staging.count(started.progressId) == 0 and await orphans(runtime, source_id) == 0
    for url in done_before:  # pages staged before the kill were not fetched (nor embedded) again
        assert site.hits_for(url.removeprefix(site.base)) == 1, url
    after_ids = await _chunk_ids(runtime, source_id)
    for i in range(PAGES):
        url = site.url(f"/v/{i}.html")
        assert (after_ids[url] == previous_ids[url]) == (i not in CHANGED), url
