from __future__ import annotations

import httpx

from archon.knowledge.ingest.pipeline import PagePipeline
from archon.knowledge.service import KnowledgeService, source_id_for_url
from archon.runtime import Runtime

PAGE = """# Routing

Routers map paths to handlers. Path parameters are typed.

```python
from fastapi import FastAPI

app = FastAPI()

@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}
```

## Dependencies

Dependencies are injected per request.
"""


async def _seed(app: object) -> list[str]:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    knowledge = KnowledgeService(runtime)
    pipeline = PagePipeline(runtime)
    ids = []
    for i, (kind, tags) in enumerate([("technical", ["python", "web"]), ("business", ["sales"]),
                                      ("technical", ["rust"])]):
        url = f"http://127.0.0.1:9/site{i}"
        sid = source_id_for_url(url)
        await knowledge.create_source(source_id=sid, source_type="url", url=url, title=f"Site {i} docs",
                                      knowledge_type=kind, tags=tags)
        for p in range(3 if i == 0 else 1):
            await pipeline.index_document(sid, url=f"{url}/p{p}", markdown=PAGE, title=f"Routing {p}")
        await knowledge.set_status(sid, "ready", last_indexed_at="now")
        ids.append(sid)
    return ids


async def test_list_filters_and_paginates(app: object, client: httpx.AsyncClient) -> None:
    ids = await _seed(app)
    body = (await client.get("/api/knowledge-items", params={"per_page": 2})).json()
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 2 and len(body["items"]) == 2
    page2 = (await client.get("/api/knowledge-items", params={"per_page": 2, "page": 2})).json()
    assert len(page2["items"]) == 1
    assert {i["source_id"] for i in body["items"] + page2["items"]} == set(ids)
    first = next(i for i in body["items"] + page2["items"] if i["source_id"] == ids[0])
    expected = {"source_id", "title", "url", "knowledge_type", "tags", "page_count", "chunk_count",
                "code_example_count", "status", "last_indexed_at"}
    assert expected <= set(first)
    assert first["page_count"] == 3 and first["code_example_count"] == 3 and first["status"] == "ready"
    technical = (await client.get("/api/knowledge-items", params={"knowledge_type": "technical"})).json()
    assert technical["total"] == 2
    assert (await client.get("/api/knowledge-items", params={"knowledge_type": "", "tag": ""})).json()["total"] == 3
    assert (await client.get("/api/knowledge-items", params={"tag": "sales"})).json()["total"] == 1
    assert (await client.get("/api/knowledge-items", params={"search": "site 2"})).json()["total"] == 1
    assert (await client.get("/api/knowledge-items", params={"text": "100%"})).json()["total"] == 0


async def test_list_rejects_bad_parameters(client: httpx.AsyncClient) -> None:
    for params, field in [({"per_page": 0}, "per_page"), ({"page": 0}, "page"), ({"per_page": 1000}, "per_page"),
                          ({"knowledge_type": "secret"}, "knowledge_type")]:
        resp = await client.get("/api/knowledge-items", params=params)
        assert resp.status_code == 422, params
        assert resp.json()["detail"][0]["field"] == field


async def test_get_put_delete(app: object, client: httpx.AsyncClient) -> None:
    sid = (await _seed(app))[0]
    assert (await client.get(f"/api/knowledge-items/{sid}")).json()["title"] == "Site 0 docs"
    resp = await client.put(f"/api/knowledge-items/{sid}", json={"title": "Renamed", "tags": ["a", "b"],
                                                                 "knowledge_type": "general",
                                                                 "update_frequency_days": 7})
    assert resp.status_code == 200, resp.text
    item = resp.json()
    assert (item["title"], item["tags"], item["knowledge_type"], item["update_frequency_days"]) == \
        ("Renamed", ["a", "b"], "general", 7)
    assert item["next_refresh_at"] is not None
    cleared = (await client.put(f"/api/knowledge-items/{sid}", json={"update_frequency_days": None})).json()
    assert cleared["update_frequency_days"] is None and cleared["title"] == "Renamed"
    for body, field in [({"knowledge_type": "x"}, "knowledge_type"), ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
                        ({"title": ""}, "title"), ({"colour": "red"}, "colour"),
                        ({"update_frequency_days": 0}, "update_frequency_days")]:
        bad = await client.put(f"/api/knowledge-items/{sid}", json=body)
        assert bad.status_code == 422, body
        assert bad.json()["detail"][0]["field"] == field
    assert (await client.put("/api/knowledge-items/src_missing", json={"title": "x"})).status_code == 404
    assert (await client.delete(f"/api/knowledge-items/{sid}")).json() == {"success": True, "source_id": sid}
    assert (await client.get(f"/api/knowledge-items/{sid}")).status_code == 404
    assert (await client.delete(f"/api/knowledge-items/{sid}")).status_code == 404
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM archon_chunk_embeddings WHERE source_id = %s",
                                        (sid,))).fetchone()
    assert row is not None and row["n"] == 0


async def test_pages_chunks_and_code_examples_are_paginated(app: object, client: httpx.AsyncClient) -> None:
    sid = (await _seed(app))[0]
    pages = (await client.get(f"/api/knowledge-items/{sid}/pages", params={"per_page": 2})).json()
    assert pages["total"] == 3 and len(pages["items"]) == 2 and pages["items"][0]["url"].endswith("/p0")
    chunks = (await client.get(f"/api/knowledge-items/{sid}/chunks", params={"per_page": 100})).json()
    assert chunks["total"] == len(chunks["items"]) >= 3
    first = chunks["items"][0]
    assert first["headings"][0] == "Routing 0" and first["url"].endswith("/p0") and first["chunk_index"] == 0
    assert any(c["heading_path"].endswith("Dependencies") for c in chunks["items"])
    code = (await client.get(f"/api/knowledge-items/{sid}/code-examples")).json()
    assert code["total"] == 3 and code["items"][0]["language"] == "python"
    assert "read_item" in code["items"][0]["code"] and code["items"][0]["title"]
    for sub in ("pages", "chunks", "code-examples"):
        assert (await client.get(f"/api/knowledge-items/src_nope/{sub}")).status_code == 404
        assert (await client.get(f"/api/knowledge-items/{sid}/{sub}", params={"page": 0})).status_code == 422


async def test_progress_and_stop_of_unknown_jobs_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/progress/nope")).status_code == 404
    assert (await client.post("/api/knowledge-items/stop/nope")).status_code == 404


async def test_delete_of_a_10k_chunk_source_is_batched_and_quick(app: object, client: httpx.AsyncClient) -> None:
    import time

    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.connection() as conn:  # a model row without an HNSW index keeps the setup fast
        model = await (await conn.execute("INSERT INTO archon_embedding_models (provider, model, dimensions) "
                                          "VALUES ('test', 'bulk', 384) RETURNING id")).fetchone()
    assert model is not None
    sid = "src_big"
    await KnowledgeService(runtime).create_source(source_id=sid, source_type="url", url="http://127.0.0.1:9/big")
    vector = "[" + ",".join(["0.05"] * 384) + "]"
    async with runtime.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO archon_pages (source_id, url, markdown, content_hash) "
            "SELECT %s, 'http://127.0.0.1:9/big/' || g, 'page', 'h' FROM generate_series(1, 200) g", (sid,))
        await conn.execute(
            "INSERT INTO archon_chunks (source_id, page_id, chunk_index, content) "
            "SELECT %s, p.id, g, 'chunk text ' || g FROM archon_pages p, generate_series(0, 49) g "
            "WHERE p.source_id = %s", (sid, sid))
        await conn.execute(
            "INSERT INTO archon_chunk_embeddings (model_id, chunk_id, source_id, embedding) "
            "SELECT %s, id, source_id, %s::vector FROM archon_chunks WHERE source_id = %s", (model["id"], vector, sid))
    assert (await client.get(f"/api/knowledge-items/{sid}")).json()["chunk_count"] == 10_000
    start = time.monotonic()
    resp = await client.delete(f"/api/knowledge-items/{sid}")
    elapsed = time.monotonic() - start
    assert resp.status_code == 200 and elapsed < 30
    async with runtime.db.connection() as conn:
        left = await (await conn.execute(
            "SELECT (SELECT count(*) FROM archon_chunks WHERE source_id = %(s)s) + "
            "(SELECT count(*) FROM archon_chunk_embeddings WHERE source_id = %(s)s) AS n", {"s": sid})).fetchone()
    assert left is not None and left["n"] == 0
