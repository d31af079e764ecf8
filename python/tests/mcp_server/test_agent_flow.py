"""An agent's whole loop over MCP: crawl a local docs site, wait for it, search it, file a task, see it in REST."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.knowledge.crawling.site import Site, build_docs
from tests.mcp_server.conftest import error_text, http_session, structured


@pytest.fixture(scope="module", autouse=True)
def _crawl4ai_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ.setdefault("CRAWL4_AI_BASE_DIRECTORY", str(tmp_path_factory.mktemp("crawl4ai")))


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site("127.0.0.1").start()
    build_docs(server)
    yield server
    server.stop()


@pytest.fixture
async def crawling_app(database_url: str, tmp_path: Path, site: Site) -> AsyncIterator[Any]:
    from archon.app import create_app

    app: Any = create_app(
        make_settings(database_url, tmp_path / "data", crawl_allowed_hosts=[site.hostport], run_worker=True)
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_crawl_wait_search_and_file_a_task(crawling_app: Any, site: Site) -> None:
    async with (
        LiveServer(crawling_app.state.mcp_http_app, lifespan="on") as live,
        http_session(f"{live.url}/mcp") as session,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=crawling_app), base_url="http://127.0.0.1") as rest,
    ):
        started = structured(
            await session.call_tool(
                "crawl_url",
                {
                    "url": site.url("/docs/"),
                    "options": {"crawl_type": "recursive", "max_depth": 3, "max_pages": 20, "tags": ["demo"]},
                },
            )
        )
        assert started["status"] == "queued" and "get_crawl_status" in started["next_step"]

        async with asyncio.timeout(180):
            while True:
                status = structured(
                    await session.call_tool("get_crawl_status", {"progress_id": started["progress_id"]})
                )
                if status["finished"]:
                    break
                await asyncio.sleep(0.5)
        assert status["status"] == "completed", status
        assert status["processed_pages"] >= 6 and status["chunks_stored"] > 0
        assert status["source_id"] == started["source_id"]

        found = structured(
            await session.call_tool("search_knowledge", {"query": "topic-c1 module retries and timeouts", "limit": 5})
        )
        urls = [r["url"] for r in found["results"]]
        assert site.url("/docs/c1.html") in urls
        hit = found["results"][urls.index(site.url("/docs/c1.html"))]
        assert hit["source_id"] == started["source_id"] and hit["indexed_at"] and found["untrusted_content"]

        project = structured(await session.call_tool("create_project", {"title": "Use the demo docs"}))
        task = structured(
            await session.call_tool(
                "create_task",
                {
                    "project_id": project["id"],
                    "title": "Apply topic-c1 retry settings",
                    "description": f"See {hit['url']}",
                    "assignee": "Archon",
                },
            )
        )
        visible = await rest.get(f"/api/tasks/{task['id']}")
        assert visible.status_code == 200
        assert visible.json()["title"] == "Apply topic-c1 retry settings"
        assert visible.json()["description"] == f"See {site.url('/docs/c1.html')}"


async def test_crawl_url_refuses_blocked_and_invalid_targets(crawling_app: Any) -> None:
    async with (
        LiveServer(crawling_app.state.mcp_http_app, lifespan="on") as live,
        http_session(f"{live.url}/mcp") as session,
    ):
        for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.2:9/", "file:///etc/passwd"):
            result = await session.call_tool("crawl_url", {"url": url})
            assert result.is_error and "url" in error_text(result), url
        bad = await session.call_tool("crawl_url", {"url": "http://127.0.0.1/", "options": {"max_pages": 0}})
        assert bad.is_error and "max_pages" in error_text(bad)
