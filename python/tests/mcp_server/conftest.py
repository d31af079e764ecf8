"""MCP test harness: real SDK clients over streamable HTTP, SSE and stdio against the real server."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult

from archon.config import Settings
from tests.conftest import LiveServer

ARCHON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "archon"
MessageHandler = Callable[[Any], Awaitable[None]]


@asynccontextmanager
async def http_session(
    url: str, *, headers: dict[str, str] | None = None, message_handler: MessageHandler | None = None
) -> AsyncIterator[ClientSession]:
    """A handshake-era ClientSession over streamable HTTP (`<base>/mcp`)."""
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, message_handler=message_handler) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def sse_session(
    url: str, *, headers: dict[str, str] | None = None, message_handler: MessageHandler | None = None
) -> AsyncIterator[ClientSession]:
    """A ClientSession over the SSE transport (`<base>/sse`)."""
    async with (
        sse_client(url, headers=headers) as (read, write),
        ClientSession(read, write, message_handler=message_handler) as session,
    ):
        await session.initialize()
        yield session


def stdio_params(settings: Settings, **env: str) -> StdioServerParameters:
    """Spawn `archon mcp` against the test's database with the deterministic embedder."""
    assert settings.database_url is not None
    values = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "ARCHON_DATA_DIR": str(settings.data_dir),
        "EMBEDDING_PROVIDER": "hash",
        "LOG_LEVEL": "INFO",
        "CRAWL4AI_NO_CLOUD_NOTICE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return StdioServerParameters(command=str(ARCHON), args=["mcp"], env=values, cwd=str(settings.data_dir.parent))


@asynccontextmanager
async def stdio_session(
    settings: Settings, *, message_handler: MessageHandler | None = None, **env: str
) -> AsyncIterator[ClientSession]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir.parent / "mcp-stderr.log", "w") as errlog:
        async with (
            stdio_client(stdio_params(settings, **env), errlog=errlog) as (read, write),
            ClientSession(read, write, message_handler=message_handler) as session,
        ):
            await session.initialize()
            yield session


def structured(result: CallToolResult) -> dict[str, Any]:
    """The tool's structured result; fails the test with the tool's error text otherwise."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


def as_json(result: CallToolResult) -> Any:
    return json.loads(getattr(result.content[0], "text", "null"))


@pytest.fixture
async def mcp_live(app: Any) -> AsyncIterator[LiveServer]:
    """The app's MCP HTTP transports on a real socket (the app's lifespan already runs)."""
    async with LiveServer(app.state.mcp_http_app, lifespan="on") as server:
        yield server
