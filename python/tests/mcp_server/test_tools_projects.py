"""Project, task and document tools through a real MCP client, checked against the REST API."""

from __future__ import annotations

from typing import Any

import httpx

from archon.mcp_server.tools.tasks import SUMMARY_DESCRIPTION
from tests.conftest import LiveServer
from tests.mcp_server.conftest import error_text, http_session, structured


async def test_project_tools(mcp_live: LiveServer, client: httpx.AsyncClient) -> None:
    async with http_session(f"{mcp_live.url}/mcp") as session:
        created = structured(await session.call_tool("create_project", {"title": "Rocket", "description": "Go up"}))
        pid = created["id"]
        listed = structured(await session.call_tool("list_projects", {"limit": 10}))
        assert [p["id"] for p in listed["projects"]] == [pid] and listed["next_offset"] is None
        updated = structured(
            await session.call_tool("update_project", {"project_id": pid, "pinned": True, "title": "Rocket 2"})
        )
        assert updated["title"] == "Rocket 2" and updated["pinned"] is True
        got = structured(await session.call_tool("get_project", {"project_id": pid}))
        assert got["title"] == "Rocket 2" and got["task_counts"]["todo"] == 0
        assert "nothing to update" in error_text(await session.call_tool("update_project", {"project_id": pid}))
        assert "not_found" in error_text(
            await session.call_tool("get_project", {"project_id": "00000000-0000-0000-0000-000000000000"})
        )
        assert "project_id" in error_text(await session.call_tool("get_project", {"project_id": "not-a-uuid"}))
        assert "title" in error_text(await session.call_tool("create_project", {"title": "  "}))
    rest = (await client.get(f"/api/projects/{pid}")).json()
    assert rest["title"] == "Rocket 2"


async def test_task_tools(mcp_live: LiveServer, client: httpx.AsyncClient) -> None:
    async with http_session(f"{mcp_live.url}/mcp") as session:
        pid = structured(await session.call_tool("create_project", {"title": "Board"}))["id"]
        long_text = "step " * 400
        first = structured(
            await session.call_tool(
                "create_task",
                {
                    "project_id": pid,
                    "title": "Write parser",
                    "description": long_text,
                    "assignee": "Archon",
                    "priority": "high",
                    "feature": "parsing",
                },
            )
        )
        second = structured(await session.call_tool("create_task", {"project_id": pid, "title": "Write docs"}))
        assert first["status"] == "todo" and first["priority"] == "high"

        mine = structured(await session.call_tool("list_tasks", {"project_id": pid, "assignee": "Archon"}))
        assert [t["id"] for t in mine["tasks"]] == [first["id"]]
        assert len(mine["tasks"][0]["description"]) < SUMMARY_DESCRIPTION + 80
        by_text = structured(await session.call_tool("list_tasks", {"project_id": pid, "text": "docs"}))
        assert [t["id"] for t in by_text["tasks"]] == [second["id"]]

        moved = structured(
            await session.call_tool(
                "update_task", {"task_id": first["id"], "status": "doing", "description": "Now in progress"}
            )
        )
        assert moved["status"] == "doing" and moved["description"] == "Now in progress"
        doing = structured(await session.call_tool("list_tasks", {"status": "doing"}))
        assert [t["id"] for t in doing["tasks"]] == [first["id"]]
        assert structured(await session.call_tool("get_task", {"task_id": first["id"]}))["status"] == "doing"

        bad_status = await session.call_tool("update_task", {"task_id": first["id"], "status": "finished"})
        assert bad_status.is_error and "status" in error_text(bad_status)
        refused = await session.call_tool("delete_task", {"task_id": second["id"]})
        assert "confirm" in error_text(refused)
        assert (await client.get(f"/api/tasks/{second['id']}")).status_code == 200
        deleted = structured(await session.call_tool("delete_task", {"task_id": second["id"], "confirm": True}))
        assert deleted["deleted_tasks"] == 1
        assert "not_found" in error_text(await session.call_tool("get_task", {"task_id": second["id"]}))
    assert (await client.get(f"/api/tasks/{second['id']}")).status_code == 404
    rest = (await client.get(f"/api/tasks/{first['id']}")).json()
    assert rest["status"] == "doing"


async def test_document_and_version_tools(mcp_live: LiveServer) -> None:
    async with http_session(f"{mcp_live.url}/mcp") as session:
        pid = structured(await session.call_tool("create_project", {"title": "Docs"}))["id"]
        doc = structured(
            await session.call_tool(
                "create_document",
                {
                    "project_id": pid,
                    "title": "API spec",
                    "content": "v1 text",
                    "document_type": "spec",
                    "tags": ["api"],
                },
            )
        )
        did = doc["id"]
        assert doc["version"] == 1 and doc["author"] == "Archon"
        listed = structured(await session.call_tool("list_documents", {"project_id": pid}))
        assert listed["documents"][0]["resource_uri"] == f"archon://projects/{pid}/documents/{did}"
        updated = structured(
            await session.call_tool(
                "update_document",
                {"project_id": pid, "document_id": did, "content": "v2 text", "change_summary": "second draft"},
            )
        )
        assert updated["version"] == 2
        conflict = await session.call_tool(
            "update_document", {"project_id": pid, "document_id": did, "content": "v3", "expected_version": 1}
        )
        assert "conflict" in error_text(conflict)
        # The seed's get_document(document_id) works without the project id.
        assert structured(await session.call_tool("get_document", {"document_id": did}))["content"] == "v2 text"
        versions = structured(
            await session.call_tool("list_document_versions", {"project_id": pid, "document_id": did})
        )
        assert [v["version"] for v in versions["versions"]] == [2, 1]
        restored = structured(
            await session.call_tool("restore_document_version", {"project_id": pid, "document_id": did, "version": 1})
        )
        assert restored["content"] == "v1 text" and restored["version"] == 3
        assert "not_found" in error_text(
            await session.call_tool("restore_document_version", {"project_id": pid, "document_id": did, "version": 9})
        )
        assert "not_found" in error_text(
            await session.call_tool("get_document", {"document_id": "00000000-0000-0000-0000-000000000000"})
        )


async def test_read_only_tool_set_hides_write_tools(database_url: str, tmp_path: Any) -> None:
    from archon.app import create_app
    from tests.conftest import make_settings

    app: Any = create_app(make_settings(database_url, tmp_path / "data", mcp_tools="read-only"))
    async with (
        app.router.lifespan_context(app),
        LiveServer(app.state.mcp_http_app, lifespan="on") as live,
        http_session(f"{live.url}/mcp") as session,
    ):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert "search_knowledge" in tools and "list_tasks" in tools
        assert not {"create_task", "update_task", "delete_task", "create_project"} & tools.keys()
        assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())
        refused = await session.call_tool("create_task", {"project_id": "x", "title": "y"})
        assert refused.is_error and "create_task" in error_text(refused)
