"""robots.txt: fetched once per host (through the guard), honoured unless the crawl turns it off."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from archon.knowledge.crawling.egress import USER_AGENT
from archon.knowledge.crawling.fetcher import Fetcher, FetchError
from archon.knowledge.crawling.ssrf import BlockedURL

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024
AGENT = USER_AGENT.split("/", 1)[0]


class RobotsRules:
    """The parsed rules of one host."""

    def __init__(self, parser: RobotFileParser | None, *, disallow_all: bool = False) -> None:
        self.parser = parser
        self.disallow_all = disallow_all

    def allowed(self, url: str) -> bool:
        if self.disallow_all:
            return False
        return self.parser is None or self.parser.can_fetch(AGENT, url)

    @property
    def sitemaps(self) -> list[str]:
        return list(self.parser.site_maps() or []) if self.parser is not None else []

    @property
    def crawl_delay(self) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(AGENT)
        return float(delay) if delay is not None else None


def parse_robots(text: str) -> RobotsRules:
    """Rules from robots.txt text."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return RobotsRules(parser)


class RobotsCache:
    """Per-host robots.txt rules for one crawl."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, url: str) -> RobotsRules:
        """The rules for `url`'s host, fetching robots.txt on first use."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._rules:
                self._rules[origin] = await self._load(origin)
                delay = self._rules[origin].crawl_delay
                if delay:
                    self.fetcher.set_delay(parts.netloc, delay)
            return self._rules[origin]

    async def allowed(self, url: str) -> bool:
        return (await self.rules(url)).allowed(url)

    async def _load(self, origin: str) -> RobotsRules:
        try:
            result = await self.fetcher.get(f"{origin}/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            text = str(exc)
            # RFC 9309: a missing robots.txt (4xx) allows everything; an unreachable one (5xx) allows nothing.
            if text.startswith("HTTP 5"):
                log.info("robots.txt of %s unavailable (%s): treating the site as disallowed", origin, text)
                return RobotsRules(None, disallow_all=True)
            return RobotsRules(None)
        except BlockedURL:
            return RobotsRules(None)
        if "html" in result.content_type:
            return RobotsRules(None)  # a catch-all HTML page served for every path is not a robots.txt
        return parse_robots(result.text)
