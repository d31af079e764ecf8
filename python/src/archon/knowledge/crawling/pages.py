"""A fetched response -> title, markdown and links (HTML through the converter pool, JS pages in Chromium)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archon.knowledge.crawling.fetcher import Fetcher, FetchResult
from archon.knowledge.crawling.pool import shared_pool
from archon.knowledge.crawling.ssrf import EgressPolicy

if TYPE_CHECKING:
    from archon.knowledge.crawling.browser import BrowserRenderer
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown", "text/x-rst", "text/prs.fallenstein.rst"})
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


@dataclass
class MadePage:
    title: str
    markdown: str
    links: list[str] = field(default_factory=list)
    rendered: bool = False


class PageMaker:
    """Turns responses into markdown for one crawl; `render` is auto, http or browser."""

    def __init__(self, runtime: Runtime, fetcher: Fetcher, policy: EgressPolicy, note: Callable[[str], None], *,
                 render: str = "auto") -> None:
        self.runtime = runtime
        self.fetcher = fetcher
        self.policy = policy
        self.note = note
        self.render = render
        self.pool = shared_pool()
        self._browser: BrowserRenderer | None = None

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None

    async def _render(self, url: str) -> str | None:
        from archon.knowledge.crawling.browser import BrowserRenderer, BrowserUnavailable

        try:
            if self._browser is None:
                self._browser = BrowserRenderer(self.policy, self.fetcher.client, self.note,
                                                data_dir=self.runtime.settings.data_dir,
                                                page_timeout=self.fetcher.timeout)
            return await self._browser.render(url)
        except BrowserUnavailable as exc:
            self.note(f"browser rendering unavailable ({exc}); kept the HTTP version of {url}")
            return None

    async def make(self, url: str, result: FetchResult) -> MadePage | None:
        """The page's content, or None for content types that are not documents."""
        if result.is_html:
            if self.render == "browser":
                html = await self._render(result.final_url)
                converted = await self.pool.convert(result.final_url, html if html is not None else result.text)
                return MadePage(converted.title, converted.markdown, converted.links, rendered=html is not None)
            converted = await self.pool.convert(result.final_url, result.text)
            if self.render == "auto" and converted.needs_browser:
                html = await self._render(result.final_url)
                if html is not None:
                    rendered = await self.pool.convert(result.final_url, html)
                    return MadePage(rendered.title, rendered.markdown, rendered.links, rendered=True)
            return MadePage(converted.title, converted.markdown, converted.links)
        if result.content_type in TEXT_TYPES or url.lower().endswith((".md", ".markdown", ".txt", ".rst")):
            text = result.text
            heading = _HEADING.search(text)
            return MadePage(heading.group(1).strip() if heading else url.rsplit("/", 1)[-1], text)
        self.note(f"skipped {url}: unsupported content type {result.content_type or 'unknown'}")
        return None
