"""Crawl jobs end to end against the local docs site: each crawl type, limits, patterns, robots, content."""

from __future__ import annotations

from archon.knowledge.crawling.frontier import FrontierRepository
from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import page_urls, run_crawl, source_chunks
from tests.knowledge.crawling.site import CHROME_MARKERS, Site, build_docs


async def test_recursive_crawl_respects_depth_and_keeps_main_content(runtime: Runtime, site: Site) -> None:
    build_docs(site)
    job, source = await run_crawl(runtime, url=site.url("/docs/"), crawl_type="recursive", max_depth=2)
    assert job.status == "completed", job.error
    urls = await page_urls(runtime, source.source_id)
    assert urls == [site.url(p) for p in ("/docs", "/docs/a1.html", "/docs/a2.html", "/docs/b1.html",
                                          "/docs/b2.html")]  # c1 is at depth 3
    assert source.status == "ready" and source.last_indexed_at is not None
    chunks = await source_chunks(runtime, source.source_id)
    text = "\n".join(c["content"] for c in chunks)
    assert "topic-b2 module explains concept" in text
    for marker in CHROME_MARKERS:
        assert marker not in text
    assert "¶" not in text
    progress = job.progress_data()
    assert progress["processedPages"] == progress["totalPages"] == 5 and progress["chunksStored"] == len(chunks)
    # Canonicalisation: the #fragment, utm_ and trailing-slash variants were not fetched again.
    assert site.hits_for("/docs/b2.html") == 1 and site.hits_for("/docs/b1.html") == 1


async def test_max_pages_caps_the_frontier(runtime: Runtime, site: Site) -> None:
    build_docs(site)
    job, source = await run_crawl(runtime, url=site.url("/docs/"), crawl_type="recursive", max_depth=5, max_pages=3)
    assert job.status == "completed", job.error
    assert len(await page_urls(runtime, source.source_id)) == 3
    assert job.progress_data()["totalPages"] == 3


async def test_include_and_exclude_patterns(runtime: Runtime, site: Site) -> None:
    build_docs(site)
    job, source = await run_crawl(runtime, url=site.url("/docs/"), crawl_type="recursive", max_depth=5,
                                  include_patterns=["/docs/a*", "/docs/b*"], exclude_patterns=["*b2.html"])
    assert job.status == "completed", job.error
    assert await page_urls(runtime, source.source_id) == [
        site.url(p) for p in ("/docs", "/docs/a1.html", "/docs/a2.html", "/docs/b1.html")]


async def test_single_page_crawl_fetches_one_page(runtime: Runtime, site: Site) -> None:
    build_docs(site)
    job, source = await run_crawl(runtime, url=site.url("/docs/a1.html"), crawl_type="single")
    assert job.status == "completed", job.error
    assert await page_urls(runtime, source.source_id) == [site.url("/docs/a1.html")]
    assert site.hits_for("/docs/b1.html") == 0


async def test_robots_txt_is_honoured_unless_disabled(runtime: Runtime, site: Site) -> None:
    from tests.knowledge.crawling.site import Response

    build_docs(site)
    site.set("/robots.txt", Response(b"User-agent: *\nDisallow: /docs/b\n", content_type="text/plain"))
    job, source = await run_crawl(runtime, url=site.url("/docs/"), crawl_type="recursive", max_depth=3)
    assert job.status == "completed", job.error
    urls = await page_urls(runtime, source.source_id)
    assert site.url("/docs/b1.html") not in urls and site.hits_for("/docs/b1.html") == 0
    assert any("robots.txt" in line for line in job.log)
    rows = await FrontierRepository(runtime.db).job_rows(job.id)
    skipped = {r["url"] for r in rows if r["status"] == "skipped"}
    assert skipped >= {site.url("/docs/b1.html"), site.url("/docs/b2.html")}

    _, source2 = await run_crawl(runtime, url=site.url("/docs/a1.html"), crawl_type="recursive", max_depth=1,
                                    respect_robots=False)
    assert site.url("/docs/b1.html") in await page_urls(runtime, source2.source_id)
