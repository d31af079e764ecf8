"""After an embedding-model switch every process embeds with the new model, without a restart.

A real `archon worker` process shares the test's database: it ingests before and after switches made
by the test process, and runs a switch itself that the test process (the API) then follows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.config import Settings
from archon.jobs.service import JobService
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.ingest.pipeline import PagePipeline
from archon.knowledge.models import EmbeddingModel
from archon.knowledge.search import forget_active_model
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from archon.settings import active
from archon.settings.embedders import EmbedderRegistry
from archon.settings.reembed import JOB_KIND, ReembedService
from archon.settings.service import RuntimeSettingsService
from tests.conftest import make_settings


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    forget_active_model()


@pytest.fixture
def worker(database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m archon worker` on the test database (hash embedder, like the test process)."""
    data_dir = tmp_path / "worker-data"
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url, "ARCHON_DATA_DIR": str(data_dir),
           "EMBEDDING_PROVIDER": "hash", "LOG_LEVEL": "INFO", "ARCHON_SHUTDOWN_GRACE": "1"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "archon", "worker"], env=env, cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while "worker running" not in log_path.read_text(errors="replace"):
        assert proc.poll() is None, log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
async def runtime_of(app: object) -> AsyncIterator[Runtime]:
    yield app.state.runtime  # type: ignore[attr-defined]


async def _wait_job(api: httpx.AsyncClient, job_id: str, timeout: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while (job := (await api.get(f"/api/progress/{job_id}")).json())["status"] not in (
                "completed", "error", "cancelled"):
            await asyncio.sleep(0.1)
    assert job["status"] == "completed", job
    return job  # type: ignore[no-any-return]


async def _upload(api: httpx.AsyncClient, name: str, text: str) -> str:
    response = await api.post("/api/documents/upload", files={"file": (name, f"# {name}\n\n{text}\n".encode())})
    assert response.status_code == 200, response.text
    return str((await _wait_job(api, response.json()["progressId"]))["sourceId"])


async def _vector_models(runtime: Runtime, source_id: str) -> set[int]:
    """The models that have vectors for every chunk of `source_id`."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT e.model_id, count(*) AS n, (SELECT count(*) FROM archon_chunks c WHERE c.source_id = %(s)s) AS "
            "chunks FROM archon_chunk_embeddings e WHERE e.source_id = %(s)s GROUP BY e.model_id",
            {"s": source_id})).fetchall()
    return {int(r["model_id"]) for r in rows if r["n"] == r["chunks"] and r["chunks"] > 0}


async def _active(runtime: Runtime) -> EmbeddingModel:
    model = await EmbeddingModelRepository(runtime.db).active()
    assert model is not None
    return model


async def _switch_here(runtime: Runtime, **patch: Any) -> EmbeddingModel:
    """A switch run by this process: store the settings, then run the re-embed job body in process."""
    await RuntimeSettingsService(runtime).update(patch)
    target, _ = await EmbedderRegistry(runtime).target()
    jobs = JobService(runtime.db)
    job_id = await jobs.create(JOB_KIND, {"model_id": target.id})
    assert await jobs.start(job_id)
    await ReembedService(runtime).run(job_id, jobs.reporter(job_id))
    await jobs.complete(job_id)
    assert (await _active(runtime)).id == target.id
    return target


async def test_worker_process_and_api_follow_switches(runtime_of: Runtime, api: httpx.AsyncClient,
                                                      worker: subprocess.Popen[bytes]) -> None:
    runtime = runtime_of
    first = await _upload(api, "first.md", "The worker indexes this before any switch.")  # by the worker
    m1 = await _active(runtime)
    assert await _vector_models(runtime, first) == {m1.id}

    # 1. The test process switches; the worker process (running, not restarted) must follow.
    m2 = await _switch_here(runtime, embedding_model="hash-v2", embedding_dimensions=256)
    second = await _upload(api, "second.md", "The worker indexes this after the switch to hash-v2.")
    assert m2.id in await _vector_models(runtime, second), "the worker still embeds with the old model"

    # 2. A switch through PUT /api/settings: the queued re-embed job runs in the worker process.
    response = await api.put("/api/settings", json={"embedding_model": "hash-v3", "embedding_dimensions": 128})
    assert response.status_code == 200, response.text
    await _wait_job(api, response.json()["embedding"]["reembed_progress_id"])
    m3 = await _active(runtime)
    assert (m3.model, m3.dimensions) == ("hash-v3", 128)
    # This process did not run the switch, yet it searches and ingests with hash-v3.
    searched = await api.post("/api/rag/query", json={"query": "worker indexes", "search_mode": "vector"})
    assert searched.status_code == 200 and searched.json()["results"], searched.text
    assert (runtime.embedder.model, runtime.embedder.dimensions) == ("hash-v3", 128)  # /health says so too
    source = await KnowledgeService(runtime).create_source(source_id="local_doc", source_type="file",
                                                           url="file://third.md", title="third")
    text = "A unique sentence about quasar lighthouses indexed by the API process."
    await PagePipeline(runtime).index_document(source.source_id, url="file://third.md", markdown=text)
    assert await _vector_models(runtime, "local_doc") == {m3.id}
    found = (await api.post("/api/rag/query", json={"query": text, "search_mode": "vector"})).json()
    assert found["results"][0]["source_id"] == "local_doc", found


async def test_page_stored_under_the_old_model_gets_the_new_vectors(app: object, settings: Settings,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    switcher: Runtime = app.state.runtime  # type: ignore[attr-defined]
    behind = await Runtime.start(make_settings(settings.database_url.get_secret_value(),  # type: ignore[union-attr]
                                               settings.data_dir / "behind"))
    try:
        source = await KnowledgeService(behind).create_source(source_id="late", source_type="file",
                                                              url="file://late.md", title="late")
        pipeline = PagePipeline(behind)
        await pipeline.index_document(source.source_id, url="file://early.md", markdown="Indexed before the switch.")
        m1 = await _active(behind)
        # `behind` has not looked at the active model since: it still embeds with hash-v1, as a process
        # would between the switch and its next check.
        monkeypatch.setattr(active, "ACTIVE_TTL_SECONDS", 3600.0)
        m2 = await _switch_here(switcher, embedding_model="hash-v2", embedding_dimensions=256)
        result = await pipeline.index_document(source.source_id, url="file://late.md",
                                               markdown="Indexed by a process that missed the switch.")
        async with behind.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT DISTINCT e.model_id FROM archon_chunk_embeddings e JOIN archon_chunks c ON c.id = e.chunk_id "
                "WHERE c.page_id = %s", (result.page_id,))).fetchall()
        assert {int(r["model_id"]) for r in rows} == {m1.id, m2.id}  # stored under m1, then given m2's
    finally:
        await behind.stop()
