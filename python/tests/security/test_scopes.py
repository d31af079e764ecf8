"""S13: a read-only key (ARCHON_READONLY_API_KEYS) calls every write route of the app and every MCP write
tool over both HTTP transports -> 100 % refused (403 / tool error) and no table changes; the same key reads.

Write routes are enumerated from `app.routes` (every method but GET/HEAD/OPTIONS, minus the documented
read-only POSTs), so a new write route is covered without editing this file. Requests carry valid ids of
seeded rows and schema-shaped bodies, so a missing check would really write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from archon.api.auth import READ_ONLY_POSTS, rest_is_write
from archon.app import create_app
from tests.conftest import LiveServer
from tests.mcp_server.conftest import http_session, sse_session
from tests.security.conftest import AUTH, READONLY_KEY, Recorder, asgi_client, secured_settings
from tests.security.test_auth_coverage import OPEN_PATHS, concrete, http_routes, ws_routes
from tests.security.test_injection import requests_for

RO = {"Authorization": f"Bearer {READONLY_KEY}"}


@pytest.fixture
async def scoped_app(canary_database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The secured app with one read-only key besides the full-access key; no rate limits."""
    settings = secured_settings(canary_database_url, tmp_path, ARCHON_READONLY_API_KEYS=f" {READONLY_KEY} ,other-ro",
                                ARCHON_RATE_LIMIT_ENABLED=False)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _seed(client: httpx.AsyncClient) -> dict[str, str]:
    """One of everything, created with the full-access key."""
    project = (await client.post("/api/projects", json={"title": "alpha"})).json()
    task = (await client.post("/api/tasks", json={"project_id": project["id"], "title": "alpha task"})).json()
    doc = (await client.post(f"/api/projects/{project['id']}/docs", json={"title": "spec", "content": "v1"})).json()
    credential = await client.post("/api/credentials", json={"key": "SCOPE_TEST_KEY", "value": "v" * 20})
    assert credential.status_code < 300, credential.text
    upload = await client.post("/api/documents/upload", files={"file": ("n.md", b"# Notes\n\nhello", "text/markdown")})
    assert upload.status_code == 200, upload.text
    sources = (await client.get("/api/knowledge-items")).json()
    items = sources.get("items", sources) if isinstance(sources, dict) else sources
    source_id = items[0]["source_id"] if items else "x"
    return {"project_id": project["id"], "task_id": task["id"], "doc_id": doc["id"], "version": "1",
            "progress_id": upload.json()["progressId"], "key": "SCOPE_TEST_KEY", "source_id": source_id,
            "page_id": "1", "model_id": "1"}


async def table_digests(app: FastAPI) -> dict[str, tuple[int, str]]:
    """Row count and content digest of every archon_* table and of the job queue."""
    digests: dict[str, tuple[int, str]] = {}
    async with app.state.runtime.db.connection() as conn:
        tables = await (await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND (tablename LIKE 'archon\\_%' OR tablename = 'procrastinate_jobs') ORDER BY 1")).fetchall()
        for row in tables:
            name = row["tablename"]
            result = await (await conn.execute(
                f'SELECT count(*) AS n, md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) AS h '
                f'FROM "{name}" t')).fetchone()
            assert result is not None
            digests[name] = (int(result["n"]), str(result["h"]))
    return digests


async def test_read_only_key_is_refused_on_every_write_route_and_nothing_changes(
    scoped_app: FastAPI, recorder: Recorder
) -> None:
    routes = [(m, p) for m, p in http_routes(scoped_app) if p not in OPEN_PATHS]
    writes = {(m, p) for m, p in routes if rest_is_write(m, p)}
    assert len(writes) >= 35, f"too few write routes found: {len(writes)}"
    async with asgi_client(scoped_app, recorder, AUTH) as full, asgi_client(scoped_app, recorder, RO) as ro:
        ids = await _seed(full)
        spec = (await full.get("/openapi.json")).json()
        planned = [(m, url, kw) for m, url, kw in requests_for(spec, ids, "x") if rest_is_write(m, url)]
        planned += [("POST", "/api/mcp/start", {}), ("POST", "/api/mcp/stop", {})]
        templates = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if rest_is_write(m.upper(), p)}
        assert writes <= templates, f"write routes missing from the OpenAPI walk: {writes - templates}"
        before = await table_digests(scoped_app)
        assert before["archon_projects"][0] == 1 and before["archon_credentials"][0] >= 1
        refused = 0
        for method, url, kwargs in planned:
            response = await ro.request(method, url, **kwargs)
            assert response.status_code == 403, f"{method} {url} -> {response.status_code} {response.text[:200]}"
            body = response.json()
            assert body["error"] == "forbidden" and "read-only" in body["detail"], body
            refused += 1
        # Write routes outside the OpenAPI document (none today) are walked from app.routes as well.
        for method, path in sorted(writes):
            response = await ro.request(method, concrete(path), json={})
            assert response.status_code == 403, f"{method} {path} -> {response.status_code}"
            refused += 1
        after = await table_digests(scoped_app)
        assert after == before, {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}

        # The same key reads: every GET route, and the read-only POSTs.
        for method, path in routes:
            if method == "GET":
                response = await ro.get(concrete(path).replace("00000000-0000-0000-0000-000000000001",
                                                               ids["project_id"]))
                assert response.status_code not in (401, 403) and response.status_code < 500, (path, response.text)
        listed = await ro.get("/api/knowledge-items")
        assert listed.status_code == 200 and ids["source_id"] in listed.text
        assert (await ro.get(f"/api/projects/{ids['project_id']}/tasks")).status_code == 200
        for path in sorted(READ_ONLY_POSTS):
            response = await ro.post(path, json={"query": "notes", "match_count": 3})
            assert response.status_code == 200, (path, response.text)
        # Reading wrote nothing either, except that the first search registers the active embedding model.
        after_reads = await table_digests(scoped_app)
        assert {t: v for t, v in after_reads.items() if t != "archon_embedding_models"} == {
            t: v for t, v in before.items() if t != "archon_embedding_models"}

        # The full key is not refused on the same routes (the 403 came from the scope, not the route).
        created = await full.post("/api/projects", json={"title": "by the full key"})
        assert created.status_code in (200, 201), created.text
        other_ro = await ro.post("/api/projects", json={"title": "x"}, headers={"Authorization": "Bearer other-ro"})
        assert other_ro.status_code == 403
    print(f"\nS13 REST: {refused} write requests with a read-only key -> 403 ({len(writes)} write routes), "
          f"{len(before)} tables unchanged")


async def test_read_only_key_opens_the_websockets(scoped_app: FastAPI) -> None:
    paths = ws_routes(scoped_app)
    async with LiveServer(scoped_app) as server:
        base = server.url.replace("http", "ws")
        for path in paths:
            async with websockets.connect(base + concrete(path) + f"?token={READONLY_KEY}", open_timeout=10) as ws:
                assert ws.protocol.state.name in ("OPEN", "CLOSING", "CLOSED")


async def test_read_only_key_over_mcp_gets_read_tools_only(scoped_app: Any) -> None:
    server = scoped_app.state.mcp
    all_tools = {t.name: t for t in server.tool_defs}
    write_tools = sorted(n for n, t in all_tools.items() if not t.read_only)
    read_tools = sorted(n for n, t in all_tools.items() if t.read_only)
    assert len(write_tools) >= 8 and len(read_tools) >= 8
    calls = 0
    async with LiveServer(scoped_app.state.mcp_http_app, lifespan="on") as live:
        async with asgi_client(scoped_app, Recorder(), AUTH) as full:
            ids = await _seed(full)
            await full.post("/api/rag/query", json={"query": "notes"})  # registers the embedding model
        before = await table_digests(scoped_app)
        for transport, session_factory in (("streamable-http", http_session), ("sse", sse_session)):
            path = "/mcp" if transport == "streamable-http" else "/sse"
            async with session_factory(f"{live.url}{path}", headers=RO) as session:
                listed = sorted(t.name for t in (await session.list_tools()).tools)
                assert listed == read_tools, f"{transport}: {set(listed) ^ set(read_tools)}"
                for name in write_tools:
                    args = {"project_id": ids["project_id"], "task_id": ids["task_id"], "title": "x",
                            "confirm": True}
                    result = await session.call_tool(name, args)
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    assert result.is_error and "forbidden" in text and "read-only" in text, (transport, name, text)
                    calls += 1
                found = await session.call_tool("list_projects", {})
                assert not found.is_error and ids["project_id"] in str(found.structured_content)
        # A 2026-era client (auto-negotiated protocol) gets the same answers.
        async with (create_mcp_http_client(headers=RO) as http,
                    Client(streamable_http_client(f"{live.url}/mcp", http_client=http)) as client):
            assert sorted(t.name for t in (await client.list_tools()).tools) == read_tools
            for name in write_tools:
                result = await client.call_tool(name, {"project_id": ids["project_id"], "confirm": True})
                text = " ".join(getattr(c, "text", "") for c in result.content)
                assert result.is_error and "read-only" in text, ("modern", name, text)
                calls += 1
        assert await table_digests(scoped_app) == before
        # The full key keeps every tool, and a write tool works with it.
        async with http_session(f"{live.url}/mcp", headers=AUTH) as session:
            assert len((await session.list_tools()).tools) == len(all_tools)
            made = await session.call_tool("create_project", {"title": "from mcp"})
            assert not made.is_error, made.content
    print(f"\nS13 MCP: {calls} write-tool calls with a read-only key -> tool error "
          f"({len(write_tools)} write tools x 3 clients); read tools listed: {len(read_tools)}")
