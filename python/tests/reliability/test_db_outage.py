"""R9: the database stops for ARCHON_OUTAGE_SECONDS (default 30) while the API serves and jobs are queued.
The API answers 503 (never 500) within a second (not after the pool timeout), /health reports the database,
everything recovers by itself within 10 s of the restart, and the queued jobs complete afterwards (none lost)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from archon.app import create_app
from archon.db import migrations
from archon.db.embedded import EmbeddedPostgres
from tests.conftest import make_settings
from tests.knowledge.crawling.site import Response, Site, html_page, prose
from tests.reliability.conftest import env_int

OUTAGE = env_int("ARCHON_OUTAGE_SECONDS", 30)
PROBES = [("GET", "/api/knowledge-items", None), ("GET", "/api/projects", None), ("GET", "/api/tasks", None),
          ("POST", "/api/rag/query", {"query": "hello"}), ("GET", "/api/rag/sources", None),
          ("GET", "/api/credentials", None), ("GET", "/api/settings", None)]


async def _upload(client: httpx.AsyncClient, n: int) -> str:
    response = await client.post("/api/documents/upload", files={
        "file": (f"d{n}.md", f"# Doc {n}\n\nOutage survival text number {n}.".encode(), "text/markdown")})
    assert response.status_code == 200, response.text
    return str(response.json()["progressId"])


@asynccontextmanager
async def outage_app(tmp_path: Path, *, run_worker: bool, **overrides: Any
                     ) -> AsyncIterator[tuple[EmbeddedPostgres, httpx.AsyncClient]]:
    embedded = EmbeddedPostgres(tmp_path / "outage")
    url = await asyncio.to_thread(embedded.start)
    await asyncio.to_thread(migrations.apply, url)
    application: Any = create_app(make_settings(url, tmp_path / "data", run_worker=run_worker, **overrides))
    try:
        async with application.router.lifespan_context(application), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
                base_url="http://127.0.0.1", timeout=60) as client:
            yield embedded, client
    finally:
        await asyncio.to_thread(embedded.stop)


async def _outage(embedded: EmbeddedPostgres, client: httpx.AsyncClient) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    await asyncio.to_thread(embedded.stop)
    down_at = time.monotonic()
    health_503_after: float | None = None
    timings: list[tuple[float, str, float]] = []  # (seconds, path, seconds into the outage)
    while time.monotonic() - down_at < OUTAGE:
        health = await client.get("/health")
        if health.status_code == 503 and health_503_after is None:
            health_503_after = time.monotonic() - down_at
            assert "database" in health.json()["failing"]
        for method, path, body in PROBES:
            started = time.monotonic()
            response = await client.request(method, path, json=body)
            timings.append((round(time.monotonic() - started, 3), path, round(started - down_at, 1)))
            statuses[str(response.status_code)] += 1
            assert response.status_code == 503, (path, response.status_code, response.text[:200])
            assert response.json()["error"] == "database unavailable"
        await asyncio.sleep(1)
    await asyncio.to_thread(embedded.start)
    restored_at = time.monotonic()
    async with asyncio.timeout(30):
        while (await client.get("/health")).status_code != 200:
            await asyncio.sleep(0.2)
    ready_after = time.monotonic() - restored_at
    for method, path, body in PROBES:
        assert (await client.request(method, path, json=body)).status_code == 200, path
    api_after = time.monotonic() - restored_at
    return {"outage_s": OUTAGE, "health_503_after_s": health_503_after, "ready_after_restart_s": round(ready_after, 2),
            "api_200_after_restart_s": round(api_after, 2), "slowest_503_s": max(timings)[0],
            "slowest_503s": sorted(timings, reverse=True)[:3],
            "api_statuses_during_outage": dict(statuses)}


async def test_database_outage_is_503_and_the_api_recovers(tmp_path: Path) -> None:
    async with outage_app(tmp_path, run_worker=False) as (embedded, client):
        report = await _outage(embedded, client)
    print(f"\noutage: {report}")
    assert report["health_503_after_s"] is not None and report["health_503_after_s"] < 5
    assert report["ready_after_restart_s"] < 10
    assert set(report["api_statuses_during_outage"]) == {"503"}
    assert report["slowest_503_s"] < 1.0, report  # fail fast: not the 10 s pool timeout


CRAWL_PAGES = 24


def _slow_page(i: int) -> Any:
    def route() -> Response:
        time.sleep(1.0)  # the crawl is still running when the database stops
        links = [f"/o/{j}" for j in (i + 1, i + 2, i + 3) if j < CRAWL_PAGES]
        return Response(html_page(f"Outage page {i}", prose(f"outage-{i}", n=3), links=links))
    return route


async def _wait_finished(client: httpx.AsyncClient, jobs: list[str], seconds: float) -> list[dict[str, Any]]:
    async with asyncio.timeout(seconds):
        while True:
            states = [(await client.get(f"/api/progress/{job}")).json() for job in jobs]
            if all(s["status"] in ("completed", "error", "cancelled") for s in states):
                return states
            await asyncio.sleep(1)


async def test_queued_and_running_jobs_complete_after_an_outage(tmp_path: Path) -> None:
    """The in-process worker dies with the database and is restarted by its supervisor: the crawl that was
    running resumes (every page once), uploads queued before and after the outage complete."""
    site = Site("127.0.0.1").start()
    try:
        for i in range(CRAWL_PAGES):
            site.set(f"/o/{i}", _slow_page(i))
        async with outage_app(tmp_path, run_worker=True, crawl_allowed_hosts=[site.hostport]) as (embedded, client):
            crawl = await client.post("/api/knowledge-items/crawl", json={
                "url": site.url("/o/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": CRAWL_PAGES})
            assert crawl.status_code == 200, crawl.text
            crawl_id, source_id = crawl.json()["progressId"], crawl.json()["sourceId"]
            async with asyncio.timeout(60):
                while (await client.get(f"/api/progress/{crawl_id}")).json().get("processedPages", 0) < 2:
                    await asyncio.sleep(0.2)
            jobs = [await _upload(client, n) for n in range(3)]
            before = (await client.get(f"/api/progress/{crawl_id}")).json()
            assert before["status"] == "running" and before["processedPages"] < CRAWL_PAGES, before
            report = await _outage(embedded, client)
            jobs += [await _upload(client, n) for n in range(3, 5)]
            restored = time.monotonic()
            states = await _wait_finished(client, [crawl_id, *jobs], 150)
            report["jobs_done_after_restore_s"] = round(time.monotonic() - restored, 1)
            assert [s["status"] for s in states] == ["completed"] * 6, [(s["status"], s.get("error")) for s in states]
            pages = (await client.get(f"/api/knowledge-items/{source_id}/pages", params={"per_page": 50})).json()
            urls = sorted(p["url"] for p in pages["items"])
            assert len(urls) == CRAWL_PAGES == len(set(urls)), urls
            health = (await client.get("/health")).json()
            assert health["services"]["worker"] == "running"
    finally:
        site.stop()
    print(f"\noutage with jobs: {report}")
