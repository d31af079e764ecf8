"""Tool selection (ARCHON_MCP_TOOLS), annotations, and errors that must never crash a session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
from mcp.server import MCPServer

from archon.config import Settings
from archon.mcp_server.server import build_mcp_server
from archon.mcp_server.toolkit import ToolRegistry
from archon.runtime import RuntimeHolder
from tests.conftest import LiveServer, make_settings

KNOWLEDGE = {"search_knowledge", "search_code_examples", "list_sources", "read_page", "crawl_url", "get_crawl_status"}


def _tools(tool_set: str) -> dict[str, Any]:
    server = build_mcp_server(RuntimeHolder(), Settings(_env_file=None, mcp_tools=tool_set))
    return {t.name: t for t in asyncio.run(server.list_tools())}


def test_tool_sets_select_families() -> None:
    everything = _tools("all")
    assert set(_tools("knowledge")) == KNOWLEDGE
    assert set(_tools("tasks")) == set(everything) - KNOWLEDGE
    read_only = _tools("read-only")
    assert read_only and all(t.annotations.read_only_hint for t in read_only.values())
    assert {"create_task", "update_task", "delete_task", "crawl_url"}.isdisjoint(read_only)


def test_annotations_mark_read_only_destructive_and_open_world_tools() -> None:
    tools = _tools("all")
    assert tools["search_knowledge"].annotations.read_only_hint is True
    assert tools["delete_task"].annotations.destructive_hint is True
    assert tools["delete_task"].annotations.read_only_hint is False
    assert tools["create_task"].annotations.destructive_hint is False
    assert tools["crawl_url"].annotations.open_world_hint is True
    assert "confirm" in tools["delete_task"].input_schema["properties"]
    for tool in tools.values():
        assert tool.description and not tool.description.startswith(" "), tool.name
        assert tool.output_schema is not None, f"{tool.name} must return structured content"


async def test_database_failure_is_a_tool_error_not_a_crash() -> None:
    registry = ToolRegistry(RuntimeHolder())

    @registry.tool(family="knowledge", title="Broken", read_only=True)
    async def broken() -> dict[str, str]:
        """Always loses its database connection."""
        raise psycopg.OperationalError("connection to server at 10.0.0.1 failed: password=hunter2")

    @registry.tool(family="knowledge", title="Starting", read_only=True)
    async def starting() -> dict[str, str]:
        """Needs the runtime before it exists."""
        registry.runtime()
        return {}

    server = MCPServer(name="t")
    registry.install(server, "all")
    result = await server.call_tool("broken", {})
    assert result.is_error and result.content[0].text.startswith("unavailable: the database is unavailable")
    assert "hunter2" not in result.content[0].text
    waiting = await server.call_tool("starting", {})
    assert waiting.is_error and "starting up" in waiting.content[0].text


@pytest.mark.parametrize("host", ["archon.internal", "archon.internal:8051"])
async def test_allowed_hosts_setting_admits_another_name(database_url: str, tmp_path: Any, host: str) -> None:
    from archon.app import create_app

    app: Any = create_app(make_settings(database_url, tmp_path / "data", mcp_allowed_hosts=["archon.internal"]))
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with (
        app.router.lifespan_context(app),
        LiveServer(app.state.mcp_http_app, lifespan="on") as live,
        httpx.AsyncClient() as http,
    ):
        admitted = await http.post(f"{live.url}/mcp", json=body, headers={**headers, "Host": host})
        assert admitted.status_code == 200
        refused = await http.post(f"{live.url}/mcp", json=body, headers={**headers, "Host": "other.internal"})
        assert refused.status_code == 421
