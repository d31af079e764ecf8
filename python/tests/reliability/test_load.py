"""L1 (+R11): ARCHON_LOAD_USERS concurrent users (default 50) mix search, listing and MCP tool calls for
ARCHON_LOAD_SECONDS (default 150) against a real uvicorn socket while crawls run in the worker.
Must hold: 0 5xx, error rate < 0.1 %, /health p99 < 250 ms, memory flat (RSS growth second half < 10 %)."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.app import create_app
from archon.config import Settings
from tests.conftest import LiveServer, make_settings
from tests.knowledge.crawling.site import Site, build_docs
from tests.mcp_server.conftest import http_session
from tests.reliability.conftest import env_int

USERS = env_int("ARCHON_LOAD_USERS", 50)
SECONDS = env_int("ARCHON_LOAD_SECONDS", 150)
QUERIES = ["install the package", "configuration options", "async client", "error handling", "deploy behind proxy",
           "authentication token", "retry policy", "chunk size", "search filters", "websocket progress"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Site) -> Settings:
    # One address for 50 users: the per-client rate limits are raised so the run measures the server.
    return make_settings(database_url, tmp_path / "data", run_worker=True, crawl_allowed_hosts=[site.hostport],
                         db_pool_max=20, ARCHON_RATE_LIMIT_SEARCH="100000/minute",
                         ARCHON_RATE_LIMIT_MCP_TOOLS="100000/minute", ARCHON_RATE_LIMIT_CRAWL="1000/minute")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_fifty_users_while_crawls_run(settings: Settings, site: Site) -> None:
    build_docs(site)
    application: Any = create_app(settings)
    stats: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {"search": [], "list": [], "mcp": [], "health": []}
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    async with application.router.lifespan_context(application), LiveServer(application) as api, \
            LiveServer(application.state.mcp_http_app, lifespan="on") as mcp:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as seed:
            crawl = await seed.post("/api/knowledge-items/crawl", json={"url": site.url("/"), "max_pages": 60})
            assert crawl.status_code == 200, crawl.text
        deadline = time.monotonic() + SECONDS

        async def crawler() -> None:
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                while time.monotonic() < deadline:
                    items = (await client.get("/api/knowledge-items")).json().get("items", [])
                    for item in items[:1]:
                        response = await client.post(f"/api/knowledge-items/{item['source_id']}/refresh")
                        stats[f"refresh {response.status_code}"] += 1
                    await asyncio.sleep(15)

        async def user(n: int) -> None:
            rng = random.Random(n)
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                session_cm = http_session(f"{mcp.url}/mcp") if n % 5 == 0 else None
                session = await session_cm.__aenter__() if session_cm else None
                try:
                    while time.monotonic() < deadline:
                        roll = rng.random()
                        started = time.monotonic()
                        try:
                            if session is not None and roll < 0.3:
                                kind = "mcp"
                                result = await session.call_tool("search_knowledge",
                                                                 {"query": rng.choice(QUERIES), "limit": 5})
                                status = 500 if result.is_error and "internal" in json.dumps(
                                    [c.model_dump() for c in result.content]) else (400 if result.is_error else 200)
                            elif roll < 0.7:
                                kind = "search"
                                status = (await client.post("/api/rag/query", json={
                                    "query": rng.choice(QUERIES), "match_count": 5})).status_code
                            else:
                                kind = "list"
                                path = rng.choice(["/api/knowledge-items", "/api/rag/sources", "/api/projects",
                                                   "/api/tasks"])
                                status = (await client.get(path)).status_code
                        except Exception as exc:  # a transport failure counts as an error, never hides
                            kind, status = "transport", 599
                            errors.append(f"{type(exc).__name__}: {exc}"[:200])
                        latencies.setdefault(kind, []).append(time.monotonic() - started)
                        stats[f"{kind} {status}"] += 1
                        await asyncio.sleep(rng.uniform(0.05, 0.3))
                finally:
                    if session_cm is not None:
                        await session_cm.__aexit__(None, None, None)

        async def health() -> None:
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    response = await client.get("/health")
                    latencies["health"].append(time.monotonic() - started)
                    stats[f"health {response.status_code}"] += 1
                    rss.append((time.monotonic(), _rss_mb()))
                    await asyncio.sleep(0.5)

        await asyncio.gather(crawler(), health(), *(user(n) for n in range(USERS)))

    total = sum(v for k, v in stats.items() if not k.startswith(("health", "refresh")))
    server_errors = sum(v for k, v in stats.items() if int(k.rsplit(" ", 1)[1]) >= 500)
    failed = sum(v for k, v in stats.items() if not k.startswith("refresh") and int(k.rsplit(" ", 1)[1]) >= 400)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) >= 2 else 0.0

    half = [mb for t, mb in rss if t >= rss[0][0] + (rss[-1][0] - rss[0][0]) / 2]
    growth = (half[-1] - half[0]) / half[0] if len(half) >= 2 else 0.0
    report = {"users": USERS, "seconds": SECONDS, "requests": total, "rps": round(total / SECONDS, 1),
              "server_errors": server_errors, "error_rate": round(failed / max(total, 1), 5),
              "search_p95_ms": round(pct(latencies["search"], 95)), "list_p95_ms": round(pct(latencies["list"], 95)),
              "mcp_p95_ms": round(pct(latencies["mcp"], 95)), "health_p99_ms": round(pct(latencies["health"], 99)),
              "rss_start_mb": round(rss[0][1]), "rss_end_mb": round(rss[-1][1]),
              "rss_growth_second_half": round(growth, 3), "statuses": dict(stats), "errors": errors[:5]}
    print("\nload:", json.dumps(report))
    Path(settings.data_dir.parent / "load.json").write_text(json.dumps(report, indent=2))
    assert total > USERS * 10
    assert server_errors == 0, report
    assert failed / total < 0.001, report
    assert report["health_p99_ms"] < 250, report
    assert growth < 0.10, report
