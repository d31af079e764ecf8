"""S19: crawl, upload, search and MCP tool calls are rate limited (429 + Retry-After), configurably."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.app import create_app
from archon.config import Settings
from tests.conftest import LiveServer, make_settings
from tests.security.conftest import Recorder, asgi_client

LIMITED = {"ARCHON_RATE_LIMIT_CRAWL": "3/minute", "ARCHON_RATE_LIMIT_UPLOAD": "3/minute",
           "ARCHON_RATE_LIMIT_SEARCH": "5/minute", "ARCHON_RATE_LIMIT_MCP_TOOLS": "4/minute"}


def _upload() -> dict[str, Any]:
    return {"files": {"file": ("a.md", b"# hello\n\nrate limits", "text/markdown")}}


REQUESTS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    # name: (method, path, request kwargs, allowed per window)
    "crawl": ("POST", "/api/knowledge-items/crawl", {"json": {"url": "http://127.0.0.1:1/"}}, 3),
    "upload": ("POST", "/api/documents/upload", {}, 3),
    "search": ("POST", "/api/rag/query", {"json": {"query": "hello"}}, 5),
    "code": ("POST", "/api/rag/code-examples", {"json": {"query": "hello"}}, 5),
}


@pytest.fixture
async def limited_app(database_url: str, tmp_path: Path) -> Any:
    application = create_app(make_settings(database_url, tmp_path / "data", **LIMITED))
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize("name", ["crawl", "upload", "search"])
async def test_rest_limits_answer_429_with_retry_after(limited_app: Any, recorder: Recorder, name: str) -> None:
    method, path, kwargs, allowed = REQUESTS[name]
    statuses: list[int] = []
    async with asgi_client(limited_app, recorder) as client:
        for _ in range(allowed + 5):
            response = await client.request(method, path, **(_upload() if name == "upload" else kwargs))
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after = int(response.headers["retry-after"])
                assert 1 <= retry_after <= 60
                assert response.json()["error"] == "rate limit exceeded"
        # Other routes are not limited, and the search limit is shared by both search routes.
        assert (await client.get("/api/knowledge-items")).status_code == 200
        if name == "search":
            assert (await client.post("/api/rag/code-examples", json={"query": "x"})).status_code == 429
    assert all(s < 500 for s in statuses), statuses
    assert all(s != 429 for s in statuses[:allowed]), statuses
    assert statuses[allowed:] == [429] * 5, statuses


async def test_limits_can_be_turned_off(database_url: str, tmp_path: Path, recorder: Recorder) -> None:
    application = create_app(make_settings(database_url, tmp_path / "data", ARCHON_RATE_LIMIT_ENABLED=False,
                                           ARCHON_RATE_LIMIT_SEARCH="1/minute"))
    async with application.router.lifespan_context(application), asgi_client(application, recorder) as client:
        statuses = [(await client.post("/api/rag/query", json={"query": "x"})).status_code for _ in range(5)]
    assert statuses == [200] * 5


def test_bad_rate_syntax_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"ARCHON_RATE_LIMIT_SEARCH|rate_limit_search"):
        make_settings(None, tmp_path, ARCHON_RATE_LIMIT_SEARCH="lots")
    assert make_settings(None, tmp_path, ARCHON_RATE_LIMIT_SEARCH="5/second;100/hour").rate_limit_search


def _rpc(method: str, id_: int | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if id_ is not None:
        body["id"] = id_
    return body


async def test_mcp_tool_calls_are_limited_other_messages_are_not(limited_app: Any) -> None:
    settings: Settings = limited_app.state.settings
    assert settings.rate_limit_mcp_tools == "4/minute"
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with LiveServer(limited_app.state.mcp_http_app, lifespan="on") as server, \
            httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        init = await http.post("/mcp", headers=headers, json=_rpc("initialize", 1, {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))
        assert init.status_code == 200
        headers["Mcp-Session-Id"] = init.headers["mcp-session-id"]
        headers["Mcp-Protocol-Version"] = "2025-06-18"
        await http.post("/mcp", headers=headers, json=_rpc("notifications/initialized", None))
        statuses = []
        for i in range(7):
            response = await http.post("/mcp", headers=headers,
                                       json=_rpc("tools/call", 10 + i, {"name": "list_sources", "arguments": {}}))
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        # Listing tools is not a tool call: still served while calls are refused.
        listed = await http.post("/mcp", headers=headers, json=_rpc("tools/list", 99))
        assert listed.status_code == 200 and "search_knowledge" in listed.text
    assert statuses == [200] * 4 + [429] * 3, statuses
