"""Every WebSocket route refuses a handshake from a foreign web page (R10, S14): browsers skip CORS there."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import archon
from archon.api.origin import origin_allowed
from tests.conftest import LiveServer
from tests.projects.conftest import make_project

ALLOWED = ("http://localhost:3737", "http://127.0.0.1:3737")


async def ws_paths(client: httpx.AsyncClient) -> list[str]:
    project = (await make_project(client))["id"]
    return [f"/api/crawl-progress/{uuid.uuid4()}", "/api/knowledge-items/stream", f"/api/projects/{project}/stream",
            "/api/mcp/logs/stream"]


def test_every_websocket_route_is_covered_here() -> None:
    """A new WebSocket route must be added to `ws_paths` above, so its origin check is tested too."""
    source = Path(archon.__file__).parent
    declared = {m for f in source.rglob("*.py") for m in re.findall(r'@\w+\.websocket\("([^"]+)"', f.read_text())}
    assert declared == {"/crawl-progress/{progress_id}", "/knowledge-items/stream", "/projects/{project_id}/stream",
                        "/logs/stream"}


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3738", "null"])
async def test_foreign_origin_is_refused_on_every_websocket(client: httpx.AsyncClient, live_api: LiveServer,
                                                             origin: str) -> None:
    for path in await ws_paths(client):
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{live_api.port}{path}", origin=origin):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403, path


async def test_dashboard_same_host_and_non_browser_clients_connect(client: httpx.AsyncClient,
                                                                   live_api: LiveServer) -> None:
    own = f"http://127.0.0.1:{live_api.port}"
    for path in await ws_paths(client):
        for origin in (*ALLOWED, own, None):
            async with connect(f"ws://127.0.0.1:{live_api.port}{path}", origin=origin) as ws:  # type: ignore[arg-type]
                assert ws.response is not None and ws.response.status_code == 101, (path, origin)


def test_origin_rule() -> None:
    assert origin_allowed(None, "127.0.0.1:8080", ALLOWED)
    assert origin_allowed("http://localhost:3737", "127.0.0.1:8080", ALLOWED)
    assert origin_allowed("http://Archon.lan:8080", "archon.lan:8080", ALLOWED)
    assert not origin_allowed("http://archon.lan:8081", "archon.lan:8080", ALLOWED)
    assert not origin_allowed("https://evil.example", "127.0.0.1:8080", ALLOWED)
    assert not origin_allowed("https://evil.example", None, ALLOWED)
