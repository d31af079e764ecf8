"""Fixtures for crawler tests: the local docs site, a canary listener, settings that allow only the site."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.service import KnowledgeService, SourceView
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.crawling.site import Site


@pytest.fixture(scope="session", autouse=True)
def _crawl4ai_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    # crawl4ai writes under this directory when imported (converter processes inherit it).
    os.environ.setdefault("CRAWL4_AI_BASE_DIRECTORY", str(tmp_path_factory.mktemp("crawl4ai")))


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site("127.0.0.1").start()
    yield server
    server.stop()


@pytest.fixture
def canary() -> Iterator[Site]:
    """A listener on 127.0.0.2 (not allowed): any request it receives is an SSRF."""
    server = Site("127.0.0.2").start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    return make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport])


async def run_crawl(runtime: Runtime, **request: Any) -> tuple[JobView, SourceView]:
    """Start a crawl through the service and run its job body in this process (no worker needed)."""
    service = CrawlService(runtime)
    started = await service.start_crawl(CrawlRequest(**request))
    await service.run(started.progressId)
    job = await JobService(runtime.db).get(started.progressId)
    source = await KnowledgeService(runtime).get_source(started.sourceId)
    return job, source


async def source_chunks(runtime: Runtime, source_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        return list(await (await conn.execute(
            "SELECT p.url, c.chunk_index, c.content FROM archon_chunks c JOIN archon_pages p ON p.id = c.page_id "
            "WHERE c.source_id = %s ORDER BY p.url, c.chunk_index", (source_id,))).fetchall())


async def page_urls(runtime: Runtime, source_id: str) -> list[str]:
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute("SELECT url FROM archon_pages WHERE source_id = %s ORDER BY url",
                                         (source_id,))).fetchall()
    return [str(r["url"]) for r in rows]
