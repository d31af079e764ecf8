from __future__ import annotations

import pytest

from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.models import ChunkInput, CodeExampleInput, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.runtime import Runtime


async def _source(runtime: Runtime, source_id: str = "src_test") -> str:
    async with runtime.db.connection() as conn:
        await conn.execute("INSERT INTO archon_sources (id, source_type, url, title) VALUES (%s, 'url', %s, 'T')",
                           (source_id, "http://127.0.0.1/docs"))
    return source_id


def _page(n_chunks: int, url: str = "http://127.0.0.1/docs/a") -> PageInput:
    return PageInput(
        url=url, markdown="# A\n\ntext", content_hash="h", title="A",
        chunks=[ChunkInput(content=f"chunk {i} about asyncio.gather", headings=["A", f"S{i}"], token_count=5)
                for i in range(n_chunks)],
        code_examples=[CodeExampleInput(position=0, code="print('x')", language="python")],
    )


async def test_replace_page_is_idempotent_and_stores_one_vector_per_chunk(runtime: Runtime) -> None:
    source_id = await _source(runtime)
    model = await EmbeddingModelRepository(runtime.db).ensure_active("hash", "hash-v1", 384)
    repo = KnowledgeRepository(runtime.db)
    embed = runtime.embedder.embed
    page = _page(3)
    for _ in range(2):  # storing twice (a retried job) must not duplicate anything
        await repo.replace_page(source_id, page, model=model,
                                chunk_vectors=await embed([c.content for c in page.chunks]),
                                code_vectors=await embed([e.code for e in page.code_examples]))
    assert await repo.counts(source_id) == {"page_count": 1, "chunk_count": 3, "code_example_count": 1}
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) AS n FROM archon_chunk_embeddings WHERE source_id = %s", (source_id,))).fetchone()
        headings = await (await conn.execute(
            "SELECT headings, heading_path FROM archon_chunks ORDER BY chunk_index LIMIT 1")).fetchone()
    assert row is not None and row["n"] == 3
    assert headings == {"headings": ["A", "S0"], "heading_path": "A > S0"}


async def test_replace_page_refuses_zero_vectors_and_keeps_old_content(runtime: Runtime) -> None:
    source_id = await _source(runtime)
    model = await EmbeddingModelRepository(runtime.db).ensure_active("hash", "hash-v1", 384)
    repo = KnowledgeRepository(runtime.db)
    good = _page(1)
    await repo.replace_page(source_id, good, model=model, chunk_vectors=[[1.0] + [0.0] * 383],
                            code_vectors=[[1.0] + [0.0] * 383])
    with pytest.raises(ValueError, match="zero vector"):
        await repo.replace_page(source_id, _page(2), model=model, chunk_vectors=[[0.0] * 384] * 2,
                                code_vectors=[[1.0] + [0.0] * 383])
    assert (await repo.counts(source_id))["chunk_count"] == 1


async def test_delete_source_removes_everything_in_batches(runtime: Runtime) -> None:
    source_id = await _source(runtime)
    model = await EmbeddingModelRepository(runtime.db).ensure_active("hash", "hash-v1", 384)
    repo = KnowledgeRepository(runtime.db)
    vec = [[1.0] + [0.0] * 383]
    for i in range(5):
        await repo.replace_page(source_id, _page(1, url=f"http://127.0.0.1/p{i}"), model=model,
                                chunk_vectors=vec, code_vectors=vec)
    assert await repo.delete_source(source_id)
    assert await repo.counts(source_id) == {"page_count": 0, "chunk_count": 0, "code_example_count": 0}
    assert not await repo.delete_source(source_id)


async def test_large_models_are_stored_as_halfvec_with_an_index(runtime: Runtime) -> None:
    source_id = await _source(runtime)
    model = await EmbeddingModelRepository(runtime.db).ensure("openai", "text-embedding-3-large", 3072)
    assert model.uses_halfvec
    await KnowledgeRepository(runtime.db).replace_page(
        source_id, _page(1), model=model, chunk_vectors=[[0.5] * 3072], code_vectors=[[0.5] * 3072])
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "SELECT embedding IS NULL AS plain_null, embedding_half IS NOT NULL AS half FROM archon_chunk_embeddings"
        )).fetchone()
        idx = await (await conn.execute(
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = %s", (f"archon_chunk_emb_hnsw_m{model.id}",)
        )).fetchone()
    assert row == {"plain_null": True, "half": True}
    assert idx is not None and idx["n"] == 1
