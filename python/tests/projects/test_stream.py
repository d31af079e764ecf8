"""WebSocket /api/projects/{id}/stream: change events from the service layer, REST and other processes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from archon.db.pool import Database
from archon.projects.service import DocumentService, TaskService
from tests.conftest import LiveServer
from tests.projects.conftest import make_project


def ws_url(server: LiveServer, project_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/projects/{project_id}/stream"


async def next_event(ws: ClientConnection, *, skip: tuple[str, ...] = ("ping",)) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] not in skip:
                return dict(event)


async def subscribed(server: LiveServer, project_id: str) -> ClientConnection:
    ws = await connect(ws_url(server, project_id))
    hello = await next_event(ws)
    assert hello == {"type": "subscribed", "data": {"project_id": project_id}}
    return ws


async def test_stream_task_and_document_events_from_service_layer(
        client: httpx.AsyncClient, live_api: LiveServer, app: Any) -> None:
    pid = (await make_project(client))["id"]
    tasks = TaskService(app.state.runtime.db)  # the MCP task tools call this same service
    docs = DocumentService(app.state.runtime.db)
    ws = await subscribed(live_api, pid)
    try:
        first = await tasks.create({"project_id": pid, "title": "From MCP", "assignee": "Archon"})
        event = await next_event(ws)
        assert event["type"] == "task_created"
        assert (event["data"]["id"], event["data"]["title"], event["data"]["assignee"]) == (
            str(first.id), "From MCP", "Archon")

        second = await tasks.create({"project_id": pid, "title": "Second"})
        assert (await next_event(ws))["data"]["id"] == str(second.id)
        await tasks.update(first.id, {"description": "details"})
        updated = await next_event(ws)
        assert updated["type"] == "task_updated" and updated["data"]["description"] == "details"

        await tasks.move(second.id, "doing", 0)
        moved = await next_event(ws)
        assert moved["type"] == "task_moved" and moved["data"]["status"] == "doing"
        assert moved["data"]["columns"]["doing"] == [str(second.id)]
        assert moved["data"]["columns"]["todo"] == [str(first.id)]

        # A REST change reaches the same stream.
        await client.post(f"/api/tasks/{first.id}/archive")
        assert (await next_event(ws))["type"] == "task_archived"
        await tasks.delete(first.id)
        deleted = await next_event(ws)
        assert deleted == {"type": "task_deleted", "data": {"id": str(first.id), "project_id": pid}}

        doc = await docs.create(pid, {"title": "PRD", "content": "one"})
        created = await next_event(ws)
        assert created["type"] == "document_created" and created["data"]["content"] == "one"
        await docs.update(pid, doc.id, {"content": "two"})
        assert (await next_event(ws))["data"]["version"] == 2
        await docs.restore(pid, doc.id, 1)
        restored = await next_event(ws)
        assert restored["type"] == "document_restored"
        assert (restored["data"]["version"], restored["data"]["content"]) == (3, "one")
    finally:
        await ws.close()


async def test_stream_events_from_another_process(
        client: httpx.AsyncClient, live_api: LiveServer, database_url: str) -> None:
    pid = (await make_project(client))["id"]
    ws = await subscribed(live_api, pid)
    other = Database(database_url, min_size=1, max_size=2)  # e.g. an `archon mcp` stdio process
    await other.open()
    try:
        task = await TaskService(other).create({"project_id": pid, "title": "From stdio MCP"})
        event = await next_event(ws)
        assert event["type"] == "task_created" and event["data"]["id"] == str(task.id)

        # Any writer that follows the NOTIFY contract is seen, even plain SQL on its own connection.
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, conn.transaction():
            row = await (await conn.execute(
                "INSERT INTO archon_tasks (project_id, title, task_order) VALUES (%s, 'raw SQL', 1) RETURNING id",
                (pid,))).fetchone()
            assert row is not None
            payload = json.dumps({"project_id": pid, "type": "task_created", "id": str(row[0])})
            await conn.execute("SELECT pg_notify('archon_projects', %s)", (payload,))
        raw = await next_event(ws)
        assert (raw["type"], raw["data"]["title"]) == ("task_created", "raw SQL")
    finally:
        await other.close()
        await ws.close()


async def test_stream_only_carries_its_own_project(client: httpx.AsyncClient, live_api: LiveServer) -> None:
    mine = (await make_project(client, "Mine"))["id"]
    theirs = (await make_project(client, "Theirs"))["id"]
    ws = await subscribed(live_api, mine)
    try:
        await client.post(f"/api/projects/{theirs}/tasks", json={"title": "not for me"})
        await client.post(f"/api/projects/{mine}/tasks", json={"title": "for me"})
        event = await next_event(ws)
        assert event["data"]["title"] == "for me"
    finally:
        await ws.close()


async def test_stream_project_update_and_delete_close_the_stream(
        client: httpx.AsyncClient, live_api: LiveServer) -> None:
    pid = (await make_project(client))["id"]
    ws = await subscribed(live_api, pid)
    await client.patch(f"/api/projects/{pid}", json={"title": "Renamed"})
    updated = await next_event(ws)
    assert updated["type"] == "project_updated" and updated["data"]["title"] == "Renamed"
    await client.delete(f"/api/projects/{pid}", params={"confirm": True})
    assert await next_event(ws) == {"type": "project_deleted", "data": {"id": pid}}
    with pytest.raises(ConnectionClosed):
        await next_event(ws)
    assert ws.close_code == 1000


async def test_stream_unknown_or_malformed_project(live_api: LiveServer) -> None:
    for project_id, code in [(str(uuid.uuid4()), 4404), ("not-a-uuid", 4422)]:
        async with connect(ws_url(live_api, project_id)) as ws:
            event = await next_event(ws)
            assert event["type"] == "error" and "project" in event["data"]["error"]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == code


async def test_stream_refuses_foreign_origin(client: httpx.AsyncClient, live_api: LiveServer) -> None:
    pid = (await make_project(client))["id"]
    with pytest.raises(InvalidStatus) as info:
        async with connect(ws_url(live_api, pid), origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    async with connect(ws_url(live_api, pid), origin="http://localhost:3737") as ws:  # type: ignore[arg-type]
        assert (await next_event(ws))["type"] == "subscribed"


async def test_stream_fans_out_to_many_clients(client: httpx.AsyncClient, live_api: LiveServer) -> None:
    pid = (await make_project(client))["id"]
    sockets = [await subscribed(live_api, pid) for _ in range(5)]
    try:
        created = (await client.post(f"/api/projects/{pid}/tasks", json={"title": "everyone"})).json()
        events = await asyncio.gather(*(next_event(ws) for ws in sockets))
        assert {(e["type"], e["data"]["id"]) for e in events} == {("task_created", created["id"])}
    finally:
        for ws in sockets:
            await ws.close()


async def test_stream_on_a_second_api_process_sees_changes_made_on_the_first(
        client: httpx.AsyncClient, settings: Any) -> None:
    from archon.app import create_app

    second = create_app(settings)  # another API process on the same database
    async with second.router.lifespan_context(second), LiveServer(second) as server:
        pid = (await make_project(client))["id"]
        ws = await subscribed(server, pid)
        try:
            created = (await client.post(f"/api/projects/{pid}/tasks", json={"title": "made on API 1"})).json()
            event = await next_event(ws)
            assert (event["type"], event["data"]["id"]) == ("task_created", created["id"])
        finally:
            await ws.close()


async def test_stream_reports_resync_after_the_listener_reconnects(
        client: httpx.AsyncClient, live_api: LiveServer, database_url: str) -> None:
    pid = (await make_project(client))["id"]
    ws = await subscribed(live_api, pid)
    try:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
            await admin.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                   WHERE query ILIKE 'LISTEN%%' AND datname = current_database()""")
        assert (await next_event(ws))["type"] == "resync"
        created = (await client.post(f"/api/projects/{pid}/tasks", json={"title": "after reconnect"})).json()
        assert (await next_event(ws))["data"]["id"] == created["id"]
    finally:
        await ws.close()


async def test_stream_requires_the_api_key_when_one_is_set(database_url: str, tmp_path: Any) -> None:
    from archon.app import create_app
    from tests.conftest import make_settings

    secured = create_app(make_settings(database_url, tmp_path / "data", api_key="s3cret-key"))
    async with secured.router.lifespan_context(secured), LiveServer(secured) as server:
        transport = httpx.ASGITransport(app=secured)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as authed:
            response = await authed.post("/api/projects", json={"title": "P"},
                                         headers={"Authorization": "Bearer s3cret-key"})
            pid = response.json()["id"]
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            async with connect(ws_url(server, pid)) as ws:
                await ws.recv()
        async with connect(ws_url(server, pid) + "?token=s3cret-key") as ws:
            assert (await next_event(ws))["type"] == "subscribed"
