"""The board's WebSocket sees tasks an agent creates and moves through real MCP clients (HTTP and stdio)."""

from __future__ import annotations

from typing import Any

import httpx

from archon.config import Settings
from tests.conftest import LiveServer
from tests.mcp_server.conftest import http_session, stdio_session, structured
from tests.projects.conftest import make_project
from tests.projects.test_stream import next_event, subscribed


async def test_stream_sees_task_created_through_mcp_http_tool(
        client: httpx.AsyncClient, live_api: LiveServer, app: Any) -> None:
    pid = (await make_project(client))["id"]
    ws = await subscribed(live_api, pid)
    try:
        async with LiveServer(app.state.mcp_http_app, lifespan="on") as mcp, \
                http_session(f"{mcp.url}/mcp") as session:
            task = structured(await session.call_tool("create_task", {
                "project_id": pid, "title": "Agent task", "assignee": "Archon"}))
            event = await next_event(ws)
            assert event["type"] == "task_created"
            assert (event["data"]["id"], event["data"]["assignee"]) == (task["id"], "Archon")

            structured(await session.call_tool("update_task", {"task_id": task["id"], "status": "doing"}))
            moved = await next_event(ws)
            assert moved["type"] == "task_moved" and moved["data"]["status"] == "doing"
            assert moved["data"]["columns"]["doing"] == [task["id"]]
    finally:
        await ws.close()


async def test_stream_sees_task_created_by_a_separate_mcp_stdio_process(
        client: httpx.AsyncClient, live_api: LiveServer, settings: Settings) -> None:
    pid = (await make_project(client))["id"]
    ws = await subscribed(live_api, pid)
    try:
        async with stdio_session(settings) as session:  # `archon mcp`: its own process, pool and NOTIFY
            task = structured(await session.call_tool("create_task", {"project_id": pid, "title": "From stdio"}))
            event = await next_event(ws)
            assert (event["type"], event["data"]["id"], event["data"]["title"]) == (
                "task_created", task["id"], "From stdio")
    finally:
        await ws.close()
