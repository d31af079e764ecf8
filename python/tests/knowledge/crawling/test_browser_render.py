"""render=auto: a script-only page is rendered in Debian's headless Chromium; every browser request
(subresources, fetch(), redirect hops) goes through the SSRF guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon.runtime import Runtime
from tests.knowledge.crawling.conftest import run_crawl, source_chunks
from tests.knowledge.crawling.site import Response, Site

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")


async def test_js_page_rendered_in_browser_without_reaching_internal_hosts(runtime: Runtime, site: Site,
                                                                           canary: Site) -> None:
    site.set("/app", Response(f"""<html><head><title>JS app</title></head><body><div id="root"></div>
<noscript>You need to enable JavaScript to run this app.</noscript>
<img src="{canary.url('/canary-img')}"><iframe src="/redir"></iframe>
<script>
document.getElementById('root').innerHTML = '<main><h1>Rendered Guide</h1><p>' +
    'Client side rendering explains hydration of components. '.repeat(8) + '</p></main>';
fetch('{canary.url('/canary-fetch')}').catch(() => {{}});
fetch('/api/extra').then(r => r.text()).then(t => {{
    document.querySelector('main').insertAdjacentHTML('beforeend', '<p>' + t + '</p>'); }});
</script></body></html>""".encode()))
    site.set("/api/extra", Response(b"Extra paragraph loaded with fetch from the same site.",
                                    content_type="text/plain"))
    site.set("/redir", Response(b"", status=302, headers={"Location": canary.url("/canary-redirect")}))
    job, source = await run_crawl(runtime, url=site.url("/app"), crawl_type="single", render="auto")
    assert job.status == "completed", job.error
    text = "\n".join(c["content"] for c in await source_chunks(runtime, source.source_id))
    assert "hydration of components" in text and "Extra paragraph loaded with fetch" in text
    blocked = [line for line in job.log if line.startswith("blocked browser request")]
    assert any("canary-img" in line for line in blocked) and any("canary-fetch" in line for line in blocked)
    assert any("canary-redirect" in line for line in blocked)
    assert canary.hits == []

    # HTTP-only: the server's HTML has no content, so nothing new is stored.
    job, _ = await run_crawl(runtime, url=site.url("/app"), crawl_type="single", render="http")
    assert job.status == "error" and "no page could be crawled" in (job.error or "")
