"""Crawl settings (concurrency, per-host rate, page timeout, robots, render mode) apply to the next crawl job.

Settings change through PUT /api/settings; each crawl runs through CrawlService against a site served on
127.0.0.1 that records when each request started and how many were in flight.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.site import Response, Site, html_page

PAGES = 4
PROSE = "<p>" + "Widgets are configured through the frobnicator, which reads its options at start. " * 4 + "</p>"
SHELL = """<html><head><title>Script shell</title></head><body><div id="app"></div><script>
document.getElementById('app').innerHTML = '<main><h1>Written by script</h1><p>' +
    'Rendering in the browser fills this article with enough words to be indexed. '.repeat(4) + '</p></main>';
</script></body></html>"""


@pytest.fixture(scope="module", autouse=True)
def _crawl4ai_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    # crawl4ai writes under this directory when imported (the converter processes inherit it).
    os.environ.setdefault("CRAWL4_AI_BASE_DIRECTORY", str(tmp_path_factory.mktemp("crawl4ai")))


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site("127.0.0.1").start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport])


class Meter:
    """Start times and the peak number of requests in flight, per path prefix."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.starts: list[float] = []

    def page(self, title: str, links: list[str], delay: float) -> Callable[[], Response]:
        def route() -> Response:
            with self.lock:
                self.starts.append(time.monotonic())
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                time.sleep(delay)
                return Response(html_page(title, PROSE, links=links))
            finally:
                with self.lock:
                    self.in_flight -= 1
        return route


def _serve(site: Site, prefix: str, delay: float = 0.0) -> Meter:
    """A hub page linking PAGES - 1 leaves, all under `prefix`."""
    meter = Meter()
    leaves = [f"{prefix}/{i}" for i in range(1, PAGES)]
    site.set(f"{prefix}/0", meter.page(f"Hub {prefix}", leaves, delay))
    for path in leaves:
        site.set(path, meter.page(f"Leaf {path}", [], delay))
    return meter


async def _crawl(app: object, site: Site, path: str, **options: Any) -> JobView:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    service = CrawlService(runtime)
    request = CrawlRequest(url=site.url(path), crawl_type="recursive", max_depth=1, **options)
    started = await service.start_crawl(request)
    await service.run(started.progressId)
    return await JobService(runtime.db).get(started.progressId)


async def _put(api: httpx.AsyncClient, **patch: Any) -> None:
    response = await api.put("/api/settings", json=patch)
    assert response.status_code == 200, response.text


async def test_crawl_concurrency_and_per_host_rate(app: object, api: httpx.AsyncClient, site: Site) -> None:
    await _put(api, crawl_concurrency=1)
    serial = _serve(site, "/one", delay=0.1)
    assert (await _crawl(app, site, "/one/0")).status == "completed"
    assert serial.peak == 1 and len(serial.starts) == PAGES

    await _put(api, crawl_concurrency=4)
    parallel = _serve(site, "/four", delay=0.6)
    assert (await _crawl(app, site, "/four/0")).status == "completed"
    assert parallel.peak >= 2, parallel.peak  # the leaves are fetched together

    await _put(api, crawl_per_host_rate=5)  # one request start every 0.2 s on this host
    paced = _serve(site, "/paced")
    assert (await _crawl(app, site, "/paced/0")).status == "completed"
    gaps = [b - a for a, b in zip(paced.starts, paced.starts[1:], strict=False)]
    # Measured where the server sees them (network jitter on a loaded machine): the span proves the pace.
    assert len(gaps) == PAGES - 1 and min(gaps) >= 0.1 and sum(gaps) >= 0.9 * 0.2 * len(gaps), gaps


async def test_timeout_robots_and_render_defaults(app: object, api: httpx.AsyncClient, site: Site) -> None:
    slow = _serve(site, "/slow", delay=1.3)
    assert (await _crawl(app, site, "/slow/0", max_pages=1)).status == "completed"  # 30 s default: no failure
    assert len(slow.starts) == 1
    await _put(api, page_timeout_seconds=1)
    _serve(site, "/slower", delay=1.3)
    job = await _crawl(app, site, "/slower/0", max_pages=1)
    assert job.status == "error" and "no page could be crawled" in (job.error or ""), job.error
    await _put(api, page_timeout_seconds=30)

    site.set("/robots.txt", Response(b"User-agent: *\nDisallow: /a/private\nDisallow: /b/private\n"
                                     b"Disallow: /c/private\n", content_type="text/plain"))
    for prefix in ("/a", "/b", "/c"):
        site.set(f"{prefix}/0", Response(html_page(f"Hub {prefix}", PROSE, links=[f"{prefix}/private"])))
        site.set(f"{prefix}/private", Response(html_page("Private", PROSE)))
    assert (await _crawl(app, site, "/a/0")).status == "completed"
    assert site.hits_for("/a/private") == 0  # respect_robots defaults to true
    await _put(api, respect_robots=False)
    assert (await _crawl(app, site, "/b/0")).status == "completed"
    assert site.hits_for("/b/private") == 1  # a request that does not say follows the setting
    assert (await _crawl(app, site, "/c/0", respect_robots=True)).status == "completed"
    assert site.hits_for("/c/private") == 0  # a request that says wins

    # default_render_mode=http: a script-only page is not sent to the browser, so it has no content.
    site.set("/shell", Response(SHELL.encode()))
    await _put(api, default_render_mode="http")
    job = await _crawl(app, site, "/shell")
    assert job.status == "error" and "no page could be crawled" in (job.error or ""), job.error
    stored = await CrawlService(app.state.runtime).knowledge.get_source(job.source_id)  # type: ignore[attr-defined,arg-type]
    assert stored.config.get("render") is None  # the source keeps "not given": a refresh follows the setting
