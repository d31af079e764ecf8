"""The /api/mcp control API: status, client configs, tool list, logs (REST + WebSocket), start/stop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import LiveServer, free_port, make_settings
from tests.mcp_server.conftest import ARCHON, error_text, http_session, sse_session

KEY = "control-api-key-0123456789"


async def test_status_reports_transports_sessions_and_uptime(app: Any, client: httpx.AsyncClient) -> None:
    stopped = (await client.get("/api/mcp/status")).json()
    assert stopped["running"] is False and stopped["uptime_seconds"] is None
    async with LiveServer(app.state.mcp_http_app, lifespan="on") as live:
        async with http_session(f"{live.url}/mcp"), sse_session(f"{live.url}/sse"):
            status = (await client.get("/api/mcp/status")).json()
        async with asyncio.timeout(10):  # the client ended its session: it is forgotten
            while (await client.get("/api/mcp/status")).json()["sessions"]:
                await asyncio.sleep(0.05)
    port = app.state.settings.mcp_port
    assert status["running"] is True and status["uptime_seconds"] >= 0
    urls = {t["name"]: t.get("url") for t in status["transports"]}
    assert urls["streamable-http"] == f"http://127.0.0.1:{port}/mcp"
    assert urls["sse"] == f"http://127.0.0.1:{port}/sse"
    assert status["sessions"] == 2
    assert [c["transport"] for c in status["connected_sessions"]] == ["streamable-http", "sse"]
    assert status["tool_set"] == "all" and status["tool_count"] >= 20


async def test_config_snippets_use_this_instance_and_no_secret(database_url: str, tmp_path: Path) -> None:
    from archon.app import create_app

    port = free_port()
    app: Any = create_app(make_settings(database_url, tmp_path / "data", api_key=KEY, mcp_port=port))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client,
    ):
        response = await client.get("/api/mcp/config", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and KEY not in response.text
    body = response.json()
    clients = {c["client"]: c for c in body["clients"]}
    assert {"cursor", "claude-desktop", "claude-code", "windsurf", "vscode"} <= clients.keys()
    url = f"http://127.0.0.1:{port}/mcp"
    assert clients["cursor"]["config"]["mcpServers"]["archon"]["url"] == url
    assert clients["cursor"]["config"]["mcpServers"]["archon"]["headers"] == {
        "Authorization": "Bearer <ARCHON_API_KEY>"
    }
    assert clients["windsurf"]["config"]["mcpServers"]["archon"]["serverUrl"] == url
    assert clients["vscode"]["config"]["servers"]["archon"] == {
        "type": "http",
        "url": url,
        "headers": {"Authorization": "Bearer <ARCHON_API_KEY>"},
    }
    assert clients["claude-code"]["command"].startswith(f"claude mcp add --transport http archon {url}")
    desktop = clients["claude-desktop"]["config"]["mcpServers"]["archon"]
    assert desktop["command"] == str(ARCHON) and desktop["args"] == ["mcp"]
    assert Path(desktop["command"]).exists()
    assert desktop["env"]["ARCHON_DATA_DIR"] == str((tmp_path / "data").resolve())


async def test_tools_endpoint_lists_every_tool_with_annotations(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/mcp/tools")).json()
    tools = {t["name"]: t for t in body["tools"]}
    for name in ("search_knowledge", "get_document", "create_task", "update_task", "list_projects"):
        assert name in tools and tools[name]["description"]
    assert tools["search_knowledge"]["read_only"] is True
    assert tools["delete_task"]["destructive"] is True and tools["delete_task"]["read_only"] is False
    assert "confirm" in tools["delete_task"]["input_schema"]["properties"]


async def test_tool_calls_are_logged_without_arguments(
    app: Any, client: httpx.AsyncClient, mcp_live: LiveServer
) -> None:
    secret = "sk-supersecretvalue123456"
    async with http_session(f"{mcp_live.url}/mcp") as session:
        assert "not_found" in error_text(
            await session.call_tool("get_task", {"task_id": "00000000-0000-0000-0000-000000000000"})
        )
        await session.call_tool("create_project", {"title": "p", "description": secret})
    logs = (await client.get("/api/mcp/logs", params={"limit": 100})).json()["logs"]
    lines = [entry["message"] for entry in logs]
    assert any(line.startswith("tool get_task not_found") and " ms" in line for line in lines)
    assert any(line.startswith("tool create_project ok in ") for line in lines)
    assert any("session 1 connected over streamable-http" in line for line in lines)
    assert secret not in json.dumps(logs)
    assert {"timestamp", "level", "message"} == set(logs[0])
    assert (await client.get("/api/mcp/logs", params={"limit": 0})).status_code == 422


async def test_log_stream_sends_backlog_then_live_entries(app: Any, live_api: LiveServer, mcp_live: LiveServer) -> None:
    for i in range(60):
        app.state.mcp.activity.add("INFO", f"backlog {i}")
    ws_url = live_api.url.replace("http://", "ws://") + "/api/mcp/logs/stream"
    async with connect(ws_url) as ws:
        backlog = [json.loads(await ws.recv()) for _ in range(50)]
        assert backlog[0]["message"] == "backlog 10" and backlog[-1]["message"] == "backlog 59"
        async with http_session(f"{mcp_live.url}/mcp") as session:
            await session.call_tool("list_projects", {})
        async with asyncio.timeout(10):
            while True:
                entry = json.loads(await ws.recv())
                if entry["message"].startswith("tool list_projects ok"):
                    break
        assert entry["level"] == "INFO" and entry["timestamp"].endswith("Z")
    async with asyncio.timeout(5):
        while app.state.mcp.activity.subscriber_count:
            await asyncio.sleep(0.02)


async def test_stop_and_start_the_listener_while_the_api_keeps_running(database_url: str, tmp_path: Path) -> None:
    from archon.app import create_app

    port = free_port()
    app: Any = create_app(make_settings(database_url, tmp_path / "data", mcp_port=port))
    url = f"http://127.0.0.1:{port}/mcp"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client,
    ):
        assert (await client.post("/api/mcp/stop")).status_code == 409
        started = await client.post("/api/mcp/start")
        assert started.status_code == 200 and started.json()["running"] is True
        assert (await client.post("/api/mcp/start")).status_code == 409
        async with http_session(url) as session:
            assert (await session.list_tools()).tools
        assert (await client.get("/health")).json()["services"]["mcp_server"] == "running"

        stopped = await client.post("/api/mcp/stop")
        assert stopped.status_code == 200 and stopped.json()["running"] is False
        assert (await client.get("/health")).json()["services"]["mcp_server"] == "stopped"
        assert (await client.get("/api/mcp/status")).status_code == 200  # the API is still up
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as raw:
                await raw.post(url, json={})

        assert (await client.post("/api/mcp/start")).status_code == 200  # a fresh session manager each time
        async with http_session(url) as session:
            assert (await session.list_tools()).tools
        assert (await client.post("/api/mcp/stop")).status_code == 200


async def test_start_reports_a_taken_port(database_url: str, tmp_path: Path) -> None:
    import socket

    from archon.app import create_app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app: Any = create_app(make_settings(database_url, tmp_path / "data", mcp_port=port))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client,
        ):
            response = await client.post("/api/mcp/start")
            assert response.status_code == 409 and f"127.0.0.1:{port}" in response.json()["error"]
            assert (await client.get("/api/mcp/status")).json()["running"] is False
