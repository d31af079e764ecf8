"""R10: 50 forced disconnects of the progress WebSocket during a crawl. After every reconnect the client
first gets the current state; across all connections its view never goes backwards (percentage and pages
only grow), no connection repeats a state, and the final state is `crawl_completed`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from archon.app import create_app
from tests.conftest import LiveServer, make_settings
from tests.knowledge.crawling.site import Response, Site, html_page, prose
from tests.reliability.conftest import env_int

DROPS = env_int("ARCHON_WS_DROPS", 50)
PAGES = 40


def _page(i: int) -> Callable[[], Response]:
    def route() -> Response:
        time.sleep(0.4)
        links = [f"/w/{j}" for j in (2 * i + 1, 2 * i + 2) if j < PAGES]
        return Response(html_page(f"Page {i}", prose(f"ws-{i}", n=3), links=links))
    return route


@pytest.fixture
async def live(database_url: str, tmp_path: Path, site: Site) -> Any:
    application = create_app(make_settings(database_url, tmp_path / "data", run_worker=True,
                                           crawl_allowed_hosts=[site.hostport]))
    async with application.router.lifespan_context(application), LiveServer(application) as server:
        yield server


async def test_forced_disconnects_leave_no_gaps_or_duplicates(live: LiveServer, site: Site) -> None:
    for i in range(PAGES):
        site.set(f"/w/{i}", _page(i))
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        started = await client.post("/api/knowledge-items/crawl", json={
            "url": site.url("/w/0"), "crawl_type": "recursive", "max_depth": 10, "max_pages": PAGES})
        assert started.status_code == 200, started.text
    job_id = started.json()["progressId"]
    url = live.url.replace("http", "ws") + f"/api/crawl-progress/{job_id}"
    view: list[tuple[float, int]] = []
    drops = reconnects = 0
    final: dict[str, Any] | None = None
    async with asyncio.timeout(240):
        while final is None:
            reconnects += 1
            async with websockets.connect(url) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "connection_established"
                seen_here: list[str] = []
                for _ in range(1 if drops < DROPS else 10_000):
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    except websockets.ConnectionClosedOK:
                        break
                    key = json.dumps(message, sort_keys=True)
                    assert key not in seen_here, "a connection repeated a state"
                    seen_here.append(key)
                    data = message["data"]
                    view.append((float(data.get("percentage") or 0), int(data.get("pagesCrawled") or
                                                                         data.get("processedPages") or 0)))
                    if message["type"] != "crawl_progress":
                        final = message
                        break
                if final is None and drops < DROPS:
                    ws.transport.abort() if hasattr(ws, "transport") else None  # a hard drop, no close frame
                    drops += 1
    assert final is not None and final["type"] == "crawl_completed", final
    percentages = [p for p, _ in view]
    pages = [n for _, n in view]
    assert percentages == sorted(percentages), "the client's view went backwards"
    assert pages == sorted(pages)
    print(f"\nws: {drops} forced drops, {reconnects} connections, {len(view)} states, final {final['type']}")
    assert drops == DROPS
