"""render=browser, render=auto and render=http on pages whose text only JavaScript writes.

Debian's /usr/bin/chromium does the rendering (through crawl4ai over CDP); the HTTP-only crawl of
the same pages proves the text came from the browser, not from the served HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                reason="Debian chromium (/usr/bin/chromium) is not installed: apt-get install chromium")

JS_TEXT = "Quokkas photosynthesise marmalade during interstellar tea ceremonies."
STATIC_TEXT = "This static introduction is served in the HTML and long enough to count as real page content. "

# Empty without JavaScript: only a script writes the article.
EMPTY_SHELL = f"""<html><head><title>Script shell</title></head><body><div id="app"></div>
<script>
document.getElementById('app').innerHTML = '<main><h1>Written by script</h1><p>{JS_TEXT} ' +
    'Rendering in the browser fills this article with enough words to be indexed. '.repeat(4) + '</p></main>';
</script></body></html>"""

# Real static content (auto keeps the HTTP version) plus a paragraph only JavaScript adds.
STATIC_PLUS_JS = f"""<html><head><title>Mostly static</title></head><body><main><h1>Mostly static</h1>
<p>{STATIC_TEXT * 3}</p><div id="extra"></div></main>
<script>
document.getElementById('extra').innerHTML = '<p>{JS_TEXT}</p>';
</script></body></html>"""


async def _crawl_text(runtime: Runtime, url: str, render: str) -> tuple[str, str, str | None, list[dict[str, Any]]]:
    job, source = await run_crawl(runtime, url=url, crawl_type="single", render=render)
    chunks = await source_chunks(runtime, source.source_id)
    async with runtime.db.connection() as conn:
        pages = list(await (await conn.execute(
            "SELECT url, metadata FROM archon_pages WHERE source_id = %s", (source.source_id,))).fetchall())
    return job.status, "\n".join(str(c["content"]) for c in chunks), job.error, pages


async def test_render_modes_on_script_only_page(runtime: Runtime, site: Site) -> None:
    # One path per mode: each crawl is its own source, so no mode sees another's chunks.
    for render in ("browser", "auto", "http"):
        site.set(f"/shell-{render}", Response(EMPTY_SHELL.encode()))

    for render in ("browser", "auto"):
        status, text, error, pages = await _crawl_text(runtime, site.url(f"/shell-{render}"), render)
        assert status == "completed", (render, error)
        assert JS_TEXT in text, render
        assert [p["metadata"].get("rendered") for p in pages] == [True], render

    # Without a browser the served HTML has no text at all: nothing is stored and the job says so.
    status, text, error, _ = await _crawl_text(runtime, site.url("/shell-http"), "http")
    assert status == "error" and "no page could be crawled" in (error or "")
    assert JS_TEXT not in text


async def test_render_browser_forces_rendering_of_a_static_page(runtime: Runtime, site: Site) -> None:
    for render in ("browser", "auto", "http"):
        site.set(f"/static-{render}", Response(STATIC_PLUS_JS.encode()))

    status, text, error, pages = await _crawl_text(runtime, site.url("/static-browser"), "browser")
    assert status == "completed", error
    assert JS_TEXT in text and "static introduction" in text
    assert [p["metadata"].get("rendered") for p in pages] == [True]

    # auto sees real content in the HTML and keeps it: no browser, so the script's paragraph is absent.
    for render in ("auto", "http"):
        status, text, error, pages = await _crawl_text(runtime, site.url(f"/static-{render}"), render)
        assert status == "completed", (render, error)
        assert "static introduction" in text and JS_TEXT not in text, render
        assert [p["metadata"].get("rendered") for p in pages] == [False], render
