"""Project documents REST API: CRUD, versions on every change, restore as a new version."""

from __future__ import annotations

import uuid

import httpx
import pytest

from archon.errors import NotFound
from tests.projects.conftest import make_project


async def test_document_crud_and_versions(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    created = await client.post(f"/api/projects/{pid}/docs", json={
        "document_type": "spec", "title": "API spec", "content": "# v1", "tags": ["api"], "author": "Archon"})
    assert created.status_code == 201
    doc = created.json()
    assert (doc["version"], doc["document_type"], doc["tags"]) == (1, "spec", ["api"])
    base = f"/api/projects/{pid}/docs/{doc['id']}"

    updated = await client.patch(base, json={"content": "# v2", "change_summary": "second draft"})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    unchanged = await client.put(base, json={"content": "# v2"})
    assert unchanged.json()["version"] == 2  # no change, no new version
    retitled = await client.put(base, json={"title": "API spec (final)", "tags": ["api", "final"]})
    assert retitled.json()["version"] == 3 and retitled.json()["content"] == "# v2"

    listed = (await client.get(f"/api/projects/{pid}/docs")).json()
    assert [d["title"] for d in listed] == ["API spec (final)"] and listed[0]["content"] is None
    full = (await client.get(f"/api/projects/{pid}/docs", params={"include_content": True})).json()
    assert full[0]["content"] == "# v2"
    assert (await client.get(f"/api/projects/{pid}/docs", params={"document_type": "note"})).json() == []
    assert len((await client.get(f"/api/projects/{pid}/docs", params={"q": "final"})).json()) == 1

    versions = (await client.get(f"{base}/versions")).json()
    assert [(v["version"], v["change_type"]) for v in versions] == [(3, "update"), (2, "update"), (1, "create")]
    assert versions[1]["change_summary"] == "second draft" and versions[0]["content"] is None
    v1 = (await client.get(f"{base}/versions/1")).json()
    assert (v1["content"], v1["title"], v1["author"]) == ("# v1", "API spec", "Archon")

    deleted = await client.delete(base)
    assert deleted.status_code == 200 and deleted.json()["deleted_versions"] == 3
    assert (await client.get(base)).status_code == 404
    assert (await client.get(f"{base}/versions")).status_code == 404


async def test_document_restore_creates_new_version_and_keeps_history(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    doc = (await client.post(f"/api/projects/{pid}/docs", json={"title": "Design", "content": "one"})).json()
    base = f"/api/projects/{pid}/docs/{doc['id']}"
    await client.patch(base, json={"content": "two", "document_type": "design"})
    await client.patch(base, json={"content": "three"})

    restored = await client.post(f"{base}/versions/1/restore", json={"author": "Reviewer"})
    assert restored.status_code == 200
    body = restored.json()
    assert (body["version"], body["content"], body["document_type"], body["author"]) == (4, "one", "note", "Reviewer")
    assert (await client.get(base)).json()["content"] == "one"

    history = (await client.get(f"{base}/versions", params={"include_content": True})).json()
    assert [(v["version"], v["content"], v["change_type"]) for v in history] == [
        (4, "one", "restore"), (3, "three", "update"), (2, "two", "update"), (1, "one", "create")]
    assert history[0]["change_summary"] == "restored version 1"

    again = await client.post(f"{base}/versions/3/restore")
    assert again.json()["version"] == 5 and again.json()["content"] == "three"
    assert (await client.get(f"{base}/versions/4")).json()["content"] == "one"  # history is never rewritten


async def test_document_errors(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client, "A"))["id"]
    other = (await make_project(client, "B"))["id"]
    doc = (await client.post(f"/api/projects/{pid}/docs", json={"title": "D"})).json()
    base = f"/api/projects/{pid}/docs/{doc['id']}"

    bad_type = await client.post(f"/api/projects/{pid}/docs", json={"title": "x", "document_type": "memo"})
    assert bad_type.status_code == 422 and "document_type" in bad_type.json()["error"]
    no_title = await client.post(f"/api/projects/{pid}/docs", json={"content": "x"})
    assert no_title.status_code == 422 and "title" in no_title.json()["error"]
    null_title = await client.patch(base, json={"title": None})
    assert null_title.status_code == 422 and "title" in null_title.json()["error"]
    stale = await client.patch(base, json={"content": "new", "expected_version": 7})
    assert stale.status_code == 409 and stale.json()["detail"] == {"version": 1}
    assert (await client.patch(base, json={"content": "new", "expected_version": 1})).json()["version"] == 2

    assert (await client.get(f"/api/projects/{other}/docs/{doc['id']}")).status_code == 404  # wrong project
    assert (await client.get(f"/api/projects/{uuid.uuid4()}/docs/{doc['id']}")).status_code == 404
    assert (await client.get(f"{base}/versions/9")).status_code == 404
    assert (await client.post(f"{base}/versions/9/restore")).status_code == 404
    zero = await client.get(f"{base}/versions/0")
    assert zero.status_code == 422 and "version" in zero.json()["error"]
    malformed = await client.get(f"/api/projects/{pid}/docs/xyz")
    assert malformed.status_code == 422 and "doc_id" in malformed.json()["error"]
    assert (await client.delete(f"/api/projects/{pid}/docs/{uuid.uuid4()}")).status_code == 404


async def test_document_find_by_id_alone(client: httpx.AsyncClient, app: object) -> None:
    from archon.projects.service import DocumentService

    pid = (await make_project(client))["id"]
    doc = (await client.post(f"/api/projects/{pid}/docs", json={"title": "Guide", "content": "body"})).json()
    service = DocumentService(app.state.runtime.db)  # type: ignore[attr-defined]
    found = await service.find(doc["id"])
    assert (str(found.project_id), found.content) == (pid, "body")
    with pytest.raises(NotFound):
        await service.find(uuid.uuid4())
