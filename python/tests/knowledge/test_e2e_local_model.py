"""End to end with the real local model (all-MiniLM-L6-v2 from the installed package): upload -> vectors -> nearest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pgvector import Vector

from archon.config import Settings
from archon.runtime import Runtime
from tests.conftest import make_settings

DOC = b"""# Field guide

## Bread baking

Knead the dough for ten minutes, let it rise until doubled, then bake at 230 degrees until the crust is brown.

## Bicycle repair

To fix a flat tyre, remove the wheel, find the puncture in the inner tube and patch it with glue.

## Postgres indexes

An HNSW index speeds up nearest-neighbour search over embedding vectors in pgvector.
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, embedding_provider="local")


async def test_upload_with_the_real_local_model(app: object, client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/documents/upload", files={"file": ("guide.md", DOC)})
    assert resp.status_code == 200, resp.text
    progress_id = resp.json()["progressId"]
    async with asyncio.timeout(180):
        while (data := (await client.get(f"/api/progress/{progress_id}")).json())["status"] not in (
                "completed", "error", "cancelled"):
            await asyncio.sleep(0.2)
    assert data["status"] == "completed", data
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    [query] = await runtime.embedder.embed(["how do I repair a punctured bike tire"])
    async with runtime.db.connection() as conn:
        model = await (await conn.execute(
            "SELECT id, provider, model, dimensions, is_active FROM archon_embedding_models")).fetchone()
        assert model is not None
        assert (model["provider"], model["model"], model["dimensions"], model["is_active"]) == \
            ("local", "all-MiniLM-L6-v2", 384, True)
        rows = await (await conn.execute(
            "SELECT c.heading_path FROM archon_chunk_embeddings e JOIN archon_chunks c ON c.id = e.chunk_id "
            "WHERE e.model_id = %s ORDER BY e.embedding <=> %s LIMIT 1", (model["id"], Vector(query)))).fetchall()
    assert rows[0]["heading_path"].endswith("Bicycle repair")
