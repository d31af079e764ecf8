"""REST routes that control and observe the MCP server (`/api/mcp`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from archon.errors import Unavailable
from archon.mcp_server.client_config import ClientConfigs, build_configs, mcp_urls
from archon.mcp_server.logs import LogEntry
from archon.mcp_server.server import ArchonMCPServer
from archon.mcp_server.sessions import SessionInfo

router = APIRouter(prefix="/mcp", tags=["mcp"])

RECENT_ON_CONNECT = 50


class Transport(BaseModel):
    name: str
    url: str | None = None
    command: list[str] | None = None


class McpStatus(BaseModel):
    running: bool
    status: str
    uptime_seconds: float | None
    host: str
    port: int
    transports: list[Transport]
    sessions: int
    connected_sessions: list[SessionInfo]
    tool_set: str
    tool_count: int


class ToolInfo(BaseModel):
    name: str
    title: str | None
    description: str
    read_only: bool
    destructive: bool
    family: str
    input_schema: dict[str, Any]


class ToolList(BaseModel):
    tool_set: str
    tools: list[ToolInfo]


class LogList(BaseModel):
    logs: list[LogEntry]


def _mcp(conn: HTTPConnection) -> ArchonMCPServer:
    server: ArchonMCPServer = conn.app.state.mcp
    return server


def _status(server: ArchonMCPServer) -> McpStatus:
    settings = server.archon_settings
    running = server.holder.mcp_running
    http_url, sse_url = mcp_urls(settings)
    configs = build_configs(settings)
    started = server.http_started_at
    sessions = server.sessions.sessions()
    return McpStatus(
        running=running,
        status="running" if running else "stopped",
        uptime_seconds=round(time.time() - started, 1) if running and started else None,
        host=settings.host,
        port=settings.mcp_port,
        transports=[
            Transport(name="streamable-http", url=http_url),
            Transport(name="sse", url=sse_url),
            Transport(name="stdio", command=configs.stdio_command),
        ],
        sessions=len(sessions),
        connected_sessions=sessions,
        tool_set=settings.mcp_tools,
        tool_count=len(server.tool_defs),
    )


@router.get("/status", response_model=McpStatus)
async def mcp_status(request: Request) -> McpStatus:
    """Whether the MCP HTTP listener runs, its transports and URLs, uptime and connected sessions."""
    return _status(_mcp(request))


@router.get("/config", response_model=ClientConfigs)
async def mcp_config(request: Request) -> ClientConfigs:
    """Ready-to-paste configuration for Cursor, Claude Desktop, Claude Code, Windsurf and VS Code."""
    return build_configs(_mcp(request).archon_settings)


@router.get("/tools", response_model=ToolList)
async def mcp_tools(request: Request) -> ToolList:
    """The tools this instance offers (ARCHON_MCP_TOOLS selects the set), with descriptions."""
    server = _mcp(request)
    defs = {t.name: t for t in server.tool_defs}
    tools = [
        ToolInfo(
            name=t.name,
            title=t.title,
            description=t.description or "",
            read_only=defs[t.name].read_only,
            destructive=defs[t.name].destructive,
            family=defs[t.name].family,
            input_schema=t.input_schema,
        )
        for t in await server.list_tools()
        if t.name in defs
    ]
    return ToolList(tool_set=server.archon_settings.mcp_tools, tools=tools)


@router.get("/logs", response_model=LogList)
async def mcp_logs(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = RECENT_ON_CONNECT) -> LogList:
    """The most recent MCP activity (tool calls, sessions, start/stop), oldest first."""
    return LogList(logs=_mcp(request).activity.recent(limit))


@router.post("/start", response_model=McpStatus)
async def mcp_start(request: Request) -> McpStatus:
    """Start the MCP HTTP listener on MCP_PORT (409 if it already runs or the port is taken)."""
    server = _mcp(request)
    if server.listener is None:
        raise Unavailable("this process has no MCP listener")
    await server.listener.start()
    return _status(server)


@router.post("/stop", response_model=McpStatus)
async def mcp_stop(request: Request) -> McpStatus:
    """Stop the MCP HTTP listener; the REST API keeps running (409 if it is not running)."""
    server = _mcp(request)
    if server.listener is None:
        raise Unavailable("this process has no MCP listener")
    await server.listener.stop()
    return _status(server)


@router.websocket("/logs/stream")
async def mcp_log_stream(websocket: WebSocket) -> None:
    """The last 50 entries on connect, then every new entry as `{timestamp, level, message}`."""
    activity = _mcp(websocket).activity
    await websocket.accept()
    # Snapshot and subscribe with no await in between: nothing is missed and nothing is sent twice.
    backlog = activity.recent(RECENT_ON_CONNECT)
    queue = activity.subscribe()
    receiver = asyncio.create_task(_until_closed(websocket))
    try:
        for entry in backlog:
            await websocket.send_json(entry.model_dump())
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_json(getter.result().model_dump())
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        activity.unsubscribe(queue)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
