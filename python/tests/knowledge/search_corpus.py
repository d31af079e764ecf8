"""A small known corpus for search tests: two sources, pages with identifiers, one code example."""

from __future__ import annotations

import hashlib
import uuid

from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.models import ChunkInput, CodeExampleInput, EmbeddingModel, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.runtime import Runtime

DOCS = "src_pydocs"
BIZ = "src_business"
BASE = "http://127.0.0.1:9/"

PAGES: dict[str, list[tuple[str, list[tuple[list[str], str]]]]] = {
    DOCS: [
        ("asyncio", [
            (["asyncio", "Running tasks concurrently"],
             "asyncio.gather(*aws) runs awaitable objects concurrently and returns the results in order. "
             "If return_exceptions is true, exceptions are treated the same as successful results."),
            (["asyncio", "Timeouts"],
             "asyncio.wait_for waits for a single awaitable to complete with a timeout and cancels it "
             "when the timeout expires."),
            (["asyncio", "Sleeping"],
             "asyncio.sleep suspends the current task, allowing other tasks to run concurrently."),
        ]),
        ("functools", [
            (["functools", "Caching"],
             "functools.lru_cache is a decorator that wraps a function with a memoizing callable that "
             "saves up to the maxsize most recent calls, so expensive results are remembered."),
        ]),
        ("postgres-monitoring", [
            (["Monitoring", "Activity"],
             "The pg_stat_activity view shows one row per server process with the state of its current "
             "query, useful to find long running statements and idle transactions."),
        ]),
        ("git-push", [
            (["git push", "Options"],
             "git push --force-with-lease refuses to overwrite the remote branch when someone else pushed "
             "commits you have not fetched, which is safer than a plain force push."),
        ]),
        ("react-hooks", [
            (["React", "Effects"],
             "The useEffect hook lets a component synchronize with an external system; React runs the "
             "effect after rendering and cleans it up before the next run."),
        ]),
    ],
    BIZ: [
        ("forecast", [
            (["Planning", "Revenue"],
             "The quarterly revenue forecast combines the sales pipeline with seasonal trends."),
            (["Planning", "Tooling"],
             "Our forecasting scripts use asyncio.gather to run awaitable report queries concurrently."),
        ]),
    ],
}


def page_url(source: str, slug: str) -> str:
    return f"{BASE}{source}/{slug}"


async def add_source(runtime: Runtime, source_id: str, *, knowledge_type: str = "technical",
                     tags: tuple[str, ...] = ()) -> None:
    async with runtime.db.connection() as conn:
        await conn.execute(
            "INSERT INTO archon_sources (id, source_type, url, title, knowledge_type, tags, status) "
            "VALUES (%s, 'url', %s, %s, %s, %s, 'ready')",
            (source_id, BASE + source_id, source_id.replace("_", " ").title(), knowledge_type, list(tags)))


async def store_page(runtime: Runtime, source_id: str, slug: str, sections: list[tuple[list[str], str]], *,
                     model: EmbeddingModel, code: list[CodeExampleInput] = ()) -> int:  # type: ignore[assignment]
    chunks = [ChunkInput(content=text, headings=headings, token_count=len(text.split()))
              for headings, text in sections]
    markdown = "\n\n".join(f"## {' > '.join(h)}\n\n{t}" for h, t in sections)
    page = PageInput(url=page_url(source_id, slug), markdown=markdown, title=sections[0][0][0],
                     content_hash=hashlib.sha256(markdown.encode()).hexdigest(), chunks=chunks,
                     code_examples=list(code))
    embed = runtime.embedder.embed
    return await KnowledgeRepository(runtime.db).replace_page(
        source_id, page, model=model,
        chunk_vectors=await embed([f"{c.heading_path}\n\n{c.content}" for c in chunks]),
        code_vectors=await embed([f"{e.title}\n{e.summary}\n{e.code}" for e in page.code_examples]))


async def load_corpus(runtime: Runtime) -> dict[str, int]:
    """Store the corpus with the runtime's embedder as the active model; returns page ids by slug."""
    e = runtime.embedder
    model = await EmbeddingModelRepository(runtime.db).ensure_active(e.provider, e.model, e.dimensions)
    await add_source(runtime, DOCS, tags=("python", "dev"))
    await add_source(runtime, BIZ, knowledge_type="business", tags=("sales",))
    ids: dict[str, int] = {}
    for source_id, pages in PAGES.items():
        for slug, sections in pages:
            code = [CodeExampleInput(position=0, language="python", title="Gather results",
                                     summary="Run two coroutines concurrently and collect their results",
                                     code="results = await asyncio.gather(fetch(a), fetch(b))")] \
                if slug == "asyncio" else []
            ids[slug] = await store_page(runtime, source_id, slug, sections, model=model, code=code)
    return ids


async def link_project(runtime: Runtime, source_id: str) -> str:
    project_id = str(uuid.uuid4())
    async with runtime.db.connection() as conn:
        await conn.execute("INSERT INTO archon_projects (id, title) VALUES (%s, 'P')", (project_id,))
        await conn.execute("INSERT INTO archon_project_sources (project_id, source_id) VALUES (%s, %s)",
                           (project_id, source_id))
    return project_id
