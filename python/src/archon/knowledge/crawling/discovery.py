"""What to crawl for a seed URL: llms.txt / llms-full.txt, then sitemaps, else a recursive crawl."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from archon.knowledge.crawling.fetcher import Fetcher, FetchError
from archon.knowledge.crawling.llms import llms_links
from archon.knowledge.crawling.robots import RobotsCache
from archon.knowledge.crawling.sitemaps import (
    MAX_INDEX_DEPTH,
    MAX_SITEMAP_FILES,
    SitemapError,
    looks_like_sitemap,
    parse_sitemap,
)
from archon.knowledge.crawling.ssrf import BlockedURL
from archon.knowledge.crawling.urls import canonicalize, path_prefix

log = logging.getLogger(__name__)

TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "")
LLMS_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class Discovery:
    """The first frontier of a crawl and whether pages' links are followed."""

    strategy: str  # single | llms_txt | llms_full | sitemap | recursive
    urls: list[str] = field(default_factory=list)
    follow_links: bool = False
    notes: list[str] = field(default_factory=list)


def is_llms_full(url: str) -> bool:
    """llms-full.txt files are split into sections rather than read as a list of links."""
    return urlsplit(url).path.lower().endswith("llms-full.txt")


def is_text_url(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith((".txt", ".md", ".markdown"))


def is_sitemap_url(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith((".xml", ".xml.gz")) and "sitemap" in path


def _candidates(seed: str, name: str) -> list[str]:
    parts = urlsplit(seed)
    origin = f"{parts.scheme}://{parts.netloc}"
    prefix = path_prefix(seed)
    out = [f"{origin}{prefix}{name}"]
    if prefix != "/":
        out.append(f"{origin}/{name}")
    return out


class Discoverer:
    """Runs discovery for one crawl with the job's fetcher; `note` receives log lines for the job."""

    def __init__(self, fetcher: Fetcher, robots: RobotsCache, note: Callable[[str], None], *,
                 respect_robots: bool = True) -> None:
        self.fetcher = fetcher
        self.robots = robots
        self.note = note
        self.respect_robots = respect_robots

    async def discover(self, seed: str, crawl_type: str) -> Discovery:
        """The first frontier for `crawl_type` (auto picks llms.txt, then sitemaps, then recursive)."""
        if crawl_type == "single":
            return Discovery("single", [seed])
        if crawl_type == "recursive":
            return Discovery("recursive", [seed], follow_links=True)
        if crawl_type == "llms_txt":
            found = await self._llms_file(seed)
            if found is None:
                raise FetchError(f"{seed} is not a usable llms.txt file")
            return found
        if crawl_type == "sitemap":
            pages = await self._expand_sitemaps([seed])
            if not pages:
                raise FetchError(f"no page URLs found in sitemap {seed}")
            return Discovery("sitemap", pages)
        return await self._auto(seed)

    async def _auto(self, seed: str) -> Discovery:
        if is_sitemap_url(seed):
            pages = await self._expand_sitemaps([seed])
            if pages:
                return Discovery("sitemap", pages)
        if is_text_url(seed):
            found = await self._llms_file(seed)
            return found or Discovery("single", [seed])
        for name in ("llms.txt", "llms-full.txt"):
            for candidate in _candidates(seed, name):
                found = await self._llms_file(candidate, probing=True)
                if found is not None:
                    self.note(f"discovered {candidate}")
                    return found
        # robots.txt `Sitemap:` lines are read even when its rules are not enforced.
        sitemap_urls = list((await self.robots.rules(seed)).sitemaps)
        sitemap_urls.extend(_candidates(seed, "sitemap.xml") + _candidates(seed, "sitemap_index.xml"))
        pages = await self._expand_sitemaps(sitemap_urls, probing=True)
        if pages:
            return Discovery("sitemap", pages)
        self.note("no llms.txt or sitemap found: crawling links recursively")
        return Discovery("recursive", [seed], follow_links=True)

    async def _get(self, url: str, *, probing: bool, max_bytes: int | None = None) -> bytes | None:
        try:
            if self.respect_robots and not await self.robots.allowed(url):
                self.note(f"skipped {url}: disallowed by robots.txt")
                return None
            result = await self.fetcher.get(url, max_bytes=max_bytes)
        except BlockedURL as exc:
            self.note(f"blocked {url}: {exc.message}")
            return None
        except FetchError as exc:
            if not probing:
                self.note(f"could not fetch {url}: {exc}")
            return None
        if probing and result.content_type not in TEXT_TYPES and "xml" not in result.content_type \
                and "gzip" not in result.content_type:
            return None  # an HTML catch-all page is not an llms.txt or a sitemap
        return result.body

    async def _llms_file(self, url: str, *, probing: bool = False) -> Discovery | None:
        body = await self._get(url, probing=probing, max_bytes=LLMS_MAX_BYTES)
        if body is None or not body.strip() or body.lstrip()[:1] == b"<":
            return None
        if is_llms_full(url):
            return Discovery("llms_full", [url])
        links = llms_links(body.decode("utf-8", errors="replace"), url)
        if not links:
            return None if probing else Discovery("single", [url])
        # The llms.txt itself is kept too: it is the site's own summary of what matters.
        return Discovery("llms_txt", [url, *links])

    async def _expand_sitemaps(self, urls: list[str], *, probing: bool = False) -> list[str]:
        """Page URLs from sitemaps, following index files (depth and file-count limited)."""
        pages: list[str] = []
        seen: set[str] = set()
        level = list(urls)
        fetched = 0
        for depth in range(MAX_INDEX_DEPTH + 1):
            nested: list[str] = []
            for url in level:
                key = canonicalize(url)
                if key in seen or fetched >= MAX_SITEMAP_FILES:
                    continue
                seen.add(key)
                body = await self._get(url, probing=probing)
                if body is None:
                    continue
                fetched += 1
                if not looks_like_sitemap(body):
                    continue
                try:
                    parsed = parse_sitemap(body)
                except SitemapError as exc:
                    self.note(f"ignored sitemap {url}: {exc}")
                    continue
                self.note(f"sitemap {url}: {len(parsed.pages)} pages, {len(parsed.sitemaps)} nested sitemaps")
                pages.extend(parsed.pages)
                nested.extend(parsed.sitemaps)
            if not nested:
                break
            if depth == MAX_INDEX_DEPTH:
                self.note("sitemap index nesting too deep; deeper sitemaps ignored")
            level = nested
        return pages
