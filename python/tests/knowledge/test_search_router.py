from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.search_corpus import DOCS, add_source, load_corpus, page_url, store_page


def _runtime(app: Any) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def test_rag_query_contract(app: Any, client: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    r = await client.post("/api/rag/query", json={"query": "useEffect hook", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["search_mode"] == "hybrid" and body["reranked"] is False and body["took_ms"] >= 0
    assert 1 <= len(body["results"]) <= 2  # `limit` is the alias of match_count
    top = body["results"][0]
    assert set(top) >= {"chunk_id", "page_id", "source_id", "url", "title", "headings", "content", "score",
                        "match_type", "indexed_at"}
    assert top["url"] == page_url(DOCS, "react-hooks") and top["match_type"] in ("both", "keyword")


async def test_rag_query_modes_and_pages(app: Any, client: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    for mode in ("vector", "keyword"):
        r = await client.post("/api/rag/query", json={"query": "asyncio concurrently", "search_mode": mode})
        assert r.status_code == 200 and r.json()["search_mode"] == mode
        assert {x["match_type"] for x in r.json()["results"]} == {mode}
    r = await client.post("/api/rag/query", json={"query": "asyncio timeout sleep concurrently",
                                                  "return_mode": "pages", "match_count": 10})
    urls = [x["url"] for x in r.json()["results"]]
    assert r.status_code == 200 and len(urls) == len(set(urls)) and page_url(DOCS, "asyncio") in urls


async def test_rag_query_counts_metric(app: Any, client: httpx.AsyncClient) -> None:
    def count(text: str) -> float:
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith("rag_queries_total ")))

    before = count((await client.get("/metrics")).text)
    await client.post("/api/rag/query", json={"query": "anything"})
    assert count((await client.get("/metrics")).text) == before + 1


@pytest.mark.parametrize(("body", "field"), [
    ({"query": ""}, "query"), ({"query": "   "}, "query"), ({"query": "x" * 1001}, "query"), ({}, "query"),
    ({"query": "x", "match_count": 0}, "match_count"), ({"query": "x", "limit": 51}, "limit"),
    ({"query": "x", "search_mode": "fuzzy"}, "search_mode"), ({"query": "x", "return_mode": "books"}, "return_mode"),
    ({"query": "x", "knowledge_type": "poems"}, "knowledge_type"), ({"query": "x", "project_id": "nope"}, "project_id"),
    ({"query": "x", "tags": "python"}, "tags"), ({"query": 5}, "query"),
])
async def test_rag_query_rejects_bad_input_naming_the_field(client: httpx.AsyncClient, body: dict[str, Any],
                                                            field: str) -> None:
    r = await client.post("/api/rag/query", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


async def test_rag_query_unknown_source_and_project_are_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/rag/query", json={"query": "x", "source_id": "missing_src"})
    assert r.status_code == 404 and "missing_src" in r.json()["error"]
    r = await client.post("/api/rag/query", json={"query": "x", "source": "missing_src"})  # v1 field name
    assert r.status_code == 404
    r = await client.post("/api/rag/query",
                          json={"query": "x", "project_id": "00000000-0000-0000-0000-000000000001"})
    assert r.status_code == 404 and "project" in r.json()["error"]


async def test_injection_strings_are_plain_text(app: Any, client: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    for query in ("' OR 1=1--", "'; SELECT pg_sleep(5)--", "a & | ! 'unterminated", "%_\\", "foo:* <-> bar",
                  "--", "\u0000x", '"', "()"):
        for mode in ("hybrid", "keyword"):
            r = await client.post("/api/rag/query", json={"query": query, "search_mode": mode})
            assert r.status_code in (200, 422), (query, r.text)
            assert r.json().get("took_ms", 0) < 1000


async def test_code_examples_endpoint(app: Any, client: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    r = await client.post("/api/rag/code-examples", json={"query": "gather results of coroutines"})
    assert r.status_code == 200
    top = r.json()["results"][0]
    assert {"code", "language", "title", "summary", "url"} <= set(top) and "asyncio.gather" in top["code"]
    assert (await client.post("/api/rag/code-examples", json={"query": ""})).status_code == 422
    assert (await client.post("/api/rag/code-examples", json={"query": "x", "source_id": "nope"})).status_code == 404


async def test_sources_endpoint_lists_counts(app: Any, client: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    body = (await client.get("/api/rag/sources")).json()
    docs = next(s for s in body["sources"] if s["source_id"] == DOCS)
    assert body["count"] == 2
    assert (docs["page_count"], docs["chunk_count"], docs["code_example_count"]) == (5, 7, 1)
    assert docs["tags"] == ["python", "dev"] and docs["knowledge_type"] == "technical"


async def test_pages_endpoints_return_markdown_and_404s(app: Any, client: httpx.AsyncClient) -> None:
    ids = await load_corpus(_runtime(app))
    r = await client.get(f"/api/pages/{ids['functools']}")
    assert r.status_code == 200
    page = r.json()["page"]
    assert "lru_cache" in page["content"] and page["truncated"] is False and page["message"] is None
    r = await client.get("/api/pages/by-url", params={"url": page_url(DOCS, "git-push")})
    assert r.status_code == 200 and "--force-with-lease" in r.json()["page"]["content"]
    assert (await client.get("/api/pages/999999")).status_code == 404
    assert (await client.get("/api/pages/abc")).status_code == 422
    assert (await client.get("/api/pages/99999999999999999999")).status_code == 422
    assert (await client.get("/api/pages/by-url", params={"url": "http://nowhere/x"})).status_code == 404
    assert (await client.get("/api/pages/by-url")).status_code == 422
    assert (await client.get(f"/api/pages/{ids['functools']}", params={"offset": -1})).status_code == 422
    assert (await client.get(f"/api/pages/{ids['functools']}", params={"offset": 10**6})).status_code == 422


async def test_long_pages_are_capped_with_a_message(tmp_path: Path, database_url: str) -> None:
    from archon.app import create_app

    application = create_app(make_settings(database_url, tmp_path / "d", max_page_chars=1000))
    async with application.router.lifespan_context(application):
        runtime = _runtime(application)
        e = runtime.embedder
        from archon.knowledge.embedding_models import EmbeddingModelRepository

        model = await EmbeddingModelRepository(runtime.db).ensure_active(e.provider, e.model, e.dimensions)
        await add_source(runtime, "long")
        page_id = await store_page(runtime, "long", "big", [(["Big"], "word " * 600)], model=model)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            first = (await client.get(f"/api/pages/{page_id}")).json()["page"]
            assert first["truncated"] and len(first["content"]) == 1000 and first["next_offset"] == 1000
            assert "offset=1000" in first["message"] and first["total_chars"] > 3000
            rest = (await client.get(f"/api/pages/{page_id}", params={"offset": 3000})).json()["page"]
            assert rest["offset"] == 3000 and rest["content"] and rest["truncated"] is False


def test_cli_search_prints_ranked_results(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def seed() -> None:
        rt = await Runtime.start(make_settings(database_url, tmp_path / "d"))
        try:
            await load_corpus(rt)
        finally:
            await rt.stop()

    asyncio.run(seed())
    from archon.cli import app

    for key, value in {"DATABASE_URL": database_url, "EMBEDDING_PROVIDER": "hash", "ARCHON_DATA_DIR": str(tmp_path),
                       "LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    result = runner.invoke(app, ["search", "pg_stat_activity", "--mode", "keyword", "--source", DOCS])
    assert result.exit_code == 0, result.output
    assert "1. [" in result.output and page_url(DOCS, "postgres-monitoring") in result.output
    bad = runner.invoke(app, ["search", "x", "--source", "nope"])
    assert bad.exit_code == 1 and "source not found: nope" in bad.output
