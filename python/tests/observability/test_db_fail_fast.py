"""R9 timing: while the database is known to be down, API requests answer `503 database unavailable` in well
under a second (not after the 10 s pool timeout), requests already waiting are woken, and the API serves
again within a second or two of the restore. A healthy but saturated database never gets a fast 503."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from mcp.server import MCPServer

from archon.db import migrations
from archon.db.embedded import EmbeddedPostgres
from archon.db.pool import Database, DatabaseUnavailable, failing_fast
from archon.mcp_server.toolkit import ToolRegistry
from archon.observability.health import refuses_connections
from archon.runtime import RuntimeHolder
from tests.conftest import database_down, make_settings
from tests.observability.test_probes import app_client

ROUTES = [("GET", "/api/knowledge-items", None), ("GET", "/api/projects", None), ("GET", "/api/tasks", None),
          ("POST", "/api/rag/query", {"query": "hello"}), ("GET", "/api/settings", None)]


async def _timed(client: httpx.AsyncClient, method: str, path: str, body: Any) -> tuple[int, float, str]:
    started = time.monotonic()
    response = await client.request(method, path, json=body)
    return response.status_code, time.monotonic() - started, response.text


async def _first_success_after(client: httpx.AsyncClient, timeout: float = 15) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while (await client.get("/api/projects")).status_code != 200:
            await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_requests_fail_fast_while_the_database_is_down_and_recover(database_url: str, tmp_path: Path) -> None:
    async with app_client(make_settings(database_url, tmp_path / "data")) as (_, client):
        for method, path, body in ROUTES:
            assert (await client.request(method, path, json=body)).status_code == 200, path
        async with database_down(database_url):
            # The very first requests run before anything has noticed the outage: their pooled connections
            # are dead and new ones are refused; they must still answer within a second, not after 10 s.
            seen = [await _timed(client, *route) for route in ROUTES * 3]
            for status, elapsed, text in seen:
                assert status == 503 and "database unavailable" in text, (status, text[:200])
                assert elapsed < 1.0, seen
        back_after = await _first_success_after(client)
        for method, path, body in ROUTES:
            assert (await client.request(method, path, json=body)).status_code == 200, path
    slowest = max(t for _, t, _ in seen)
    print(f"\noutage (connections refused): first 503 {seen[0][1]:.3f} s, slowest 503 {slowest:.3f} s; "
          f"first 200 {back_after:.3f} s after the restore")
    assert back_after < 2.0, back_after


async def test_a_real_server_stop_answers_503_at_once_and_the_restart_is_seen_within_seconds(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path / "outage")
    url = await asyncio.to_thread(embedded.start)
    await asyncio.to_thread(migrations.apply, url)
    try:
        async with app_client(make_settings(url, tmp_path / "data")) as (_, client):
            assert (await client.get("/api/projects")).status_code == 200
            await asyncio.to_thread(embedded.stop)
            seen = [await _timed(client, *route) for route in ROUTES * 2]
            assert {s for s, _, _ in seen} == {503}, seen
            assert max(t for _, t, _ in seen) < 1.0, seen
            await asyncio.to_thread(embedded.start)
            back_after = await _first_success_after(client)
            print(f"\noutage (server stopped): first 503 {seen[0][1]:.3f} s, slowest 503 "
                  f"{max(t for _, t, _ in seen):.3f} s; first 200 {back_after:.3f} s after the restart")
            assert back_after < 2.0, back_after
            for method, path, body in ROUTES:
                assert (await client.request(method, path, json=body)).status_code == 200, path
    finally:
        await asyncio.to_thread(embedded.stop)


async def test_a_saturated_healthy_pool_waits_instead_of_failing(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", db_pool_min=1, db_pool_max=2)
    async with app_client(settings) as (app, client):
        async with AsyncExitStack() as held:
            for _ in range(2):  # every pooled connection is busy
                await held.enter_async_context(app.state.runtime.db.connection())
            listing = asyncio.create_task(client.get("/api/knowledge-items"))
            await asyncio.sleep(1.5)  # the monitor checks (on its own connection) meanwhile: still healthy
            assert not listing.done()
            assert app.state.runtime.db.down_since is None
        assert (await listing).status_code == 200


async def test_only_failing_fast_callers_get_the_fast_error(database_url: str) -> None:
    db = Database(database_url, min_size=1, max_size=1, timeout=3)
    await db.open()
    try:
        async with db.connection():  # the only connection is busy: the next checkout waits
            db.mark_down("test outage")
            with failing_fast():
                started = time.monotonic()
                with pytest.raises(DatabaseUnavailable):
                    async with db.connection():
                        pass
                assert time.monotonic() - started < 0.1
            waiting = asyncio.create_task(_checkout(db))  # a job (not failing fast) keeps waiting
            await asyncio.sleep(0.3)
            assert not waiting.done()
            with failing_fast():
                db.mark_up()
                woken = asyncio.create_task(_checkout(db))
                await asyncio.sleep(0.2)
                assert not woken.done()  # up again: it waits for the pool like everyone
                db.mark_down("test outage")  # ... and is woken with the fast error when the outage is seen
                started = time.monotonic()
                with pytest.raises(DatabaseUnavailable):
                    await woken
                assert time.monotonic() - started < 0.1
        await waiting  # the connection was released: the patient caller got it
        async with db.connection() as conn:  # nothing leaked: the single connection is free again
            await conn.execute("SELECT 1")
        assert db.pool.get_stats()["pool_size"] == 1
    finally:
        await db.close()


async def _checkout(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute("SELECT 1")


def test_only_refused_connections_count_as_down() -> None:
    assert refuses_connections(psycopg.OperationalError("connection refused"))
    assert not refuses_connections(TimeoutError())  # a slow or saturated server is not down

    class TooManyClients(psycopg.OperationalError):
        sqlstate = "53300"

    assert not refuses_connections(TooManyClients("sorry, too many clients already"))


async def test_mcp_tool_calls_fail_fast_too(database_url: str) -> None:
    db = Database(database_url, min_size=1, max_size=1, timeout=5)
    await db.open()
    registry = ToolRegistry(RuntimeHolder())

    @registry.tool(family="knowledge", title="Lister", read_only=True)
    async def lister() -> dict[str, int]:
        """Reads the database."""
        async with db.connection() as conn:
            await conn.execute("SELECT 1")
        return {"ok": 1}

    server = MCPServer(name="t")
    registry.install(server, "all")
    try:
        assert not (await server.call_tool("lister", {})).is_error
        async with db.connection():  # the only connection is busy, and then the outage is noticed
            db.mark_down("test outage")
            started = time.monotonic()
            result = await server.call_tool("lister", {})
            assert result.is_error and result.content[0].text.startswith("unavailable:"), result
            assert time.monotonic() - started < 0.5
    finally:
        await db.close()
