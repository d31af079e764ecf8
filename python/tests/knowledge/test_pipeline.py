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
