"""A documentation site served on 127.0.0.1 by the tests, plus a canary listener that must stay silent.

Pages carry the chrome of real doc generators (navigation, sidebars, footers with marker words that
must never reach a chunk). Routes can be changed while the site runs (robots variants, redirects,
changed pages for refresh tests).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHROME_MARKERS = ("NAVMARKER", "SIDEBARMARKER", "FOOTERMARKER", "BREADCRUMBMARKER", "EDITLINKMARKER")


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Route = Response | Callable[[], Response]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.split("#", 1)[0]
        with site.lock:
            site.hits.append(path)
            route = site.routes.get(path) or site.routes.get(path.split("?", 1)[0])
        if route is None:
            resp = Response(b"<html><body>not found</body></html>", status=404)
        else:
            resp = route() if callable(route) else route
        etag = resp.headers.get("ETag")
        if etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(resp.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


class Site:
    """A threaded HTTP server on `host`:free port with mutable routes and a hit log."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        self.lock = threading.Lock()
        self.server = _Server((host, 0), _Handler)
        self.server.site = self
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> Site:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, path: str, route: Route) -> None:
        with self.lock:
            self.routes[path] = route

    def remove(self, path: str) -> None:
        with self.lock:
            self.routes.pop(path, None)

    def hits_for(self, path: str) -> int:
        with self.lock:
            return sum(1 for h in self.hits if h.split("?", 1)[0] == path)


def html_page(title: str, body: str, *, links: list[str] = (), generator: str = "sphinx") -> bytes:  # type: ignore[assignment]
    """A page with real-looking chrome around `body` (the generator decides the layout)."""
    nav = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    if generator == "sphinx":
        html = f"""<!DOCTYPE html><html><head><title>{title} — Test Docs</title></head><body>
<div class="related" role="navigation"><ul><li>NAVMARKER index</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main"><section><h1>{title}<a class="headerlink" href="#x">¶</a></h1>{body}</section></div>
</div></div>
<div class="sphinxsidebar" role="navigation"><h3>SIDEBARMARKER Navigation</h3><ul>{nav}</ul></div></div>
<div class="footer">FOOTERMARKER © 2026 Test Docs.</div></body></html>"""
    elif generator == "mkdocs":
        html = f"""<!DOCTYPE html><html><head><title>{title}</title></head><body>
<header class="md-header"><nav>NAVMARKER top</nav></header>
<div class="md-container"><main class="md-main"><div class="md-sidebar md-sidebar--primary"><nav class="md-nav">
SIDEBARMARKER<ul>{nav}</ul></nav></div>
<div class="md-content"><article class="md-content__inner md-typeset">
<a href="edit" class="md-content__button">EDITLINKMARKER</a><h1>{title}</h1>{body}</article></div></main>
<footer class="md-footer">FOOTERMARKER next/previous</footer></div></body></html>"""
    elif generator == "docusaurus":
        html = f"""<!DOCTYPE html><html><head><title>{title}</title></head><body><div id="__docusaurus">
<nav class="navbar">NAVMARKER Docs Blog</nav><div class="main-wrapper"><aside class="theme-doc-sidebar-container">
SIDEBARMARKER<ul>{nav}</ul></aside><main><div class="docItemContainer"><article>
<nav class="theme-doc-breadcrumbs">BREADCRUMBMARKER Home</nav><div class="theme-doc-markdown markdown">
<header><h1>{title}</h1></header>{body}</div><footer class="theme-doc-footer"><a class="theme-edit-this-page">
EDITLINKMARKER Edit this page</a></footer></article><nav class="pagination-nav">NAVMARKER Next</nav></div></main></div>
<footer class="footer">FOOTERMARKER Copyright</footer></div></body></html>"""
    elif generator == "vitepress":
        html = f"""<!DOCTYPE html><html><head><title>{title}</title></head><body><div id="app">
<header class="VPNav">NAVMARKER Guide</header><aside class="VPSidebar">SIDEBARMARKER<ul>{nav}</ul></aside>
<div class="VPDoc"><div class="content"><main class="main"><div class="vp-doc"><h1>{title}</h1>{body}</div></main>
<footer class="VPDocFooter"><div class="edit-link">EDITLINKMARKER</div>FOOTERMARKER</footer></div></div></div>
</body></html>"""
    elif generator == "rustdoc":
        html = f"""<!DOCTYPE html><html><head><title>{title}</title></head><body class="rustdoc">
<nav class="sidebar">SIDEBARMARKER<ul>{nav}</ul></nav><main><div class="width-limiter">
<rustdoc-search></rustdoc-search><section id="main-content" class="content"><div class="main-heading">
<div class="rustdoc-breadcrumbs">BREADCRUMBMARKER std</div><h1>{title}</h1></div>
<details class="toggle top-doc"><div class="docblock">{body}</div></details></section></div></main></body></html>"""
    elif generator == "gitbook":
        html = f"""<!DOCTYPE html><html><head><title>{title}</title></head><body><div class="book">
<div class="book-summary"><nav role="navigation">SIDEBARMARKER<ul>{nav}</ul></nav></div>
<div class="book-body"><div class="body-inner"><div class="book-header" role="navigation">NAVMARKER</div>
<div class="page-wrapper"><div class="page-inner"><section class="normal markdown-section"><h1>{title}</h1>{body}
</section></div></div></div></div><footer class="page-footer">FOOTERMARKER</footer></div></body></html>"""
    else:
        raise ValueError(generator)
    return html.encode()


def prose(topic: str, n: int = 3) -> str:
    """A few paragraphs about `topic` with a code block, enough for a couple of chunks."""
    paragraphs = [f"<p>The {topic} module explains concept number {i}: how {topic} handles requests, "
                  f"retries and timeouts in production deployments with careful configuration.</p>"
                  for i in range(n)]
    code = f"<pre><code class=\"language-python\">def {topic.replace('-', '_')}_example(x):\n    return x * 2\n" \
           f"\nprint({topic.replace('-', '_')}_example(21))\n</code></pre>"
    return "".join(paragraphs) + f"<h2>Usage of {topic}</h2>" + code


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def sitemap(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>').encode()


def sitemap_index(urls: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>').encode()


def build_docs(site: Site, *, generator: str = "sphinx") -> dict[str, str]:
    """A small tree: /docs/ -> a1, a2 (depth 1) -> b1, b2 (depth 2) -> c1 (depth 3); returns topic by path."""
    tree = {
        "/docs/": ["/docs/a1.html", "/docs/a2.html"],
        "/docs/a1.html": ["/docs/b1.html", "/docs/b2.html", "/docs/"],
        "/docs/a2.html": ["/docs/a1.html", "https://external.example/x", "mailto:x@y.z"],
        "/docs/b1.html": ["/docs/c1.html"],
        "/docs/b2.html": ["/docs/b1.html#section", "/docs/b2.html?utm_source=x"],
        "/docs/c1.html": [],
    }
    topics = {path: "topic-" + (path.rsplit("/", 1)[-1].split(".")[0] or "index") for path in tree}
    for path, links in tree.items():
        site.set(path, Response(html_page(topics[path].title(), prose(topics[path]), links=links,
                                          generator=generator)))
    site.set("/docs", Response(b"", status=301, headers={"Location": "/docs/"}))
    return topics
