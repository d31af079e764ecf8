"""Knowledge tools through a real MCP client: search with provenance, code examples, sources, pages."""

from __future__ import annotations

from typing import Any

from archon.knowledge.ingest.pipeline import PagePipeline
from archon.knowledge.service import KnowledgeService, source_id_for_url
from archon.mcp_server.tools.knowledge import MAX_READ_CHARS, MAX_RESULT_CHARS
from tests.conftest import LiveServer
from tests.mcp_server.conftest import error_text, http_session, structured

BASE = "http://127.0.0.1:9/docs"
GUIDE = """# Frobnicator guide

The frobnicator rotates quasar widgets with the `frob_rotate` call.

## Rotating widgets

```python
from frob import frob_rotate

def spin(widget):
    # Rotate a quasar widget a quarter turn, clockwise.
    return frob_rotate(widget, degrees=90, clockwise=True)


def spin_all(widgets):
    return [spin(w) for w in widgets]
```
"""


async def seed(app: Any) -> tuple[str, int]:
    """One source with a short guide and a long page; returns (source_id, long page id)."""
    runtime = app.state.runtime
    source_id = source_id_for_url(BASE)
    await KnowledgeService(runtime).create_source(
        source_id=source_id, source_type="url", url=BASE, title="Frob docs", tags=["frob"]
    )
    pipeline = PagePipeline(runtime)
    await pipeline.index_document(source_id, url=f"{BASE}/guide", markdown=GUIDE, title="Frobnicator guide")
    long_md = "# Zebra appendix\n\n" + "\n\n".join(
        f"Paragraph {i} about zebra striping and quasar alignment in long form." * 8 for i in range(120)
    )
    page = await pipeline.index_document(source_id, url=f"{BASE}/appendix", markdown=long_md, title="Zebra appendix")
    return source_id, page.page_id


async def test_search_knowledge_returns_marked_results_with_provenance(app: Any, mcp_live: LiveServer) -> None:
    source_id, _ = await seed(app)
    async with http_session(f"{mcp_live.url}/mcp") as session:
        found = structured(
            await session.call_tool("search_knowledge", {"query": "rotate quasar widgets frob_rotate", "limit": 3})
        )
        assert found["untrusted_content"] is True and "Untrusted" in found["notice"]
        top = found["results"][0]
        assert top["url"] == f"{BASE}/guide" and top["source_id"] == source_id
        assert top["indexed_at"] and top["trust"] == "untrusted-external-content"
        assert top["read_more"] == f"read_page(page_id={top['page_id']})"
        assert all(len(r["content"]) <= MAX_RESULT_CHARS + 2 for r in found["results"])
        scoped = structured(
            await session.call_tool(
                "search_knowledge",
                {"query": "zebra striping", "filters": {"source_id": source_id}, "return_mode": "pages"},
            )
        )
        assert scoped["results"][0]["url"] == f"{BASE}/appendix"
        assert {r["source_id"] for r in scoped["results"]} == {source_id}
        unknown = await session.call_tool(
            "search_knowledge", {"query": "zebra", "filters": {"source_id": "src_nonexistent00000"}}
        )
        assert "not_found" in error_text(unknown)
        empty = await session.call_tool("search_knowledge", {"query": "   "})
        assert "query" in error_text(empty)
        too_many = await session.call_tool("search_knowledge", {"query": "x", "limit": 500})
        assert too_many.is_error and "limit" in error_text(too_many)


async def test_code_examples_sources_and_read_page(app: Any, mcp_live: LiveServer) -> None:
    source_id, long_page = await seed(app)
    async with http_session(f"{mcp_live.url}/mcp") as session:
        code = structured(await session.call_tool("search_code_examples", {"query": "frob_rotate spin widget"}))
        assert code["untrusted_content"] is True
        assert code["results"] and "frob_rotate" in code["results"][0]["code"]
        assert code["results"][0]["language"] == "python" and code["results"][0]["url"] == f"{BASE}/guide"

        sources = structured(await session.call_tool("list_sources", {}))
        assert [s["source_id"] for s in sources["sources"]] == [source_id]
        assert sources["sources"][0]["page_count"] == 2
        assert sources["count"] == 1 and sources["truncated"] is False

        by_url = structured(await session.call_tool("read_page", {"url": f"{BASE}/guide"}))
        assert "frob_rotate" in by_url["content"] and by_url["next_offset"] is None

        first = structured(await session.call_tool("read_page", {"page_id": long_page}))
        assert len(first["content"]) <= MAX_READ_CHARS and first["next_offset"] == MAX_READ_CHARS
        assert first["total_chars"] > MAX_READ_CHARS
        second = structured(
            await session.call_tool("read_page", {"page_id": long_page, "offset": first["next_offset"]})
        )
        assert second["offset"] == MAX_READ_CHARS and second["content"] != first["content"]

        neither = await session.call_tool("read_page", {})
        assert "exactly one of page_id or url" in error_text(neither)
        missing = await session.call_tool("read_page", {"page_id": 999999})
        assert "not_found" in error_text(missing)
