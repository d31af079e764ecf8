"""Tasks REST API: CRUD, filters, subtasks, archive/delete, validation."""

from __future__ import annotations

import uuid

import httpx

from tests.projects.conftest import board, make_project, make_task


async def test_task_create_get_update_both_paths(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    first = await make_task(client, pid, "Write tests", description="**md**", assignee="Archon", priority="high",
                            feature="auth", sources=[{"url": "https://x"}])
    assert (first["status"], first["task_order"], first["priority"]) == ("todo", 0, "high")
    via_tasks = await client.post("/api/tasks", json={"project_id": pid, "title": "Second"})
    assert via_tasks.status_code == 201 and via_tasks.json()["task_order"] == 1

    got = (await client.get(f"/api/tasks/{first['id']}")).json()
    assert got["description"] == "**md**" and got["sources"] == [{"url": "https://x"}]

    patched = await client.patch(f"/api/tasks/{first['id']}", json={"assignee": "Claude", "feature": None})
    assert patched.status_code == 200
    assert (patched.json()["assignee"], patched.json()["feature"], patched.json()["title"]) == (
        "Claude", None, "Write tests")
    put = await client.put(f"/api/tasks/{first['id']}", json={"priority": "critical"})
    assert put.json()["priority"] == "critical" and put.json()["assignee"] == "Claude"


async def test_task_list_filters(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client, "A"))["id"]
    other = (await make_project(client, "B"))["id"]
    await make_task(client, pid, "Login page", assignee="Archon", feature="auth")
    await make_task(client, pid, "Logout", status="doing", assignee="User", feature="auth")
    await make_task(client, pid, "Billing 100% done", status="done", feature="billing")
    await make_task(client, other, "Elsewhere login")

    async def titles(path: str, **params: object) -> list[str]:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["tasks"]]

    assert await titles(f"/api/projects/{pid}/tasks") == ["Login page", "Logout", "Billing 100% done"]
    assert await titles("/api/tasks", project_id=pid, status="doing") == ["Logout"]
    assert sorted(await titles("/api/tasks", q="login")) == ["Elsewhere login", "Login page"]
    assert await titles("/api/tasks", q="100%") == ["Billing 100% done"]  # % is literal, not a wildcard
    assert await titles("/api/tasks", q="1_0") == []
    assert await titles(f"/api/projects/{pid}/tasks", assignee="Archon") == ["Login page"]
    assert await titles(f"/api/projects/{pid}/tasks", feature="auth", include_closed=False) == ["Login page", "Logout"]
    assert await titles(f"/api/projects/{pid}/tasks", include_closed=False, feature="billing") == []
    multi = await client.get(f"/api/projects/{pid}/tasks?status=todo&status=done")
    assert [t["status"] for t in multi.json()["tasks"]] == ["todo", "done"]
    paged = (await client.get("/api/tasks", params={"limit": 2, "offset": 1})).json()
    assert paged["total"] == 4 and len(paged["tasks"]) == 2
    past_end = (await client.get("/api/tasks", params={"offset": 50})).json()
    assert (past_end["total"], past_end["tasks"]) == (4, [])
    light = (await client.get("/api/tasks", params={"exclude_large_fields": True})).json()["tasks"]
    assert all(t["description"] == "" for t in light)


async def test_task_subtasks_rules(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client, "A"))["id"]
    other = (await make_project(client, "B"))["id"]
    parent = await make_task(client, pid, "Epic")
    child = await make_task(client, pid, "Story", parent_task_id=parent["id"])
    grandchild = await make_task(client, pid, "Sub", parent_task_id=child["id"])
    foreign = await make_task(client, other, "Foreign")

    listed = await client.get("/api/tasks", params={"parent_task_id": parent["id"]})
    assert [t["title"] for t in listed.json()["tasks"]] == ["Story"]
    top = await client.get(f"/api/projects/{pid}/tasks", params={"top_level_only": True})
    assert [t["title"] for t in top.json()["tasks"]] == ["Epic"]

    cross = await client.post(f"/api/projects/{other}/tasks", json={"title": "x", "parent_task_id": parent["id"]})
    assert cross.status_code == 422 and "parent_task_id" in cross.json()["error"]
    moved_cross = await client.patch(f"/api/tasks/{foreign['id']}", json={"parent_task_id": parent["id"]})
    assert moved_cross.status_code == 422 and "another project" in moved_cross.json()["error"]
    cycle = await client.patch(f"/api/tasks/{parent['id']}", json={"parent_task_id": grandchild["id"]})
    assert cycle.status_code == 422 and "cycle" in cycle.json()["error"]
    self_parent = await client.patch(f"/api/tasks/{parent['id']}", json={"parent_task_id": parent["id"]})
    assert self_parent.status_code == 422
    unknown = await client.post(f"/api/projects/{pid}/tasks", json={"title": "x", "parent_task_id": str(uuid.uuid4())})
    assert unknown.status_code == 404

    detached = await client.patch(f"/api/tasks/{grandchild['id']}", json={"parent_task_id": None})
    assert detached.status_code == 200 and detached.json()["parent_task_id"] is None
    reparented = await client.patch(f"/api/tasks/{grandchild['id']}", json={"parent_task_id": parent["id"]})
    assert reparented.status_code == 200 and reparented.json()["parent_task_id"] == parent["id"]


async def test_task_archive_unarchive_and_delete(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    a = await make_task(client, pid, "A")
    parent = await make_task(client, pid, "Parent")
    child = await make_task(client, pid, "Child", parent_task_id=parent["id"])
    d = await make_task(client, pid, "D")

    archived = await client.post(f"/api/tasks/{parent['id']}/archive", json={"archived_by": "Archon"})
    assert archived.status_code == 200
    assert archived.json()["archived"] is True and archived.json()["archived_by"] == "Archon"
    assert (await client.get(f"/api/tasks/{child['id']}")).json()["archived"] is True  # subtasks go with it
    assert (await client.post(f"/api/tasks/{parent['id']}/archive")).status_code == 409
    assert await board(client, pid) == {"todo": [(a["id"], 0), (d["id"], 1)], "doing": [], "review": [], "done": []}
    hidden = await client.get(f"/api/projects/{pid}/tasks", params={"include_archived": True})
    assert hidden.json()["total"] == 4
    blocked = await client.post(f"/api/tasks/{parent['id']}/move", json={"status": "doing"})
    assert blocked.status_code == 409

    back = await client.post(f"/api/tasks/{parent['id']}/unarchive")
    assert back.status_code == 200 and back.json()["task_order"] == 2
    assert (await client.post(f"/api/tasks/{parent['id']}/unarchive")).status_code == 409

    deleted = await client.delete(f"/api/tasks/{parent['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted_tasks"] == 2
    assert (await client.get(f"/api/tasks/{child['id']}")).status_code == 404
    assert await board(client, pid) == {"todo": [(a["id"], 0), (d["id"], 1)], "doing": [], "review": [], "done": []}
    assert (await client.delete(f"/api/tasks/{parent['id']}")).status_code == 404


async def test_task_validation_and_unknown_ids(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    task = await make_task(client, pid, "T")
    for body, field in [({"title": "x", "status": "blocked"}, "status"), ({"title": "x", "priority": "urgent"},
                        "priority"), ({"title": ""}, "title"), ({"title": "x", "task_order": -1}, "task_order")]:
        response = await client.post(f"/api/projects/{pid}/tasks", json=body)
        assert response.status_code == 422, body
        assert field in response.json()["error"], response.json()
    bad_status = await client.patch(f"/api/tasks/{task['id']}", json={"status": "finished"})
    assert bad_status.status_code == 422 and "status" in bad_status.json()["error"]
    null_title = await client.patch(f"/api/tasks/{task['id']}", json={"title": None})
    assert null_title.status_code == 422 and "title" in null_title.json()["error"]
    bad_filter = await client.get("/api/tasks", params={"status": "nope"})
    assert bad_filter.status_code == 422 and "status" in bad_filter.json()["error"]
    no_project = await client.post("/api/tasks", json={"project_id": str(uuid.uuid4()), "title": "x"})
    assert no_project.status_code == 404
    assert (await client.get("/api/tasks", params={"project_id": str(uuid.uuid4())})).status_code == 404
    missing = uuid.uuid4()
    for method, path in [("GET", f"/api/tasks/{missing}"), ("PATCH", f"/api/tasks/{missing}"),
                         ("POST", f"/api/tasks/{missing}/move"), ("POST", f"/api/tasks/{missing}/archive"),
                         ("DELETE", f"/api/tasks/{missing}")]:
        body = {"status": "doing"} if path.endswith("move") else ({} if method == "PATCH" else None)
        response = await client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    malformed = await client.get("/api/tasks/12345")
    assert malformed.status_code == 422 and "task_id" in malformed.json()["error"]
