"""The crawl frontier: claim order, expired claims, a claim plan that does not sort the whole frontier, and the
throttled chunk count of progress reports."""

from __future__ import annotations

import asyncio
import json

import pytest

from archon.jobs.service import JobService
from archon.knowledge.crawling import frontier as frontier_module
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings.hashing import HashingEmbedder
from archon.knowledge.models import ChunkInput, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.runtime import Runtime


async def _job(runtime: Runtime) -> str:
    return await JobService(runtime.db).create("crawl", {})


async def test_claims_shallowest_then_oldest_and_each_url_once(runtime: Runtime) -> None:
    frontier = FrontierRepository(runtime.db)
    job = await _job(runtime)
    await frontier.add(job, ["http://x.test/b", "http://x.test/a"], 2, max_pages=100)
    await frontier.add(job, ["http://x.test/z"], 1, max_pages=100)
    await frontier.add(job, ["http://x.test/y"], 1, max_pages=100)
    claimed = [await frontier.claim(job, "w1") for _ in range(5)]
    # Depth first; within a depth, discovery order (same-statement rows by URL).
    assert claimed == [("http://x.test/z", 1), ("http://x.test/y", 1), ("http://x.test/a", 2),
                       ("http://x.test/b", 2), None]


async def test_an_expired_claim_is_taken_over_once_nothing_is_pending(runtime: Runtime) -> None:
    frontier = FrontierRepository(runtime.db)
    job = await _job(runtime)
    await frontier.add(job, ["http://x.test/old"], 1, max_pages=100)
    await frontier.add(job, ["http://x.test/new"], 1, max_pages=100)
    assert await frontier.claim(job, "gone") == ("http://x.test/old", 1)
    async with runtime.db.connection() as conn:
        await conn.execute("UPDATE archon_crawl_urls SET claimed_at = now() - interval '1 hour' WHERE url = %s",
                           ("http://x.test/old",))
    assert await frontier.claim(job, "w2") == ("http://x.test/new", 1)  # pending work comes first
    assert await frontier.claim(job, "w2") == ("http://x.test/old", 1)
    rows = {r["url"]: r for r in await frontier.job_rows(job)}
    assert rows["http://x.test/old"]["status"] == "claimed"
    assert await FrontierRepository(runtime.db).claim(job, "w3") is None


async def test_claim_reads_pending_rows_in_index_order_without_sorting(runtime: Runtime) -> None:
    frontier = FrontierRepository(runtime.db)
    job = await _job(runtime)
    for depth in range(3):
        await frontier.add(job, [f"http://x.test/{depth}/{i}" for i in range(1500)], depth, max_pages=10_000)
    async with runtime.db.connection() as conn:
        await conn.execute("ANALYZE archon_crawl_urls")
        row = await (await conn.execute(
            "EXPLAIN (FORMAT JSON) SELECT job_id, url FROM archon_crawl_urls WHERE job_id = %s AND status = 'pending' "
            "ORDER BY depth, discovered_at, url LIMIT 1 FOR UPDATE SKIP LOCKED", (job,))).fetchone()
    assert row is not None
    plan = json.dumps(row["QUERY PLAN"])
    assert "archon_crawl_urls_claim" in plan
    assert '"Sort"' not in plan and "Incremental Sort" not in plan


async def _store_page(runtime: Runtime, url: str, chunks: int) -> int:
    async with runtime.db.connection() as conn:
        await conn.execute("INSERT INTO archon_sources (id, source_type, url) VALUES ('s1', 'url', 'http://x.test/') "
                           "ON CONFLICT DO NOTHING")
    model = await EmbeddingModelRepository(runtime.db).ensure_active("hash", "hash-v1", 384)
    texts = [f"chunk {i} of {url}" for i in range(chunks)]
    page = PageInput(url=url, markdown=" ".join(texts), content_hash=url,
                     chunks=[ChunkInput(content=t, token_count=4) for t in texts])
    vectors = await HashingEmbedder().embed(texts)
    return await KnowledgeRepository(runtime.db).replace_page("s1", page, model=model, chunk_vectors=vectors)


async def test_chunks_stored_is_reused_while_pages_are_in_flight_and_exact_at_the_end(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontier_module, "CHUNKS_MAX_AGE", 600.0)  # a slow machine must not expire it mid-test
    frontier = FrontierRepository(runtime.db)
    job = await _job(runtime)
    await frontier.add(job, ["http://x.test/1", "http://x.test/2"], 0, max_pages=10)
    for url, chunks in (("http://x.test/1", 3), ("http://x.test/2", 2)):
        assert await frontier.claim(job, "w1") == (url, 0)
        await frontier.finish(job, url, "done", page_id=await _store_page(runtime, url, chunks))
        if url.endswith("1"):
            assert await frontier.chunks_stored(job) == 3
    # Another worker's page landed a moment ago: a progress report may show the count of CHUNKS_MAX_AGE ago...
    assert await frontier.chunks_stored(job) == 3
    # ...but once nothing is pending or claimed, the count is exact (the job's final figure).
    counts = await frontier.counts(job)
    assert counts["done"] == 2
    assert await frontier.chunks_stored(job) == 5


async def test_a_full_frontier_answers_without_waiting_for_the_page_limit_lock(runtime: Runtime) -> None:
    frontier = FrontierRepository(runtime.db)
    job = await _job(runtime)
    assert await frontier.add(job, ["http://x.test/1", "http://x.test/2", "http://x.test/3"], 0, max_pages=2) == [
        "http://x.test/1", "http://x.test/2"]
    assert await frontier.add(job, ["http://x.test/4"], 1, max_pages=2) == []  # full: remembered
    async with runtime.db.transaction() as conn:
        # Another fetcher holds the per-job lock (e.g. a slow insert): links of later pages must not queue behind it.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (job,))
        async with asyncio.timeout(5):
            assert await frontier.add(job, ["http://x.test/5"], 1, max_pages=2) == []
    assert [r["url"] for r in await frontier.job_rows(job)] == ["http://x.test/1", "http://x.test/2"]
