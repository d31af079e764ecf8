"""HTML -> markdown keeps each generator's main content and drops its chrome; JS shells are detected."""

from __future__ import annotations

import pytest

from archon.knowledge.crawling.convert import convert_html
from archon.knowledge.crawling.llms import llms_links, split_sections
from archon.knowledge.crawling.sitemaps import SitemapError, gunzip_limited, parse_sitemap
from tests.knowledge.crawling.site import CHROME_MARKERS, gz, html_page, prose, sitemap, sitemap_index

GENERATORS = ["sphinx", "mkdocs", "docusaurus", "vitepress", "rustdoc", "gitbook"]


@pytest.mark.parametrize("generator", GENERATORS)
def test_main_content_only(generator: str) -> None:
    html = html_page("Retry Policies", prose("retries"), links=["/a.html", "/b.html"], generator=generator)
    page = convert_html("https://d.example/guide/x.html", html.decode())
    assert "# Retry Policies" in page.markdown
    assert "The retries module explains concept number 2" in page.markdown
    assert "def retries_example(x):" in page.markdown and "```" in page.markdown
    for marker in CHROME_MARKERS:
        assert marker not in page.markdown, (generator, marker)
    assert "/a.html" in page.links  # navigation links are still found for the crawl
    assert page.title.startswith("Retry Policies") and not page.needs_browser


def test_script_only_page_needs_a_browser() -> None:
    shell = ("<html><head><title>App</title><script src='/app.js'></script></head>"
             "<body><div id='root'></div><noscript>You need to enable JavaScript to run this app.</noscript>"
             "</body></html>")
    assert convert_html("https://d.example/", shell).needs_browser
    static = html_page("Static", prose("static")).decode()
    assert not convert_html("https://d.example/", static).needs_browser


def test_llms_txt_links_and_full_sections() -> None:
    text = "# Site\n\n- [A](/a.md): x\n- [B](https://d.example/b \"title\")\n- [Mail](mailto:x@y.z)\n"
    assert llms_links(text, "https://d.example/llms.txt") == ["https://d.example/a.md", "https://d.example/b"]
    sections = split_sections("intro\n# One\ntext\n## Two\n```\n# code\n```\n## Two\nagain\n", "https://d.example/f.txt")
    assert [s.url.rsplit("#", 1)[1] for s in sections] == ["introduction", "one", "two", "two-1"]
    assert "# code" in sections[2].markdown and [s.order for s in sections] == [0, 1, 2, 3]


def test_sitemap_parsing_limits() -> None:
    parsed = parse_sitemap(gz(sitemap(["https://d.example/a", "https://d.example/b"])))
    assert parsed.pages == ["https://d.example/a", "https://d.example/b"]
    assert parse_sitemap(sitemap_index(["https://d.example/s1.xml"])).sitemaps == ["https://d.example/s1.xml"]
    with pytest.raises(SitemapError):
        gunzip_limited(gz(b"<urlset>" + b" " * 2_000_000 + b"</urlset>"), limit=1_000_000)  # gzip bomb
    with pytest.raises(SitemapError):
        parse_sitemap(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>'
                      b"<urlset><url><loc>&a;</loc></url></urlset>")  # XXE
    with pytest.raises(SitemapError):
        parse_sitemap(b"<html><body>not a sitemap</body></html>")


def test_xhtml_with_xml_declaration_converts() -> None:
    # DocBook output (e.g. the PostgreSQL docs) starts with <?xml ... encoding="UTF-8"?>, which lxml refuses in str.
    html = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            '<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">'
            '<head><title>SELECT</title></head><body><div class="refentry"><h1>SELECT</h1><p>'
            + "SELECT retrieves rows from zero or more tables. " * 5
            + '</p><a href="sql-insert.html">INSERT</a></div></body></html>')
    page = convert_html("http://docs.example/sql-select.html", html)
    assert "retrieves rows" in page.markdown and page.title == "SELECT"
    assert "sql-insert.html" in page.links
