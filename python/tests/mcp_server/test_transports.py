"""The same MCP server over streamable HTTP, SSE and stdio, driven by the SDK's real clients."""

from __future__ import annotations

from typing import Any

import httpx
from mcp import Client

from archon.config import Settings
from archon.jobs.service import JobService
from tests.conftest import LiveServer
from tests.mcp_server.conftest import error_text, http_session, sse_session, stdio_session, structured


async def _job(app: Any) -> str:
    return await JobService(app.state.runtime.db).create("crawl", {"url": "http://127.0.0.1/"})


async def test_streamable_http_lists_tools_and_calls_one(app: Any, mcp_live: LiveServer) -> None:
    progress_id = await _job(app)
    async with http_session(f"{mcp_live.url}/mcp") as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert "get_crawl_status" in names
        status = structured(await session.call_tool("get_crawl_status", {"progress_id": progress_id}))
        assert status["status"] == "queued" and status["finished"] is False


async def test_streamable_http_error_is_a_tool_error_and_the_session_survives(mcp_live: LiveServer) -> None:
    async with http_session(f"{mcp_live.url}/mcp") as session:
        result = await session.call_tool("get_crawl_status", {"progress_id": "nope"})
        assert "not_found" in error_text(result) and "nope" in error_text(result)
        bad_args = await session.call_tool("get_crawl_status", {})
        assert bad_args.is_error
        assert "progress_id" in error_text(bad_args)
        # The session still answers after both errors.
        assert (await session.list_tools()).tools


async def test_sse_lists_tools_and_calls_one(app: Any, mcp_live: LiveServer) -> None:
    progress_id = await _job(app)
    async with sse_session(f"{mcp_live.url}/sse") as session:
        assert "get_crawl_status" in {t.name for t in (await session.list_tools()).tools}
        status = structured(await session.call_tool("get_crawl_status", {"progress_id": progress_id}))
        assert status["progress_id"] == progress_id
        assert "not_found" in error_text(await session.call_tool("get_crawl_status", {"progress_id": "x"}))


async def test_modern_client_auto_negotiates_and_calls_tools(app: Any, mcp_live: LiveServer) -> None:
    progress_id = await _job(app)
    async with Client(f"{mcp_live.url}/mcp") as client:
        assert "get_crawl_status" in {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("get_crawl_status", {"progress_id": progress_id})
        assert structured(result)["status"] == "queued"


async def test_stdio_subprocess_serves_the_same_tools(app: Any, settings: Settings) -> None:
    progress_id = await _job(app)
    stray: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # a stdout line that is not JSON-RPC arrives here
            stray.append(message)

    async with stdio_session(settings, message_handler=on_message) as session:
        assert "get_crawl_status" in {t.name for t in (await session.list_tools()).tools}
        status = structured(await session.call_tool("get_crawl_status", {"progress_id": progress_id}))
        assert status["status"] == "queued"
        assert "not_found" in error_text(await session.call_tool("get_crawl_status", {"progress_id": "x"}))
    assert stray == []  # nothing but protocol on stdout
    errlog = (settings.data_dir.parent / "mcp-stderr.log").read_text()
    assert "Traceback" not in errlog
    assert "session 1 connected over stdio" in errlog and "tool get_crawl_status ok in" in errlog
    logfile = (settings.data_dir / "logs" / "archon.log").read_text()
    assert "tool get_crawl_status not_found" in logfile


async def test_bad_host_is_refused(mcp_live: LiveServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Host": "evil.example:8051"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{mcp_live.url}/mcp", json=body, headers=headers)
        assert response.status_code == 421
        sse = await http.get(f"{mcp_live.url}/sse", headers={"Host": "evil.example"})
        assert sse.status_code == 421


async def test_bad_origin_is_refused(mcp_live: LiveServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Origin": "http://evil.example"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{mcp_live.url}/mcp", json=body, headers=headers)
        assert response.status_code == 403
        sse = await http.get(f"{mcp_live.url}/sse", headers={"Origin": "http://evil.example"})
        assert sse.status_code == 403
        good = await http.post(f"{mcp_live.url}/mcp", json=body, headers={**headers, "Origin": "http://localhost:3737"})
        assert good.status_code == 200
