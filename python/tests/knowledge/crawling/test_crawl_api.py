"""The crawl REST API with a running worker: validation, SSRF refusal, progress, cancel, refresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.service import CrawlService
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.conftest import page_urls
from tests.knowledge.crawling.site import Response, Site, build_docs, html_page, prose, sitemap


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport], run_worker=True)


async def wait_job(runtime: Runtime, job_id: str, done: Callable[[JobView], bool], timeout: float = 60) -> JobView:
    jobs = JobService(runtime.db)
    async with asyncio.timeout(timeout):
        while True:
            job = await jobs.get(job_id)
            if done(job):
                return job
            await asyncio.sleep(0.1)


def runtime_of(app: Any) -> Runtime:
    return app.state.runtime  # type: ignore[no-any-return]


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://x.example", "knowledge_type": "fiction"}, "knowledge_type"),
    ({"url": "http://x.example", "tags": [str(i) for i in range(11)]}, "tags"),
    ({"url": "http://x.example", "crawl_type": "deep"}, "crawl_type"),
    ({"url": "http://x.example", "max_depth": -1}, "max_depth"),
    ({"url": "http://x.example", "max_pages": 0}, "max_pages"),
    ({"url": "http://x.example", "render": "gpu"}, "render"),
    ({"url": "http://x.example", "speed": "max"}, "speed"),
    ({"knowledge_type": "technical"}, "url"),
])
async def test_bad_crawl_requests_name_the_field(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    response = await client.post("/api/knowledge-items/crawl", json=body)
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json()["detail"]}


@pytest.mark.parametrize("path", ["/secret", "/"])
async def test_blocked_seed_is_refused_at_once(client: httpx.AsyncClient, canary: Site, path: str) -> None:
    for url in (canary.url(path), f"http://localhost:{canary.port}{path}", "file:///etc/passwd",
                f"http://2130706434:{canary.port}{path}", "http://169.254.169.254/latest/meta-data/"):
        response = await client.post("/api/knowledge-items/crawl", json={"url": url})
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["field"] == "url"
    assert canary.hits == []


async def test_crawl_runs_in_the_worker_with_monotonic_progress(app: Any, client: httpx.AsyncClient,
                                                                site: Site) -> None:
    build_docs(site)
    response = await client.post("/api/knowledge-items/crawl", json={
        "url": site.url("/docs/"), "crawl_type": "recursive", "max_depth": 3, "tags": ["test"],
        "knowledge_type": "technical"})
    assert response.status_code == 200, response.text
    started = response.json()
    seen: list[float] = []
    jobs = JobService(runtime_of(app).db)
    async with asyncio.timeout(60):
        while True:
            job = await jobs.get(started["progressId"])
            seen.append(job.percentage)
            if job.finished:
                break
            await asyncio.sleep(0.05)
    assert job.status == "completed", job.error
    assert seen == sorted(seen) and seen[-1] == 100
    data = job.progress_data()
    assert data["totalPages"] == data["processedPages"] == 6 and data["chunksStored"] > 0
    item = (await client.get(f"/api/knowledge-items/{started['sourceId']}")).json()
    assert item["status"] == "ready" and item["page_count"] == 6

    again = await client.post("/api/knowledge-items/crawl", json={"url": site.url("/docs/")})
    assert again.json()["sourceId"] == started["sourceId"]  # same canonical URL, same source
    await wait_job(runtime_of(app), again.json()["progressId"], lambda j: j.finished)


async def test_cancel_stops_within_seconds_and_writes_nothing_after(app: Any, client: httpx.AsyncClient,
                                                                   site: Site) -> None:
    def slow(i: int) -> Callable[[], Response]:
        def route() -> Response:
            time.sleep(0.2)
            return Response(html_page(f"Page {i}", prose(f"page-{i}"), links=[f"/p/{i + 1}", f"/p/{i + 2}"]))
        return route

    for i in range(200):
        site.set(f"/p/{i}", slow(i))
    runtime = runtime_of(app)
    started = (await client.post("/api/knowledge-items/crawl", json={
        "url": site.url("/p/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": 200})).json()
    await wait_job(runtime, started["progressId"], lambda j: j.progress.get("processedPages", 0) >= 3)
    asked = time.monotonic()
    await JobService(runtime.db).request_cancel(started["progressId"])
    job = await wait_job(runtime, started["progressId"], lambda j: j.finished, timeout=10)
    assert job.status == "cancelled" and time.monotonic() - asked < 5
    pages = await page_urls(runtime, started["sourceId"])
    hits = len(site.hits)
    await asyncio.sleep(1.0)
    assert await page_urls(runtime, started["sourceId"]) == pages and len(site.hits) == hits
    item = (await client.get(f"/api/knowledge-items/{started['sourceId']}")).json()
    assert item["status"] == "cancelled"


async def test_refresh_reembeds_only_changed_pages_and_drops_vanished(app: Any, client: httpx.AsyncClient,
                                                                      site: Site) -> None:
    runtime = runtime_of(app)
    paths = [f"/r/{i}.html" for i in range(5)]
    for i, path in enumerate(paths):
        headers = {"ETag": f'"v1-{i}"'} if i % 2 == 0 else {}
        site.set(path, Response(html_page(f"R{i}", prose(f"refresh-{i}")), headers=headers))
    site.set("/sitemap.xml", Response(sitemap([site.url(p) for p in paths]), content_type="application/xml"))
    started = (await client.post("/api/knowledge-items/crawl", json={
        "url": site.url("/sitemap.xml"), "update_frequency_days": 7})).json()
    assert (await wait_job(runtime, started["progressId"], lambda j: j.finished)).status == "completed"

    async def snapshot() -> dict[str, tuple[datetime, list[int]]]:
        async with runtime.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT p.url, p.indexed_at, array_agg(c.id ORDER BY c.id) AS ids FROM archon_pages p "
                "JOIN archon_chunks c ON c.page_id = p.id WHERE p.source_id = %s GROUP BY p.url, p.indexed_at",
                (started["sourceId"],))).fetchall()
        return {r["url"]: (r["indexed_at"], r["ids"]) for r in rows}

    before = await snapshot()
    assert len(before) == 5
    site.set(paths[0], Response(html_page("R0", prose("changed-zero")), headers={"ETag": '"v2-0"'}))
    site.set(paths[1], Response(html_page("R1", prose("changed-one"))))
    site.remove(paths[4])
    refreshed = await client.post(f"/api/knowledge-items/{started['sourceId']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    job = await wait_job(runtime, refreshed.json()["progressId"], lambda j: j.finished)
    assert job.status == "completed" and job.kind == "refresh", job.error
    after = await snapshot()
    assert set(after) == {site.url(p) for p in paths[:4]}
    changed = {url for url in after if after[url] != before[url]}
    assert changed == {site.url(paths[0]), site.url(paths[1])}
    assert site.hits_for(paths[2]) == 2  # the ETag page was asked again and answered 304
    assert job.progress["pagesDeleted"] == 1 and job.progress["pagesUnchanged"] == 2

    missing = await client.post("/api/knowledge-items/src_0000000000000000/refresh")
    assert missing.status_code == 404


async def test_scheduled_refresh_runs_when_due(app: Any, client: httpx.AsyncClient, site: Site) -> None:
    runtime = runtime_of(app)
    build_docs(site)
    started = (await client.post("/api/knowledge-items/crawl", json={
        "url": site.url("/docs/a1.html"), "crawl_type": "single", "update_frequency_days": 1})).json()
    await wait_job(runtime, started["progressId"], lambda j: j.finished)
    service = CrawlService(runtime)
    assert await service.refresh_due_sources() == []  # next refresh is a day away
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT next_refresh_at FROM archon_sources WHERE id = %s",
                                        (started["sourceId"],))).fetchone()
        assert row["next_refresh_at"] > datetime.now(UTC) + timedelta(hours=23)
        await conn.execute("UPDATE archon_sources SET next_refresh_at = now() - interval '1 minute' WHERE id = %s",
                           (started["sourceId"],))
    due = await service.refresh_due_sources()
    assert len(due) == 1
    assert (await wait_job(runtime, due[0], lambda j: j.finished)).status == "completed"
    periodic = {task.task.name: task.cron for task in runtime.queue.app.periodic_registry.periodic_tasks.values()}
    assert periodic["archon:refresh_due_sources"] == "*/5 * * * *"


async def test_websocket_follows_a_crawl_to_completion(live_api: Any, site: Site) -> None:
    import json

    import websockets

    build_docs(site)
    async with httpx.AsyncClient(base_url=live_api.url) as http:
        started = (await http.post("/api/knowledge-items/crawl", json={
            "url": site.url("/docs/"), "crawl_type": "recursive", "max_depth": 3})).json()
    messages: list[dict[str, Any]] = []
    ws_url = live_api.url.replace("http://", "ws://") + f"/api/crawl-progress/{started['progressId']}"
    async with websockets.connect(ws_url) as ws:
        async with asyncio.timeout(60):
            while not messages or messages[-1]["type"] not in ("crawl_completed", "crawl_error"):
                messages.append(json.loads(await ws.recv()))
    assert messages[0]["type"] == "connection_established"
    final = messages[-1]
    assert final["type"] == "crawl_completed", final
    percentages = [m["data"]["percentage"] for m in messages[1:]]
    assert percentages == sorted(percentages) and percentages[-1] == 100
    assert final["data"]["totalPages"] == final["data"]["processedPages"] == 6
    assert final["data"]["sourceId"] == started["sourceId"] and final["data"]["chunksStored"] > 0
