from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from archon.config import Settings
from archon.errors import Invalid, NotFound
from archon.knowledge import search as search_module
from archon.knowledge import search_sql
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings.hashing import HashingEmbedder
from archon.knowledge.search import QUERY_EMBEDDINGS, SearchService, forget_active_model
from archon.knowledge.search_models import SearchFilters
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.search_corpus import BIZ, DOCS, add_source, link_project, load_corpus, page_url, store_page


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    forget_active_model()


async def test_hybrid_finds_the_answer_with_both_lists(runtime: Runtime) -> None:
    await load_corpus(runtime)
    response = await SearchService(runtime).query("run awaitable objects concurrently", match_count=3)
    assert response.search_mode == "hybrid" and not response.reranked
    top = response.results[0]
    assert top.url == page_url(DOCS, "asyncio") or top.url == page_url(BIZ, "forecast")
    assert top.match_type == "both"
    assert top.headings and top.indexed_at is not None and top.score > 0
    assert len(response.results) == 3


async def test_each_mode_returns_its_own_match_type(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    vector = await service.query("memoizing decorator that remembers expensive results", search_mode="vector")
    assert {r.match_type for r in vector.results} == {"vector"}
    assert vector.results[0].url == page_url(DOCS, "functools")
    assert all(0 < r.score <= 1 for r in vector.results)
    keyword = await service.query("memoizing decorator", search_mode="keyword")
    assert [r.url for r in keyword.results] == [page_url(DOCS, "functools")]
    assert keyword.results[0].match_type == "keyword"


@pytest.mark.parametrize(("query", "slug"), [
    ("pg_stat_activity", "postgres-monitoring"),
    ("asyncio.wait_for", "asyncio"),
    ("--force-with-lease", "git-push"),
    ("useEffect", "react-hooks"),
    ("lru_cache maxsize", "functools"),
])
async def test_code_identifiers_are_found_by_keyword_search(runtime: Runtime, query: str, slug: str) -> None:
    await load_corpus(runtime)
    response = await SearchService(runtime).query(query, search_mode="keyword", match_count=3)
    assert response.results, query
    assert response.results[0].url == page_url(DOCS, slug)


async def test_identifier_search_prefers_the_exact_identifier(runtime: Runtime) -> None:
    await load_corpus(runtime)
    response = await SearchService(runtime).query("asyncio.wait_for", search_mode="keyword", match_count=5)
    assert "asyncio.wait_for" in response.results[0].content


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
async def test_filters_never_leak_other_sources(runtime: Runtime, mode: str) -> None:
    await load_corpus(runtime)
    project = await link_project(runtime, BIZ)
    service = SearchService(runtime)
    query = "asyncio.gather awaitable concurrently"
    cases = [
        (SearchFilters(source_ids=(BIZ,)), {BIZ}),
        (SearchFilters(source_ids=(DOCS,)), {DOCS}),
        (SearchFilters(knowledge_type="business"), {BIZ}),
        (SearchFilters(tags=("python", "nope")), {DOCS}),
        (SearchFilters(project_id=project), {BIZ}),
        (SearchFilters(source_ids=(DOCS,), knowledge_type="business"), set()),
    ]
    for filters, allowed in cases:
        response = await service.query(query, match_count=50, filters=filters, search_mode=mode)  # type: ignore[arg-type]
        found = {r.source_id for r in response.results}
        assert found <= allowed, (filters, found)
        if allowed:
            assert found == allowed, (filters, found)


async def test_unknown_source_and_project_are_not_found(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    with pytest.raises(NotFound, match="source not found: nope"):
        await service.query("x", filters=SearchFilters(source_ids=(DOCS, "nope")))
    with pytest.raises(NotFound, match="project not found"):
        await service.query("x", filters=SearchFilters(project_id="00000000-0000-0000-0000-000000000000"))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"query": "   "}, "query"), ({"query": "x" * 1001}, "query"), ({"query": "x", "match_count": 0}, "match_count"),
    ({"query": "x", "match_count": 51}, "match_count"), ({"query": "x", "search_mode": "fuzzy"}, "search_mode"),
    ({"query": "x", "return_mode": "books"}, "return_mode"),
])
async def test_invalid_requests_name_the_field(runtime: Runtime, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid, match=field):
        await SearchService(runtime).query(**kwargs)  # type: ignore[arg-type]


async def test_pages_mode_returns_each_page_once(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    chunks = await service.query("asyncio tasks concurrently timeout sleep", match_count=10)
    assert len([r for r in chunks.results if r.url == page_url(DOCS, "asyncio")]) >= 2
    pages = await service.query("asyncio tasks concurrently timeout sleep", match_count=10, return_mode="pages")
    urls = [r.url for r in pages.results]
    assert len(urls) == len(set(urls))
    best = next(r for r in pages.results if r.url == page_url(DOCS, "asyncio"))
    assert best.chunk_matches >= 2


async def test_empty_knowledge_base_returns_no_results(runtime: Runtime) -> None:
    response = await SearchService(runtime).query("anything at all")
    assert response.results == []
    assert response.search_mode == "keyword" and response.notices  # no model active yet


async def test_query_embeddings_are_cached(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    await service.query("a query that is only asked in this test")
    hits = QUERY_EMBEDDINGS.hits
    await service.query("a query that is only asked in this test", search_mode="vector")
    assert QUERY_EMBEDDINGS.hits == hits + 1


async def test_model_switch_never_mixes_vectors(runtime: Runtime) -> None:
    await load_corpus(runtime)
    models = EmbeddingModelRepository(runtime.db)
    old = await models.active()
    assert old is not None
    # A second model (other dimensions) has vectors for one new page only.
    new_embedder = HashingEmbedder("hash-v2", 256)
    new = await models.ensure("hash", "hash-v2", 256)
    await add_source(runtime, "src_new")
    runtime.embedder, old_embedder = new_embedder, runtime.embedder
    new_page = await store_page(runtime, "src_new", "fresh",
                                [(["Fresh"], "asyncio gather runs awaitables concurrently")], model=new)
    runtime.embedder = old_embedder
    service = SearchService(runtime)
    before = await service.query("asyncio gather awaitables concurrently", search_mode="vector", match_count=50)
    assert new_page not in {r.page_id for r in before.results}  # the old model has no vector for it
    await models.activate(new.id)
    forget_active_model()
    runtime.embedder = new_embedder
    after = await service.query("asyncio gather awaitables concurrently", search_mode="vector", match_count=50)
    assert {r.page_id for r in after.results} == {new_page}  # only chunks with a vector of the new model
    # A process whose embedder is the old model never compares its vectors with the new model's.
    runtime.embedder = old_embedder
    forget_active_model()
    degraded = await service.query("asyncio gather", match_count=50)
    if degraded.search_mode == "keyword":
        assert degraded.notices
    else:  # the settings registry supplied the active model's own embedder
        assert {r.page_id for r in degraded.results if r.match_type != "keyword"} <= {new_page}


async def test_hnsw_index_is_used_and_exact_scan_is_not(runtime: Runtime) -> None:
    await load_corpus(runtime)
    model = await EmbeddingModelRepository(runtime.db).active()
    assert model is not None
    vector = (await runtime.embedder.embed(["asyncio"]))[0]
    from pgvector import Vector

    params = {"qv": Vector(vector), "q": "asyncio", "idents": "", "sources": None, "nvec": 10, "nkw": 10,
              "common_terms": [], "common_idents": []}
    plans = {}
    for exact in (False, True):
        statement = search_sql.search_statement(model, target="chunks", use_vector=True, use_keyword=True,
                                                filtered=False, exact=exact, with_identifiers=False)
        async with runtime.db.transaction() as conn:
            # Tiny tables make a sort cheaper than any index; with sorting penalised, only an index whose
            # expression matches the ORDER BY exactly can deliver the order, which is what this checks.
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_sort = off")
            rows = await (await conn.execute(sql_explain(statement), params)).fetchall()
        plans[exact] = "\n".join(r["QUERY PLAN"] for r in rows)
    assert f"archon_chunk_emb_hnsw_m{model.id}" in plans[False], plans[False]
    assert f"archon_chunk_emb_hnsw_m{model.id}" not in plans[True]


def sql_explain(statement: object) -> object:
    from psycopg import sql

    return sql.SQL("EXPLAIN {}").format(statement)


async def test_filtered_hnsw_search_keeps_all_rows_of_a_small_source(tmp_path: Path, database_url: str) -> None:
    settings: Settings = make_settings(database_url, tmp_path / "d", search_exact_threshold=0)
    rt = await Runtime.start(settings)
    try:
        e = rt.embedder
        model = await EmbeddingModelRepository(rt.db).ensure_active(e.provider, e.model, e.dimensions)
        await add_source(rt, "big")
        await add_source(rt, "small")
        for i in range(30):
            await store_page(rt, "big", f"b{i}", [([f"Big {i}"], f"asyncio event loop notes number {i} {j}")
                                                  for j in range(10)], model=model)
        await store_page(rt, "small", "s", [([f"Small {j}"], f"unrelated gardening tip {j}") for j in range(5)],
                         model=model)
        async with rt.db.connection() as conn:
            await conn.execute("ANALYZE")
        response = await SearchService(rt).query("asyncio event loop", search_mode="vector", match_count=10,
                                                 filters=SearchFilters(source_ids=("small",)))
        assert len(response.results) == 5 and {r.source_id for r in response.results} == {"small"}
    finally:
        await rt.stop()


async def test_code_examples_search_returns_code(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    response = await service.code_examples("collect results of coroutines concurrently", match_count=3)
    assert response.results
    top = response.results[0]
    assert "asyncio.gather" in top.code and top.language == "python" and top.url == page_url(DOCS, "asyncio")
    none = await service.code_examples("gather", filters=SearchFilters(source_ids=(BIZ,)))
    assert none.results == []


class _ReverseAlphabetReranker:
    name = "test-reranker"

    async def score(self, query: str, passages: list[str]) -> list[float]:
        return [float(-i) if "Timeouts" in p else float(len(passages) - i) for i, p in enumerate(passages)]


async def test_rerank_hook_reorders_and_reports(runtime: Runtime) -> None:
    await load_corpus(runtime)
    plain = await SearchService(runtime).query("asyncio", match_count=3)
    assert not plain.reranked and not plain.notices
    asked = await SearchService(runtime).query("asyncio", match_count=3, rerank=True)
    assert not asked.reranked and "no reranker" in asked.notices[0]
    reranked = await SearchService(runtime, reranker=_ReverseAlphabetReranker()).query(
        "asyncio", match_count=10, rerank=True)
    assert reranked.reranked
    assert "Timeouts" in reranked.results[-1].headings  # the reranker's lowest score is last


async def test_search_with_the_real_local_model(tmp_path: Path, database_url: str) -> None:
    """The shipped all-MiniLM-L6-v2 model: a paraphrase with no shared keyword finds the right page."""
    rt = await Runtime.start(make_settings(database_url, tmp_path / "d", embedding_provider="local"))
    try:
        await load_corpus(rt)
        service = SearchService(rt)
        response = await service.query("remember answers of slow calls so they are not computed again",
                                       search_mode="vector", match_count=1)
        assert response.results[0].url == page_url(DOCS, "functools")
        hybrid = await service.query("show running queries on the database server", match_count=1)
        assert hybrid.results[0].url == page_url(DOCS, "postgres-monitoring")
    finally:
        await rt.stop()


@pytest.mark.parametrize("query", ["run awaitable objects concurrently", "pg_stat_activity idle transactions",
                                   "memoizing decorator for expensive calls"])
async def test_a_new_hybrid_query_overlaps_embedding_and_keyword_search_with_the_same_results(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    statements: list[str] = []
    fetch = SearchService._fetch

    async def counting(self: SearchService, statement: sql.Composed, params: dict[str, Any], ef: int) -> Any:
        text = statement.as_string(None)
        statements.append("+".join(name for name in ("vec", "kw") if f"{name} AS MATERIALIZED" in text))
        return await fetch(self, statement, params, ef)

    monkeypatch.setattr(SearchService, "_fetch", counting)
    QUERY_EMBEDDINGS.clear()
    first = await service.query(query, match_count=5)
    assert statements == ["kw", "vec"], "a new query: keyword statement first, vector statement after the embed"
    statements.clear()
    again = await service.query(query, match_count=5)
    assert statements == ["vec+kw"], "a cached query vector: the single combined statement"
    assert first.results and first.search_mode == again.search_mode == "hybrid"
    assert [(r.chunk_id, r.score, r.match_type) for r in first.results] == \
        [(r.chunk_id, r.score, r.match_type) for r in again.results]


async def test_with_another_search_running_a_new_query_keeps_the_single_statement(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    await load_corpus(runtime)
    service = SearchService(runtime)
    statements: list[str] = []
    fetch = SearchService._fetch

    async def counting(self: SearchService, statement: sql.Composed, params: dict[str, Any], ef: int) -> Any:
        statements.append(statement.as_string(None))
        return await fetch(self, statement, params, ef)

    monkeypatch.setattr(SearchService, "_fetch", counting)
    monkeypatch.setattr(search_module, "_running", 1)  # one search already in its candidate phase
    QUERY_EMBEDDINGS.clear()
    response = await service.query("run awaitable objects concurrently", match_count=3)
    assert len(statements) == 1 and "vec AS MATERIALIZED" in statements[0] and "kw AS MATERIALIZED" in statements[0]
    assert response.results and search_module._running == 1
