"""With ARCHON_API_KEY set, both MCP HTTP transports require the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.mcp_server.conftest import http_session, sse_session

KEY = "test-mcp-key-0123456789"


@pytest.fixture
async def secured(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    from archon.app import create_app

    application: Any = create_app(make_settings(database_url, tmp_path / "data", api_key=KEY))
    async with (
        application.router.lifespan_context(application),
        LiveServer(application.state.mcp_http_app, lifespan="on") as server,
    ):
        yield server


async def test_http_transports_refuse_requests_without_the_token(secured: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            response = await http.post(
                f"{secured.url}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Accept": "application/json, text/event-stream", **headers},
            )
            assert response.status_code == 401
            assert response.json()["error"] == "unauthorized"
            sse = await http.get(f"{secured.url}/sse", headers=headers)
            assert sse.status_code == 401
            messages = await http.post(f"{secured.url}/messages/?session_id=x", json={}, headers=headers)
            assert messages.status_code == 401


async def test_http_transports_accept_the_token(secured: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    async with http_session(f"{secured.url}/mcp", headers=auth) as session:
        assert (await session.list_tools()).tools
    async with sse_session(f"{secured.url}/sse", headers=auth) as session:
        assert (await session.list_tools()).tools
