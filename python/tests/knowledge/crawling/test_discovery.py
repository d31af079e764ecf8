"""Discovery: llms.txt, llms-full.txt sections, sitemaps (index, .gz, robots Sitemap:), and SSRF in each."""

from __future__ import annotations

from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import page_urls, run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site, build_docs, gz, sitemap, sitemap_index

LLMS_FULL = """# Test Docs

Intro paragraph about the test docs and what they cover in detail.

## Installation

Install with pip and configure the environment variables before the first start.

```python
# not a heading: fenced
print("hello")
```

## Configuration

Set ARCHON_CRAWL_ALLOWED_HOSTS for local documentation servers.

# Reference

The reference section lists every option.
"""


async def test_auto_prefers_llms_txt_and_follows_its_links(runtime: Runtime, site: Site, canary: Site) -> None:
    build_docs(site)
    site.set("/llms.txt", Response(
        f"# Test Docs\n\n> Summary\n\n- [A1](/docs/a1.html): first\n- [B2]({site.url('/docs/b2.html')})\n"
        f"- [internal]({canary.url('/canary-llms')})\n".encode(), content_type="text/plain"))
    job, source = await run_crawl(runtime, url=site.url("/docs/"))
    assert job.status == "completed", job.error
    assert job.progress["strategy"] == "llms_txt"
    assert await page_urls(runtime, source.source_id) == [
        site.url("/docs/a1.html"), site.url("/docs/b2.html"), site.url("/llms.txt")]
    assert any("blocked" in line and "canary-llms" in line for line in job.log)
    assert canary.hits == []


async def test_llms_full_is_split_into_section_pages(runtime: Runtime, site: Site) -> None:
    site.set("/llms-full.txt", Response(LLMS_FULL.encode(), content_type="text/plain"))
    job, source = await run_crawl(runtime, url=site.url("/llms-full.txt"), crawl_type="llms_txt")
    assert job.status == "completed", job.error
    base = site.url("/llms-full.txt")
    assert await page_urls(runtime, source.source_id) == sorted(
        f"{base}#{slug}" for slug in ("test-docs", "installation", "configuration", "reference"))
    chunks = "\n".join(c["content"] for c in await source_chunks(runtime, source.source_id))
    assert "# not a heading: fenced" in chunks


async def test_sitemap_index_gzip_and_robots_sitemap_lines(runtime: Runtime, site: Site, canary: Site) -> None:
    build_docs(site)
    site.set("/robots.txt", Response(f"User-agent: *\nAllow: /\nSitemap: {site.url('/maps/index.xml')}\n"
                                     f"Sitemap: {canary.url('/canary-sitemap.xml')}\n".encode(),
                                     content_type="text/plain"))
    site.set("/maps/index.xml", Response(sitemap_index([site.url("/maps/one.xml.gz"), site.url("/maps/two.xml")]),
                                         content_type="application/xml"))
    site.set("/maps/one.xml.gz", Response(gz(sitemap([site.url("/docs/a1.html"), site.url("/docs/c1.html")])),
                                          content_type="application/gzip"))
    site.set("/maps/two.xml", Response(sitemap([site.url("/docs/b1.html"), canary.url("/canary-entry")]),
                                       content_type="application/xml"))
    job, source = await run_crawl(runtime, url=site.url("/docs/"))
    assert job.status == "completed", job.error
    assert job.progress["strategy"] == "sitemap"
    assert await page_urls(runtime, source.source_id) == [
        site.url("/docs/a1.html"), site.url("/docs/b1.html"), site.url("/docs/c1.html")]
    assert any("canary-entry" in line and "blocked" in line for line in job.log)
    assert any("canary-sitemap" in line and "blocked" in line for line in job.log)
    assert canary.hits == []


async def test_explicit_sitemap_crawl_and_entity_bomb(runtime: Runtime, site: Site) -> None:
    build_docs(site)
    site.set("/sitemap.xml", Response(sitemap([site.url("/docs/a2.html")]), content_type="application/xml"))
    job, source = await run_crawl(runtime, url=site.url("/sitemap.xml"), crawl_type="sitemap")
    assert job.status == "completed", job.error
    assert await page_urls(runtime, source.source_id) == [site.url("/docs/a2.html")]

    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol2;</loc></url></urlset>')
    site.set("/bomb.xml", Response(bomb, content_type="application/xml"))
    job, _ = await run_crawl(runtime, url=site.url("/bomb.xml"), crawl_type="sitemap")
    assert job.status == "error" and "no page URLs" in (job.error or "")
    assert any("ignored sitemap" in line for line in job.log)


async def test_links_and_redirects_to_internal_addresses_are_blocked(runtime: Runtime, site: Site,
                                                                     canary: Site) -> None:
    from tests.knowledge.crawling.site import html_page, prose

    site.set("/docs/", Response(html_page("Home", prose("home"), links=[
        "/docs/redir", canary.url("/canary-link"), "http://169.254.169.254/latest/meta-data/"])))
    site.set("/docs/redir", Response(b"", status=302, headers={"Location": canary.url("/canary-redirect")}))
    job, source = await run_crawl(runtime, url=site.url("/docs/"), crawl_type="recursive", max_depth=2)
    assert job.status == "completed", job.error
    blocked = [line for line in job.log if line.startswith("blocked")]
    assert any("canary-link" in line for line in blocked)
    assert any("canary-redirect" in line or "/docs/redir" in line for line in blocked)
    assert any("169.254.169.254" in line for line in blocked)
    assert canary.hits == []
    chunks = "\n".join(c["content"] for c in await source_chunks(runtime, source.source_id))
    assert "not found" not in chunks
