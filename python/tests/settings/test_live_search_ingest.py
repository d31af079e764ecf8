"""Runtime settings reach search and ingestion without a restart (PUT /api/settings, then the next query/job)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.config import Settings
from archon.knowledge.ingest.pipeline import PagePipeline, PipelineOptions
from archon.knowledge.search import forget_active_model
from archon.runtime import Runtime
from tests.conftest import make_settings
from tests.knowledge.search_corpus import load_corpus


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    forget_active_model()


def _runtime(app: object) -> Runtime:
    return app.state.runtime  # type: ignore[attr-defined,no-any-return]


async def _query(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/rag/query", json={"match_count": 5, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _ids(body: dict[str, Any], n: int) -> list[int]:
    return [r["chunk_id"] for r in body["results"][:n]]


async def test_hybrid_and_rerank_switches_change_the_defaults_only(app: object, api: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    assert (await _query(api, query="run awaitable objects concurrently"))["search_mode"] == "hybrid"
    assert (await api.put("/api/settings", json={"use_hybrid_search": False})).status_code == 200
    off = await _query(api, query="run awaitable objects concurrently")
    assert off["search_mode"] == "vector" and {r["match_type"] for r in off["results"]} == {"vector"}
    code = (await api.post("/api/rag/code-examples", json={"query": "gather"})).json()
    assert code["search_mode"] == "vector"
    # An explicit mode still wins over the setting.
    assert (await _query(api, query="asyncio.gather", search_mode="hybrid"))["search_mode"] == "hybrid"
    await api.put("/api/settings", json={"use_hybrid_search": True})
    assert (await _query(api, query="run awaitable objects concurrently"))["search_mode"] == "hybrid"

    # use_reranking is the default of a query that does not say (no reranker is configured in tests).
    assert "notices" not in await _query(api, query="asyncio.gather")
    await api.put("/api/settings", json={"use_reranking": True})
    body = await _query(api, query="asyncio.gather")
    assert any("rerank requested" in n for n in body.get("notices", [])), body
    assert "notices" not in await _query(api, query="asyncio.gather", rerank=False)


async def test_fusion_weights_change_the_ranking(app: object, api: httpx.AsyncClient) -> None:
    await load_corpus(_runtime(app))
    query = "tasks run concurrently with a timeout"
    vector = _ids(await _query(api, query=query, search_mode="vector"), 3)
    keyword = _ids(await _query(api, query=query, search_mode="keyword"), 3)
    assert len(vector) == len(keyword) == 3 and vector != keyword, "the corpus must rank differently per list"
    await api.put("/api/settings", json={"fusion_vector_weight": 1, "fusion_keyword_weight": 0})
    assert _ids(await _query(api, query=query), 3) == vector
    await api.put("/api/settings", json={"fusion_vector_weight": 0, "fusion_keyword_weight": 1})
    assert _ids(await _query(api, query=query), 3) == keyword
    # fusion_k is read too: scores are weight / (k + rank), so the top score is 1 / (k + 1).
    await api.put("/api/settings", json={"fusion_k": 9})
    top = (await _query(api, query=query))["results"][0]["score"]
    assert top == pytest.approx(1 / 10, abs=1e-6)


def _long_doc(title: str) -> bytes:
    sections = []
    for s in range(6):
        prose = " ".join(f"Section {s} sentence {i} explains how the frobnicator handles widget {i}."
                         for i in range(25))
        code = "\n".join(f"result_{i} = frobnicate(widget_{s}, retries={i}, timeout=30.0)" for i in range(4))
        sections.append(f"## Part {s}\n\n{prose}\n\n```python\n{code}\n```\n")
    return (f"# {title}\n\n" + "\n".join(sections)).encode()


async def _upload(api: httpx.AsyncClient, name: str) -> str:
    response = await api.post("/api/documents/upload", files={"file": (name, _long_doc(name))})
    assert response.status_code == 200, response.text
    progress_id = response.json()["progressId"]
    async with asyncio.timeout(60):
        while (job := (await api.get(f"/api/progress/{progress_id}")).json())["status"] not in (
                "completed", "error", "cancelled"):
            await asyncio.sleep(0.1)
    assert job["status"] == "completed", job
    return str(job["sourceId"])


async def _shape(runtime: Runtime, source_id: str) -> tuple[int, int, int]:
    """(chunks, largest chunk in word pieces, code examples) of a source."""
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) AS n, max(token_count) AS biggest, "
            "(SELECT count(*) FROM archon_code_examples e WHERE e.source_id = %(s)s) AS code "
            "FROM archon_chunks WHERE source_id = %(s)s", {"s": source_id})).fetchone()
    assert row is not None
    return int(row["n"]), int(row["biggest"]), int(row["code"])


async def test_chunking_and_code_settings_apply_to_the_next_upload(app: object, api: httpx.AsyncClient) -> None:
    runtime = _runtime(app)
    default_chunks, default_biggest, default_code = await _shape(runtime, await _upload(api, "default.md"))
    assert default_code == 6 and default_biggest > 100
    response = await api.put("/api/settings", json={"chunk_size": 64, "chunk_overlap": 8,
                                                    "extract_code_examples": False})
    assert response.status_code == 200, response.text
    small_chunks, small_biggest, small_code = await _shape(runtime, await _upload(api, "small.md"))
    assert small_chunks > 2 * default_chunks
    # Code blocks are never cut, so a chunk may overrun the target by one; prose chunks stay near 64.
    assert small_biggest < default_biggest / 2 and small_biggest <= 96, (small_biggest, default_biggest)
    assert small_code == 0
    await api.delete("/api/settings", params={"keys": "chunk_size,chunk_overlap,extract_code_examples"})
    assert await _shape(runtime, await _upload(api, "again.md")) == (default_chunks, default_biggest, default_code)


async def test_a_job_keeps_the_options_it_started_with(app: object, api: httpx.AsyncClient) -> None:
    runtime = _runtime(app)
    await api.put("/api/settings", json={"chunk_size": 128, "use_contextual_embeddings": True})
    pipeline = PagePipeline(runtime)
    options = await pipeline.load_options()
    assert options == PipelineOptions(chunk_tokens=128, overlap_tokens=30, extract_code=True,
                                      contextual_embeddings=True)
    await api.put("/api/settings", json={"chunk_size": 256, "use_contextual_embeddings": False})
    assert await pipeline.load_options() == options  # a running job does not change mid-way
    assert (await PagePipeline(runtime).load_options()).chunk_tokens == 256  # the next job does
