from __future__ import annotations

from archon.knowledge.ingest.pipeline import PagePipeline, content_hash
from archon.knowledge.service import KnowledgeService, source_id_for_url
from archon.runtime import Runtime

DOC = """# Asyncio guide

Asyncio runs coroutines\u200b concurrently.\U000e0041\U000e0042

## Gathering

```python
import asyncio

async def main() -> None:
    results = await asyncio.gather(fetch("a"), fetch("b"), fetch("c"))
    print(results)

asyncio.run(main())
```
"""


async def test_index_document_stores_chunks_code_and_is_idempotent(runtime: Runtime) -> None:
    knowledge = KnowledgeService(runtime)
    source_id = source_id_for_url("http://127.0.0.1/docs")
    assert source_id.startswith("src_") and len(source_id) == 20
    await knowledge.create_source(source_id=source_id, source_type="url", url="http://127.0.0.1/docs",
                                  title="Docs", tags=["python"])
    pipeline = PagePipeline(runtime)
    first = await pipeline.index_document(source_id, url="http://127.0.0.1/docs/a", markdown=DOC, title="Asyncio guide")
    assert first.chunk_count >= 1 and first.code_example_count == 1 and not first.unchanged
    again = await pipeline.index_document(source_id, url="http://127.0.0.1/docs/a", markdown=DOC,
                                          title="Asyncio guide", skip_if_unchanged=True)
    assert again.unchanged and again.page_id == first.page_id and again.chunk_count == first.chunk_count
    await pipeline.index_document(source_id, url="http://127.0.0.1/docs/a", markdown=DOC, title="Asyncio guide")
    source = await knowledge.get_source(source_id)
    assert (source.page_count, source.chunk_count, source.code_example_count) == (1, first.chunk_count, 1)
    chunks = await knowledge.list_chunks(source_id)
    text = " ".join(c["content"] for c in chunks.items)
    assert "\u200b" not in text and "\U000e0041" not in text
    assert chunks.items[0]["headings"][0] == "Asyncio guide"
    code = await knowledge.list_code_examples(source_id)
    assert code.items[0]["language"] == "python" and "asyncio.gather" in code.items[0]["code"]
    assert content_hash(DOC) == content_hash(DOC.replace("\n", "\r\n"))


class CountingEmbedder:
    """The hashing embedder, counting calls (to prove concurrent pages share batches)."""

    provider, model, dimensions, max_tokens = "hash", "hash-v1", 384, 256

    def __init__(self) -> None:
        from archon.knowledge.embeddings.hashing import HashingEmbedder

        self.inner = HashingEmbedder()
        self.calls: list[int] = []

    async def embed(self, texts: list[str]) -> list[list[float]]:
        import asyncio

        self.calls.append(len(texts))
        await asyncio.sleep(0.05)  # a model call takes time; others queue meanwhile
        return await self.inner.embed(texts)

    def status(self) -> str:
        return "ready"


async def test_concurrent_pages_share_embedding_batches(runtime: Runtime) -> None:
    import asyncio

    from archon.knowledge.embeddings.hashing import HashingEmbedder

    knowledge = KnowledgeService(runtime)
    await knowledge.create_source(source_id="src_batch", source_type="url", url="http://127.0.0.1/b")
    counting = CountingEmbedder()
    runtime.embedder = counting  # type: ignore[assignment]
    pipeline = PagePipeline(runtime)
    pages = [f"# Page {i}\n\nShort page number {i} about batching." for i in range(12)]
    results = await asyncio.gather(*(pipeline.index_document("src_batch", url=f"http://127.0.0.1/b/{i}", markdown=md,
                                                             title=f"Page {i}") for i, md in enumerate(pages)))
    assert all(r.chunk_count == 1 for r in results)
    assert sum(counting.calls) == 12 and len(counting.calls) < 6  # 12 pages, a few model calls
    # Each page got its own vector (not a neighbour's): compare with a direct embedding.
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT c.content, e.embedding FROM archon_chunks c JOIN archon_chunk_embeddings e ON e.chunk_id = c.id "
            "WHERE c.source_id = 'src_batch'")).fetchall()
    reference = HashingEmbedder()
    for row in rows:
        heading = row["content"].split("\n", 1)[0].removeprefix("# ")
        [expected] = await reference.embed([f"{heading}\n\n{row['content']}"])
        assert abs(float(row["embedding"].to_numpy() @ __import__("numpy").asarray(expected)) - 1) < 1e-4


async def test_indexing_into_a_deleted_source_is_a_clear_not_found(runtime: Runtime) -> None:
    import pytest

    from archon.errors import NotFound

    with pytest.raises(NotFound, match="no longer exists"):
        await PagePipeline(runtime).index_document("src_gone", url="http://127.0.0.1/x", markdown="# X\n\ntext")
