"""Connected MCP sessions: who is connected (for /api/mcp/status) and how to tell them knowledge changed.

Two protocol eras share one server. Handshake-era clients (2025 protocol: Inspector, Claude Desktop,
most IDEs) keep a connection and get `notifications/resources/list_changed` on its standalone channel.
2026-era clients have no standing connection: they open a `subscriptions/listen` stream and get the same
event through the SDK's subscription bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from archon.mcp_server.logs import McpLog

_NOTIFY_TIMEOUT = 2.0


class SessionInfo(BaseModel):
    """One connected client as /api/mcp/status shows it."""

    id: int
    transport: str
    client: str
    protocol_version: str
    connected_at: float


@dataclass
class _Session:
    info: SessionInfo
    session: ServerSession = field(repr=False)


def _transport(ctx: ServerRequestContext[Any, Any]) -> str:
    request = ctx.request
    if request is None:
        return "stdio"
    path = str(getattr(getattr(request, "url", None), "path", ""))
    return "streamable-http" if path.rstrip("/").endswith("/mcp") else "sse"


def _client_name(session: ServerSession) -> str:
    params = session.client_params
    if params is None:
        return "unknown"
    return f"{params.client_info.name} {params.client_info.version}".strip()


class SessionRegistry:
    """Server middleware that records sessions as they initialize and forgets them when they close."""

    def __init__(self, log: McpLog) -> None:
        self.bus = InMemorySubscriptionBus()
        self._log = log
        self._ids = itertools.count(1)
        self._sessions: dict[int, _Session] = {}
        self._listeners: dict[int, SessionInfo] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "subscriptions/listen" and ctx.request_id is not None:
            return await self._track_listen_stream(ctx, call_next)
        result = await call_next(ctx)
        if ctx.method == "initialize":
            self._register(ctx)
        return result

    def _register(self, ctx: ServerRequestContext[Any, Any]) -> None:
        # The connection outlives this request; the SDK exposes it only on the session (private attribute),
        # and its exit stack is the one hook that fires when the client goes away.
        connection = getattr(ctx.session, "_connection", None)
        if connection is None or getattr(connection, "state", {}).get("archon_session_id"):
            return
        session_id = next(self._ids)
        connection.state["archon_session_id"] = session_id
        info = SessionInfo(
            id=session_id,
            transport=_transport(ctx),
            client=_client_name(ctx.session),
            protocol_version=ctx.session.protocol_version,
            connected_at=time.time(),
        )
        self._sessions[session_id] = _Session(info=info, session=ctx.session)
        self._log.add("INFO", f"session {session_id} connected over {info.transport} ({info.client})")
        connection.exit_stack.callback(self._forget, session_id)

    def _forget(self, session_id: int) -> None:
        entry = self._sessions.pop(session_id, None)
        if entry is not None:
            self._log.add("INFO", f"session {session_id} disconnected ({entry.info.transport})")

    async def _track_listen_stream(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        stream_id = next(self._ids)
        self._listeners[stream_id] = SessionInfo(
            id=stream_id,
            transport=_transport(ctx),
            client="subscriptions/listen",
            protocol_version=ctx.protocol_version,
            connected_at=time.time(),
        )
        try:
            return await call_next(ctx)
        finally:
            self._listeners.pop(stream_id, None)

    def sessions(self) -> list[SessionInfo]:
        """Every live handshake session and 2026-era listen stream, oldest first."""
        infos = [s.info for s in self._sessions.values()] + list(self._listeners.values())
        return sorted(infos, key=lambda i: i.id)

    async def resources_changed(self) -> int:
        """Tell every connected client that the resource list changed; returns how many were told."""
        await self.bus.publish(ResourcesListChanged())
        sent = len(self._listeners)
        for entry in list(self._sessions.values()):
            if entry.info.protocol_version in MODERN_PROTOCOL_VERSIONS:
                continue
            # A client that vanished without closing must not stall the others.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(entry.session.send_resource_list_changed(), _NOTIFY_TIMEOUT)
                sent += 1
        if sent:
            self._log.add("INFO", f"resources/list_changed sent to {sent} session(s)")
        return sent
