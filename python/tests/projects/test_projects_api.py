"""Projects REST API: CRUD, task counts, delete confirmation, source links, validation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.projects.conftest import make_project, make_task


async def test_project_create_get_list_update(client: httpx.AsyncClient) -> None:
    created = await make_project(client, "Alpha", description="first", github_repo="https://github.com/a/b",
                                 prd={"goal": "ship"}, features=[{"name": "login"}])
    assert created["title"] == "Alpha" and created["prd"] == {"goal": "ship"}
    assert created["task_counts"] == {"todo": 0, "doing": 0, "review": 0, "done": 0, "archived": 0}
    pid = created["id"]

    got = (await client.get(f"/api/projects/{pid}")).json()
    assert got["description"] == "first" and got["features"] == [{"name": "login"}]
    features = (await client.get(f"/api/projects/{pid}/features")).json()
    assert features == {"features": [{"name": "login"}], "count": 1}

    patched = await client.patch(f"/api/projects/{pid}", json={"title": "Alpha 2", "pinned": True})
    assert patched.status_code == 200 and patched.json()["title"] == "Alpha 2"
    assert patched.json()["description"] == "first"  # untouched fields stay
    put = await client.put(f"/api/projects/{pid}", json={"github_repo": None})
    assert put.status_code == 200 and put.json()["github_repo"] is None and put.json()["pinned"] is True

    await make_project(client, "Beta")
    listed = (await client.get("/api/projects")).json()
    assert listed["total"] == 2
    assert [p["title"] for p in listed["projects"]] == ["Alpha 2", "Beta"]  # pinned first


async def test_project_list_task_counts_and_include_archived(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    for status in ("todo", "todo", "doing", "review", "done"):
        await make_task(client, pid, f"t-{status}", status=status)
    archived = await make_task(client, pid, "old", status="done")
    assert (await client.post(f"/api/tasks/{archived['id']}/archive")).status_code == 200

    counts = (await client.get("/api/projects")).json()["projects"][0]["task_counts"]
    assert counts == {"todo": 2, "doing": 1, "review": 1, "done": 1, "archived": 1}
    with_archived = (await client.get("/api/projects", params={"include_archived": True})).json()
    assert with_archived["projects"][0]["task_counts"]["done"] == 2


async def test_project_delete_requires_confirmation_and_reports_counts(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    parent = await make_task(client, pid, "parent")
    await make_task(client, pid, "child", parent_task_id=parent["id"])
    doc = (await client.post(f"/api/projects/{pid}/docs", json={"title": "Spec", "content": "v1"})).json()
    await client.patch(f"/api/projects/{pid}/docs/{doc['id']}", json={"content": "v2"})

    refused = await client.delete(f"/api/projects/{pid}")
    assert refused.status_code == 409
    assert "2 tasks" in refused.json()["error"] and "confirm=true" in refused.json()["error"]
    assert refused.json()["detail"]["would_delete"]["documents"] == 1
    assert (await client.get(f"/api/projects/{pid}")).status_code == 200  # nothing deleted

    deleted = await client.delete(f"/api/projects/{pid}", params={"confirm": "true"})
    assert deleted.status_code == 200
    body = deleted.json()
    assert (body["tasks"], body["documents"], body["document_versions"]) == (2, 1, 2)
    assert (await client.get(f"/api/projects/{pid}")).status_code == 404
    assert (await client.get(f"/api/tasks/{parent['id']}")).status_code == 404


async def test_project_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    for method, path in [("GET", f"/api/projects/{missing}"), ("PATCH", f"/api/projects/{missing}"),
                         ("DELETE", f"/api/projects/{missing}?confirm=true"),
                         ("GET", f"/api/projects/{missing}/tasks"), ("GET", f"/api/projects/{missing}/docs"),
                         ("GET", f"/api/projects/{missing}/sources")]:
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert "not found" in response.json()["error"]
    bad = await client.get("/api/projects/not-a-uuid")
    assert bad.status_code == 422 and "project_id" in bad.json()["error"]


async def test_project_validation_names_the_field(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "title"), ({"title": "   "}, "title"), ({"title": "x", "prd": [1]}, "prd"),
        ({"title": "x", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await client.post("/api/projects", json=body)
        assert response.status_code == 422, body
        assert field in response.json()["error"]
    pid = (await make_project(client))["id"]
    response = await client.patch(f"/api/projects/{pid}", json={"title": None})
    assert response.status_code == 422 and "title" in response.json()["error"]


async def test_project_source_links(client: httpx.AsyncClient, add_source: Any) -> None:
    add_source("src-tech", "Tech docs")
    add_source("src-biz", "Business docs")
    pid = (await make_project(client, technical_sources=["src-tech"]))["id"]
    linked = await client.post(f"/api/projects/{pid}/sources", json={"source_id": "src-biz", "relation": "business"})
    assert linked.status_code == 201
    assert {(s["source_id"], s["relation"], s["title"]) for s in linked.json()} == {
        ("src-tech", "technical", "Tech docs"), ("src-biz", "business", "Business docs")}
    project = (await client.get(f"/api/projects/{pid}")).json()
    assert project["technical_sources"] == ["src-tech"] and project["business_sources"] == ["src-biz"]

    relinked = await client.post(f"/api/projects/{pid}/sources", json={"source_id": "src-biz"})
    assert {s["relation"] for s in relinked.json()} == {"technical"}  # linking again changes the relation

    unlinked = await client.delete(f"/api/projects/{pid}/sources/src-tech")
    assert unlinked.status_code == 200 and [s["source_id"] for s in unlinked.json()] == ["src-biz"]
    assert (await client.delete(f"/api/projects/{pid}/sources/src-tech")).status_code == 404


async def test_project_source_link_errors(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    unknown = await client.post(f"/api/projects/{pid}/sources", json={"source_id": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    bad_relation = await client.post(f"/api/projects/{pid}/sources", json={"source_id": "x", "relation": "legal"})
    assert bad_relation.status_code == 422 and "relation" in bad_relation.json()["error"]
    create_unknown = await client.post("/api/projects", json={"title": "x", "business_sources": ["ghost"]})
    assert create_unknown.status_code == 404 and "ghost" in create_unknown.json()["error"]
    assert (await client.get("/api/projects")).json()["total"] == 1  # the failed create left nothing behind


async def test_project_linked_source_ids_service(runtime: Any, add_source: Any) -> None:
    from archon.projects.service import ProjectService

    add_source("s1")
    add_source("s2")
    service = ProjectService(runtime.db)
    project = await service.create({"title": "P", "technical_sources": ["s2"], "business_sources": ["s1"]})
    assert await service.linked_source_ids(project.id) == ["s1", "s2"]
    assert await service.linked_source_ids(str(project.id), "business") == ["s1"]


async def test_project_service_refuses_bad_paging_and_archiver(runtime: Any) -> None:
    from archon.errors import Invalid
    from archon.projects.service import ProjectService, TaskService

    projects = ProjectService(runtime.db)
    for kwargs in ({"limit": 0}, {"limit": 5000}, {"offset": -1}):
        with pytest.raises(Invalid, match=next(iter(kwargs))):
            await projects.list_projects(**kwargs)
    project = await projects.create({"title": "P"})
    task = await TaskService(runtime.db).create({"project_id": project.id, "title": "T"})
    with pytest.raises(Invalid, match="archived_by"):
        await TaskService(runtime.db).archive(task.id, archived_by="")
