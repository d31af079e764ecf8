"""Idle HTTP connections outlive the clients' own idle expiry, so a reused connection is never reset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from archon.config import Settings
from archon.serve import _config
from tests.conftest import free_port, make_settings

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _ok(_: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _idle_then_reuse(settings: Settings, idle: float) -> bytes:
    """Send a request, stay idle `idle` seconds, send another on the same connection; return what came back."""
    port = free_port()
    server = uvicorn.Server(_config(Starlette(routes=[Route("/", _ok)]), settings, port, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        assert b"200 OK" in await reader.readuntil(b"ok")
        await asyncio.sleep(idle)
        try:
            writer.write(REQUEST)
            await writer.drain()
            second = await asyncio.wait_for(reader.read(1024), 5)
        except ConnectionError:
            second = b""
        writer.close()
        return second
    finally:
        server.should_exit = True
        await task


async def test_connection_idle_past_5_seconds_is_still_served(tmp_path: Path) -> None:
    """httpx and Node expire idle connections after ~5 s: the server must not close them first."""
    settings = make_settings(None, tmp_path / "d")  # the server config only: no database
    assert settings.http_keepalive_seconds > 60  # nginx and cloud load balancers keep 60 s
    assert b"200 OK" in await _idle_then_reuse(settings, 5.5)


async def test_keepalive_setting_is_what_the_server_applies(tmp_path: Path) -> None:
    short = make_settings(None, tmp_path / "d", http_keepalive_seconds=1)
    assert await _idle_then_reuse(short, 2.0) == b""  # closed by the server after 1 s idle
