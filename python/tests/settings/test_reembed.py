"""Switching the embedding model on a real Postgres: a re-embed job, an atomic switch, never mixed vectors."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pgvector import Vector

from archon.config import Settings
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.models import ChunkInput, CodeExampleInput, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.runtime import Runtime
from archon.settings.embedders import EmbedderRegistry
from archon.settings.service import RuntimeSettingsService
from tests.conftest import make_settings

PAGES = 30
CHUNKS_PER_PAGE = 4
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega vector index query table column schema tuple cursor socket thread").split()


def _chunk_text(page: int, chunk: int) -> str:
    digest = hashlib.sha256(f"{page}-{chunk}".encode()).digest()
    return " ".join(WORDS[b % len(WORDS)] for b in digest[:24]) + f" marker{page}x{chunk}"


def _embedding_text(heading: str, content: str) -> str:  # what ingestion and the re-embed job embed
    return f"{heading}\n\n{content}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The worker runs in process: the re-embed job goes through the real queue."""
    return make_settings(database_url, tmp_path / "data", run_worker=True)


async def _seed(runtime: Runtime) -> int:
    """PAGES pages indexed with the active model (hash-v1, 384 dims); returns the chunk count."""
    model, embedder = await EmbedderRegistry(runtime).active()
    assert (model.provider, model.model, model.dimensions) == ("hash", "hash-v1", 384)
    async with runtime.db.connection() as conn:
        await conn.execute("INSERT INTO archon_sources (id, source_type, url, title) "
                           "VALUES ('src1', 'url', 'http://docs.test/', 'Docs')")
    repo = KnowledgeRepository(runtime.db)
    for p in range(PAGES):
        chunks = [ChunkInput(content=_chunk_text(p, c), headings=[f"Page {p}"]) for c in range(CHUNKS_PER_PAGE)]
        code = [CodeExampleInput(position=0, code=f"print({p})", language="python", title=f"example {p}")]
        page = PageInput(url=f"http://docs.test/{p}", markdown="\n\n".join(c.content for c in chunks),
                         content_hash=str(p), title=f"Page {p}", chunks=chunks, code_examples=code)
        vectors = await embedder.embed([_embedding_text(c.heading_path, c.content) for c in chunks])
        code_vectors = await embedder.embed([f"example {p}\n\nprint({p})"])
        await repo.replace_page("src1", page, model=model, chunk_vectors=vectors, code_vectors=code_vectors)
    return PAGES * CHUNKS_PER_PAGE


async def _repository_read(runtime: Runtime, text: str) -> tuple[int, list[int], int]:
    """What a search does: the active model, the query embedded by *its* embedder, its vectors only."""
    registry = EmbedderRegistry(runtime)
    model = await registry.models.active()
    assert model is not None
    embedder = await registry.for_model(model)
    query = Vector(np.asarray((await embedder.embed([text]))[0], dtype=np.float32))
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            f"SELECT model_id, chunk_id FROM archon_chunk_embeddings WHERE model_id = %s "
            f"ORDER BY embedding::vector({model.dimensions}) <=> %s LIMIT 10", (model.id, query))).fetchall()
        count = await (await conn.execute(
            "SELECT count(*) AS n FROM archon_chunk_embeddings WHERE model_id = %s", (model.id,))).fetchone()
    assert all(r["model_id"] == model.id for r in rows)
    assert count is not None
    return model.id, [int(r["chunk_id"]) for r in rows], int(count["n"])


async def _chunk_ids(runtime: Runtime) -> dict[str, int]:
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute("SELECT id, content FROM archon_chunks")).fetchall()
    return {str(r["content"]): int(r["id"]) for r in rows}


async def _wait_job(api: httpx.AsyncClient, job_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            response = await api.get(f"/api/progress/{job_id}")
            assert response.status_code == 200, response.text
            data = response.json()
            data = data.get("data", data)
            seen.append(data)
            if data["status"] in ("completed", "error", "cancelled"):
                return seen
            await asyncio.sleep(0.05)


@pytest.fixture
async def seeded(app: object) -> AsyncIterator[tuple[Runtime, int]]:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    yield runtime, await _seed(runtime)


async def test_model_switch_reembeds_then_activates(seeded: tuple[Runtime, int], api: httpx.AsyncClient) -> None:
    runtime, total = seeded
    old = await EmbeddingModelRepository(runtime.db).active()
    assert old is not None
    response = await api.put("/api/settings", json={"embedding_model": "hash-v2", "embedding_dimensions": 256})
    assert response.status_code == 200, response.text
    job_id = response.json()["embedding"]["reembed_progress_id"]
    assert job_id
    progress = await _wait_job(api, job_id)
    final = progress[-1]
    assert final["status"] == "completed", final
    assert final["activated"] is True and final["chunksStored"] == total + PAGES  # chunks + code examples
    percentages = [p["percentage"] for p in progress]
    assert percentages == sorted(percentages) and percentages[-1] == 100

    new = await EmbeddingModelRepository(runtime.db).active()
    assert new is not None and (new.model, new.dimensions) == ("hash-v2", 256) and new.id != old.id
    models = {m["id"]: m for m in (await api.get("/api/embedding-models")).json()["models"]}
    assert models[new.id]["chunk_vectors"] == total and models[new.id]["code_vectors"] == PAGES
    assert models[old.id]["chunk_vectors"] == total  # the old vectors stay until dropped
    # The runtime now embeds (ingestion, queries) with the new model.
    assert (runtime.embedder.model, runtime.embedder.dimensions) == ("hash-v2", 256)
    # A query for a chunk's own text finds it first with the new model's vectors.
    ids = await _chunk_ids(runtime)
    text = _chunk_text(7, 2)
    model_id, hits, count = await _repository_read(runtime, _embedding_text("Page 7", text))
    assert model_id == new.id and hits[0] == ids[text] and count == total

    # Old vectors can be dropped; the active model cannot.
    assert (await api.delete(f"/api/embedding-models/{new.id}")).status_code == 409
    dropped = await api.delete(f"/api/embedding-models/{old.id}")
    assert dropped.status_code == 200 and dropped.json()["deleted_vectors"] == total + PAGES
    remaining = [m["id"] for m in (await api.get("/api/embedding-models")).json()["models"]]
    assert remaining == [new.id]
    assert (await api.delete(f"/api/embedding-models/{old.id}")).status_code == 404

    # Switching back is the same path again; nothing to do when the model is already active.
    back = await api.put("/api/settings", json={"embedding_model": "hash-v2"})
    assert back.json()["embedding"]["reembed_progress_id"] is None


async def test_model_switch_under_concurrent_searches(seeded: tuple[Runtime, int], api: httpx.AsyncClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches during a switch never fail, never see a partial model and never compare two models' vectors."""
    from archon.knowledge.search import SearchService
    from archon.settings import reembed

    # Take the bulk path (drop the new model's HNSW indexes, fill, build them concurrently) as a big base would.
    monkeypatch.setattr(reembed, "BULK_INDEX_THRESHOLD", 1)
    runtime, total = seeded
    ids = await _chunk_ids(runtime)
    probes = [(_chunk_text(p, c), _embedding_text(f"Page {p}", _chunk_text(p, c))) for p, c in
              ((1, 1), (5, 3), (12, 0), (29, 2))]
    stop = asyncio.Event()
    seen_models: set[int] = set()
    checks = {"repository": 0, "search": 0}

    async def repository_reader() -> None:
        while not stop.is_set():
            for content, text in probes:
                model_id, hits, count = await _repository_read(runtime, text)
                seen_models.add(model_id)
                assert count == total, "the active model must always have every chunk's vector"
                assert hits[0] == ids[content], "a query compared with another model's vectors"
                checks["repository"] += 1
            await asyncio.sleep(0)

    async def search_reader() -> None:
        service = SearchService(runtime)
        while not stop.is_set():
            for content, text in probes:
                response = await service.query(text, match_count=10, search_mode="vector")
                assert len(response.results) == 10
                assert response.results[0].chunk_id == ids[content]
                checks["search"] += 1
            await asyncio.sleep(0)

    readers = [asyncio.create_task(repository_reader()), asyncio.create_task(search_reader()),
               asyncio.create_task(search_reader())]
    try:
        response = await api.put("/api/settings", json={"embedding_model": "hash-v3", "embedding_dimensions": 128})
        job_id = response.json()["embedding"]["reembed_progress_id"]
        final = (await _wait_job(api, job_id))[-1]
        assert final["status"] == "completed", final
        assert final["indexesBuilt"] == 2
        # Keep searching a moment after the switch (search caches the active model briefly).
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        results = await asyncio.gather(*readers, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    active = await EmbeddingModelRepository(runtime.db).active()
    assert active is not None and active.model == "hash-v3"
    assert active.id in seen_models and len(seen_models) == 2  # both models were read, never a third state
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname LIKE %s", (f"archon_%_hnsw_m{active.id}",))).fetchall()
    assert sorted((r["relname"], r["indisvalid"]) for r in rows) == [
        (f"archon_chunk_emb_hnsw_m{active.id}", True), (f"archon_code_emb_hnsw_m{active.id}", True)]
    assert checks["repository"] > 10 and checks["search"] > 10


async def test_settings_change_cancels_superseded_reembed(seeded: tuple[Runtime, int],
                                                          api: httpx.AsyncClient) -> None:
    runtime, _ = seeded
    await runtime.queue.stop_worker()  # keep the first job queued so the second change supersedes it
    first = (await api.put("/api/settings", json={"embedding_model": "hash-a"})).json()["embedding"]
    assert first["reembed_progress_id"]
    second = (await api.put("/api/settings", json={"embedding_model": "hash-b"})).json()["embedding"]
    assert second["reembed_progress_id"] and second["reembed_progress_id"] != first["reembed_progress_id"]
    first_state = (await api.get(f"/api/progress/{first['reembed_progress_id']}")).json()
    assert first_state.get("data", first_state)["status"] == "cancelled"
    # Going back to the active model cancels the pending job too.
    back = (await api.put("/api/settings", json={"embedding_model": "hash-v1"})).json()["embedding"]
    assert back["reembed_progress_id"] is None
    second_state = (await api.get(f"/api/progress/{second['reembed_progress_id']}")).json()
    assert second_state.get("data", second_state)["status"] == "cancelled"
    assert (await EmbeddingModelRepository(runtime.db).active()).model == "hash-v1"  # type: ignore[union-attr]


async def test_model_switch_refused_when_provider_unusable(seeded: tuple[Runtime, int],
                                                           api: httpx.AsyncClient) -> None:
    before = (await api.get("/api/settings")).json()["settings"]
    response = await api.put("/api/settings", json={"embedding_provider": "local",
                                                    "embedding_model": "/no/such/model/folder"})
    assert response.status_code == 422, response.text
    assert "embedding_model" in response.json()["error"]
    resized = await api.put("/api/settings", json={"embedding_provider": "local", "embedding_model": "all-MiniLM-L6-v2",
                                                   "embedding_dimensions": 256})
    assert resized.status_code == 422 and "embedding_dimensions" in resized.json()["error"]
    assert (await api.get("/api/settings")).json()["settings"] == before


async def test_switch_to_openai_compatible_provider_uses_stored_key(seeded: tuple[Runtime, int],
                                                                   api: httpx.AsyncClient) -> None:
    """hash -> an OpenAI-compatible server (a stub on 127.0.0.1) with the key from the credentials store."""
    from archon.knowledge.search import SearchService
    from tests.conftest import LiveServer
    from tests.settings.conftest import CANARY
    from tests.settings.stub_provider import StubProvider

    runtime, total = seeded
    stub = StubProvider(CANARY, dimensions=48)
    async with LiveServer(stub.app) as server:
        switch = {"embedding_provider": "openai", "embedding_model": "stub-embed",
                  "embedding_base_url": f"{server.url}/v1", "embedding_api_key_name": "STUB_API_KEY"}
        # Without the key the provider refuses: 422 naming the model setting, nothing stored, no job.
        refused = await api.put("/api/settings", json=switch)
        assert refused.status_code == 422 and "embedding_model" in refused.json()["error"]
        assert "API key" in refused.json()["error"]
        assert (await api.get("/api/settings")).json()["overrides"] == []
        await api.post("/api/credentials", json={"key": "STUB_API_KEY", "value": CANARY})
        response = await api.put("/api/settings", json=switch)
        assert response.status_code == 200, response.text
        job_id = response.json()["embedding"]["reembed_progress_id"]
        final = (await _wait_job(api, job_id))[-1]
        assert final["status"] == "completed", final
        active = await EmbeddingModelRepository(runtime.db).active()
        assert active is not None and (active.provider, active.model, active.dimensions) == ("openai", "stub-embed", 48)
        # Search embeds the query through the same provider and finds the chunk by its own text.
        ids = await _chunk_ids(runtime)
        content = _chunk_text(3, 1)
        result = await SearchService(runtime).query(_embedding_text("Page 3", content), match_count=5,
                                                    search_mode="vector")
        assert result.results[0].chunk_id == ids[content]
    auths = [auth for path, auth in stub.requests if path == "/v1/embeddings"]
    assert auths[0] == ""  # the refused attempt, before the key was stored
    assert auths[1:] and all(auth == f"Bearer {CANARY}" for auth in auths[1:])
    assert len(auths) >= 2 + (total + PAGES) // 64  # the job embedded in batches


async def test_stopped_reembed_restarts_and_drops_old_vectors(seeded: tuple[Runtime, int],
                                                               api: httpx.AsyncClient) -> None:
    runtime, total = seeded
    old = await EmbeddingModelRepository(runtime.db).active()
    assert old is not None
    await runtime.queue.stop_worker()
    response = await api.put("/api/settings", json={"embedding_model": "hash-z", "drop_old_vectors": True})
    job_id = response.json()["embedding"]["reembed_progress_id"]
    stopped = await api.post(f"/api/knowledge-items/stop/{job_id}")
    assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
    assert (await EmbeddingModelRepository(runtime.db).active()) == old  # a stopped switch changes nothing
    restarted = await api.post("/api/embedding-models/reembed")
    new_job = restarted.json()["progressId"]
    assert new_job and new_job != job_id
    runtime.queue.start_worker(runtime, concurrency=2, grace_seconds=2)
    final = (await _wait_job(api, new_job))[-1]
    assert final["status"] == "completed" and final["droppedVectors"] == total + PAGES
    models = (await api.get("/api/embedding-models")).json()["models"]
    assert [(m["model"], m["is_active"], m["chunk_vectors"]) for m in models] == [("hash-z", True, total)]
    # Nothing left to do: no job.
    assert (await api.post("/api/embedding-models/reembed")).json()["progressId"] is None


async def test_restart_keeps_active_model_and_warns_when_env_differs(seeded: tuple[Runtime, int],
                                                                     api: httpx.AsyncClient, database_url: str,
                                                                     tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A restart embeds with the active model, not the environment's; a different env model is only reported."""
    _runtime, _ = seeded
    response = await api.put("/api/settings", json={"embedding_model": "hash-r", "embedding_dimensions": 200})
    final = (await _wait_job(api, response.json()["embedding"]["reembed_progress_id"]))[-1]
    assert final["status"] == "completed"
    # Restart with another model in the environment: the stored choice (hash-r) still wins, no warning.
    restarted = await Runtime.start(make_settings(database_url, tmp_path / "other", embedding_model="hash-q"),
                                    run_worker=False)
    try:
        assert (restarted.embedder.model, restarted.embedder.dimensions) == ("hash-r", 200)
        # The override disappears out of band (e.g. the table was edited): the environment now asks for
        # hash-q, but the active model keeps being used until the user starts the switch.
        await RuntimeSettingsService(restarted).repo.save({}, remove={"embedding_model", "embedding_dimensions"})
    finally:
        await restarted.stop()
    assert not any("is active; search keeps using it" in r.getMessage() for r in caplog.records)
    restarted = await Runtime.start(make_settings(database_url, tmp_path / "other", embedding_model="hash-q"),
                                    run_worker=False)
    try:
        assert (restarted.embedder.model, restarted.embedder.dimensions) == ("hash-r", 200)
    finally:
        await restarted.stop()
    assert any("is active; search keeps using it" in r.getMessage() for r in caplog.records)


async def test_reembed_progress_over_websocket(seeded: tuple[Runtime, int], api: httpx.AsyncClient,
                                               live_api: object) -> None:
    """The re-embed job streams like a crawl: connection_established, crawl_progress..., crawl_completed."""
    import json

    import websockets

    runtime, total = seeded
    await runtime.queue.stop_worker()  # hold the job until the client listens
    response = await api.put("/api/settings", json={"embedding_model": "hash-ws", "embedding_batch_size": 16})
    job_id = response.json()["embedding"]["reembed_progress_id"]
    url = live_api.url.replace("http://", "ws://") + f"/api/crawl-progress/{job_id}"  # type: ignore[attr-defined]
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        messages.append(json.loads(await ws.recv()))
        runtime.queue.start_worker(runtime, concurrency=2, grace_seconds=2)
        async with asyncio.timeout(60):
            async for raw in ws:
                messages.append(json.loads(raw))
    assert messages[0]["type"] == "connection_established"
    assert messages[-1]["type"] == "crawl_completed"
    progress = [m["data"] for m in messages[1:]]
    assert all(p["kind"] == "reembed" for p in progress)
    percentages = [p["percentage"] for p in progress]
    assert percentages == sorted(percentages) and percentages[-1] == 100
    assert len({p for p in percentages if 0 < p < 100}) >= 3  # real steps, batches of 16 items
    assert progress[-1]["totalItems"] == total + PAGES
