"""Hostile and odd input never reaches the database as an error: 4xx naming the field, or a literal match."""

from __future__ import annotations

import httpx

from tests.projects.conftest import make_project, make_task


async def test_nul_characters_are_refused_with_the_field_named(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    task = await make_task(client, pid, "T")
    cases = [
        ("POST", "/api/projects", {"title": "a\u0000b"}, "title"),
        ("POST", "/api/projects", {"title": "x", "prd": {"k": "v\u0000"}}, "prd"),
        ("PATCH", f"/api/tasks/{task['id']}", {"description": "\u0000"}, "description"),
        ("POST", f"/api/projects/{pid}/docs", {"title": "d", "tags": ["a\u0000"]}, "tags"),
        ("POST", f"/api/projects/{pid}/sources", {"source_id": "s\u0000"}, "source_id"),
    ]
    for method, path, body, field in cases:
        response = await client.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert field in response.json()["error"]
    for path in ("/api/tasks?q=a%00b", f"/api/projects/{pid}/docs?q=%00"):
        response = await client.get(path)
        assert response.status_code == 422 and "q" in response.json()["error"], response.text
    unlink = await client.delete(f"/api/projects/{pid}/sources/a%00b")
    assert unlink.status_code == 422 and "source_id" in unlink.json()["error"]


async def test_search_text_is_matched_literally(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    await make_task(client, pid, "quote ' and paren ) and back\\slash")
    await make_task(client, pid, "plain")
    for q in ("'", ")", "\\", "a & | !", "x,source_id.neq.null", "%", "_", "' OR 1=1 --"):
        response = await client.get("/api/tasks", params={"q": q})
        assert response.status_code == 200, (q, response.text)
        titles = [t["title"] for t in response.json()["tasks"]]
        expected = ["quote ' and paren ) and back\\slash"] if q in ("'", ")", "\\") else []
        assert titles == expected, (q, titles)
    long_q = await client.get("/api/tasks", params={"q": "x" * 5000})
    assert long_q.status_code == 422 and "q" in long_q.json()["error"]
    huge_title = await client.post(f"/api/projects/{pid}/tasks", json={"title": "t" * 1000})
    assert huge_title.status_code == 422 and "title" in huge_title.json()["error"]
    bad_json = await client.post("/api/projects", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422
    wrong_type = await client.post(f"/api/projects/{pid}/tasks", json={"title": "t", "task_order": "first"})
    assert wrong_type.status_code == 422 and "task_order" in wrong_type.json()["error"]
