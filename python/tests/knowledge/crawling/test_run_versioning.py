"""Run versioning of re-crawls (scorecard R6): a refresh is invisible until it completes, then it
replaces the previous run in one transaction; a failed or cancelled refresh leaves the previous run."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.config import Settings
from archon.jobs.service import JobService
from archon.knowledge.staging import StagingRepository
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.site import Response, Site, html_page, prose, sitemap
from tests.knowledge.crawling.test_crawl_api import runtime_of, wait_job

PAGES = 10
CHANGED = range(5)  # pages 0-4 change; 5-8 stay the same; 9 vanishes
VANISHED = 9


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport], run_worker=True)


def path_of(i: int) -> str:
    return f"/v/{i}.html"


def page(i: int, version: int) -> Response:
    return Response(html_page(f"Page {i}", prose(f"v{version}marker{i}")))


def gated(response: Response, gate: threading.Event) -> Any:
    def route() -> Response:
        gate.wait(30)  # the site's handler threads hold these pages until the test opens the gate
        return response
    return route


async def live_chunks(runtime: Runtime, source_id: str) -> dict[int, tuple[str, str]]:
    """chunk id -> (page url, content) of everything readers can see."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT c.id, p.url, c.content FROM archon_chunks c JOIN archon_pages p ON p.id = c.page_id "
            "WHERE c.source_id = %s", (source_id,))).fetchall()
    return {int(r["id"]): (str(r["url"]), str(r["content"])) for r in rows}


async def orphans(runtime: Runtime, source_id: str) -> int:
    """Chunks without a vector plus vectors without a chunk: must stay 0."""
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "SELECT (SELECT count(*) FROM archon_chunks c WHERE c.source_id = %(s)s AND NOT EXISTS "
            "(SELECT 1 FROM archon_chunk_embeddings e WHERE e.chunk_id = c.id)) + "
            "(SELECT count(*) FROM archon_chunk_embeddings e WHERE e.source_id = %(s)s AND NOT EXISTS "
            "(SELECT 1 FROM archon_chunks c WHERE c.id = e.chunk_id)) AS n", {"s": source_id})).fetchone()
    assert row is not None
    return int(row["n"])


async def first_crawl(client: httpx.AsyncClient, runtime: Runtime, site: Site) -> str:
    for i in range(PAGES):
        site.set(path_of(i), page(i, 1))
    site.set("/sitemap.xml", Response(sitemap([site.url(path_of(i)) for i in range(PAGES)]),
                                      content_type="application/xml"))
    started = (await client.post("/api/knowledge-items/crawl", json={"url": site.url("/sitemap.xml")})).json()
    job = await wait_job(runtime, started["progressId"], lambda j: j.finished)
    assert job.status == "completed", job.error
    assert job.progress["staged"] is False  # a first crawl has no previous run: pages show as they arrive
    return str(started["sourceId"])


def change_site(site: Site, gate: threading.Event) -> None:
    """Pages 0-4 get new content, 5-8 are unchanged but held at the gate, 9 is gone."""
    for i in range(PAGES):
        if i in CHANGED:
            site.set(path_of(i), page(i, 2))
        elif i == VANISHED:
            site.remove(path_of(i))
        else:
            site.set(path_of(i), gated(page(i, 1), gate))


async def search_contents(client: httpx.AsyncClient, query: str, mode: str) -> list[str]:
    response = await client.post("/api/rag/query", json={"query": query, "search_mode": mode, "match_count": 50})
    assert response.status_code == 200, response.text
    return [str(r["content"]) for r in response.json()["results"]]


async def assert_previous_run(client: httpx.AsyncClient, runtime: Runtime, source_id: str,
                              before: dict[int, tuple[str, str]]) -> None:
    """Readers see exactly the first run: same chunk ids and contents, no new text anywhere."""
    assert await live_chunks(runtime, source_id) == before
    listed = (await client.get(f"/api/knowledge-items/{source_id}/chunks", params={"per_page": 100})).json()
    assert {int(c["id"]) for c in listed["items"]} == set(before)
    pages = (await client.get(f"/api/knowledge-items/{source_id}/pages", params={"per_page": 100})).json()
    assert len(pages["items"]) == PAGES
    for mode in ("hybrid", "keyword", "vector"):
        for query in ("v2marker0 concept", "v2marker3 requests retries", "v1marker2 concept"):
            contents = await search_contents(client, query, mode)
            assert contents, (mode, query)
            assert not any("v2marker" in text for text in contents), (mode, query)


async def refresh(client: httpx.AsyncClient, source_id: str) -> str:
    response = await client.post(f"/api/knowledge-items/{source_id}/refresh")
    assert response.status_code == 200, response.text
    return str(response.json()["progressId"])


async def wait_staged(runtime: Runtime, job_id: str, count: int) -> None:
    staging = StagingRepository(runtime.db)
    async with asyncio.timeout(30):
        while await staging.count(job_id) < count:
            await asyncio.sleep(0.05)


async def test_a_refresh_stays_invisible_until_it_completes(app: Any, client: httpx.AsyncClient, site: Site) -> None:
    runtime = runtime_of(app)
    source_id = await first_crawl(client, runtime, site)
    before = await live_chunks(runtime, source_id)
    gate = threading.Event()
    change_site(site, gate)
    try:
        job_id = await refresh(client, source_id)
        await wait_staged(runtime, job_id, len(CHANGED))  # every changed page is staged; 5-8 are held
        assert not (await JobService(runtime.db).get(job_id)).finished
        await assert_previous_run(client, runtime, source_id, before)
    finally:
        gate.set()
    job = await wait_job(runtime, job_id, lambda j: j.finished)
    assert job.status == "completed", job.error
    assert job.progress["staged"] is True
    assert job.progress["pagesDeleted"] == 1 and job.progress["pagesUnchanged"] == 4

    after = await live_chunks(runtime, source_id)
    urls = {url for url, _ in after.values()}
    assert urls == {site.url(path_of(i)) for i in range(PAGES) if i != VANISHED}
    for i in CHANGED:
        texts = [text for url, text in after.values() if url == site.url(path_of(i))]
        assert texts and all(f"v1marker{i}" not in t for t in texts) and any(f"v2marker{i}" in t for t in texts)
    # Unchanged pages kept their chunks (same ids: not re-embedded); changed pages got new ones.
    unchanged = {cid for cid, (url, _) in before.items()
                 if url in {site.url(path_of(i)) for i in range(PAGES) if i not in CHANGED and i != VANISHED}}
    assert unchanged and unchanged <= set(after)
    assert set(after) - unchanged == {cid for cid, (url, _) in after.items()
                                      if url in {site.url(path_of(i)) for i in CHANGED}}
    assert not (set(after) - unchanged) & set(before)
    assert any("v2marker0" in text for text in await search_contents(client, "v2marker0 concept", "keyword"))
    assert await StagingRepository(runtime.db).count(job_id) == 0
    assert await orphans(runtime, source_id) == 0
    assert job.progress["chunksStored"] == len(after)


# Storage fails at ~50 %: while the 3rd changed page is staged, or while the swap writes the 3rd page.
_FAIL_STAGE = """
CREATE FUNCTION test_fail_stage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4242);  -- concurrent fetchers stage one at a time: the count is exact
    IF (SELECT count(*) FROM archon_staged_pages WHERE job_id = NEW.job_id) >= 2 THEN
        RAISE EXCEPTION 'injected storage failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_stage BEFORE INSERT ON archon_staged_pages FOR EACH ROW EXECUTE FUNCTION test_fail_stage();
"""
_FAIL_SWAP = """
CREATE FUNCTION test_fail_swap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT page_id) FROM archon_chunks WHERE content LIKE '%v2marker%') >= 2 THEN
        RAISE EXCEPTION 'injected storage failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_swap BEFORE INSERT ON archon_chunks FOR EACH ROW
    WHEN (NEW.content LIKE '%v2marker%') EXECUTE FUNCTION test_fail_swap();
"""


@pytest.mark.parametrize("failure", [_FAIL_STAGE, _FAIL_SWAP], ids=["while-staging", "during-swap"])
async def test_a_storage_failure_leaves_the_previous_run(app: Any, client: httpx.AsyncClient, site: Site,
                                                         failure: str) -> None:
    runtime = runtime_of(app)
    source_id = await first_crawl(client, runtime, site)
    before = await live_chunks(runtime, source_id)
    gate = threading.Event()
    gate.set()  # nothing held: the refresh runs until storage fails
    change_site(site, gate)
    async with runtime.db.connection() as conn:
        await conn.execute(failure)
    job = await wait_job(runtime, await refresh(client, source_id), lambda j: j.finished)
    assert job.status == "error" and "injected storage failure" in (job.error or ""), job.error
    await assert_previous_run(client, runtime, source_id, before)
    assert await StagingRepository(runtime.db).count(job.id) == 0
    assert await orphans(runtime, source_id) == 0


async def test_a_cancelled_refresh_leaves_the_previous_run(app: Any, client: httpx.AsyncClient, site: Site) -> None:
    runtime = runtime_of(app)
    source_id = await first_crawl(client, runtime, site)
    before = await live_chunks(runtime, source_id)
    gate = threading.Event()
    change_site(site, gate)
    try:
        job_id = await refresh(client, source_id)
        await wait_staged(runtime, job_id, 3)
        stop = await client.post(f"/api/knowledge-items/stop/{job_id}")
        assert stop.status_code == 200, stop.text
    finally:
        gate.set()
    job = await wait_job(runtime, job_id, lambda j: j.finished)
    assert job.status == "cancelled"
    await assert_previous_run(client, runtime, source_id, before)
    assert await StagingRepository(runtime.db).count(job_id) == 0
