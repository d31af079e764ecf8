"""JavaScript rendering in Debian's headless Chromium, driven by crawl4ai over CDP.

Every request the page makes (the document, each redirect hop, images, scripts, fetch/XHR) is
intercepted and performed by our guarded HTTP client instead of Chromium's network stack, and
redirects are handed back to the browser unfollowed, so each hop is intercepted again. Chromium
therefore never opens a connection the SSRF guard has not validated at connect time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--disable-features=DnsOverHttps,ServiceWorker",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                  # Defence in depth: every request is fulfilled by the route handler; anything that
                  # escaped it would go to this dead proxy (loopback included) instead of the network.
                  "--proxy-server=http://127.0.0.1:1", "--proxy-bypass-list=<-loopback>")
_DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")
SUBRESOURCE_MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


class BrowserUnavailable(Exception):
    """Chromium is not installed or would not start."""


class BrowserRenderer:
    """One Chromium per crawl job (started lazily), pages rendered in isolated contexts."""

    def __init__(self, policy: EgressPolicy, client: httpx.AsyncClient, note: Callable[[str], None], *,
                 data_dir: Path, page_timeout: float = 30.0) -> None:
        self.policy = policy
        self.page_timeout_ms = int(page_timeout * 1000)
        self.client = client
        self.note = note
        self.data_dir = data_dir
        self._process: asyncio.subprocess.Process | None = None
        self._profile: str | None = None
        self._crawler: Any = None
        self._lock = asyncio.Lock()
        self._drainer: asyncio.Task[None] | None = None
        self.blocked: list[str] = []

    async def _start(self) -> None:
        if not await asyncio.to_thread(Path(CHROMIUM).exists):
            raise BrowserUnavailable(f"{CHROMIUM} not found (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="archon-chromium-")
        self._process = await asyncio.create_subprocess_exec(
            CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert self._process.stderr is not None
        ws_url = None
        try:
            async with asyncio.timeout(20):
                while ws_url is None:
                    line = await self._process.stderr.readline()
                    if not line:
                        break
                    match = _DEVTOOLS.search(line.decode(errors="replace"))
                    if match:
                        ws_url = match.group(1)
        except TimeoutError:
            pass
        if ws_url is None:
            await self.close()
            raise BrowserUnavailable("chromium did not report a DevTools endpoint")
        # Keep draining stderr so Chromium never blocks on a full pipe.
        self._drainer = asyncio.create_task(self._drain(self._process.stderr))
        from crawl4ai import AsyncWebCrawler, BrowserConfig

        config = BrowserConfig(browser_mode="cdp", cdp_url=ws_url, create_isolated_context=True, headless=True,
                               verbose=False)
        self._crawler = AsyncWebCrawler(config=config)
        await self._crawler.start()
        self._crawler.crawler_strategy.set_hook("on_page_context_created", self._guard_context)

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while await stream.readline():
                pass

    async def _guard_context(self, page: Any, context: Any = None, **_: Any) -> Any:
        target = context if context is not None else page
        await target.route("**/*", self._route)
        with contextlib.suppress(Exception):  # older Playwright: no WebSocket routing (Chromium flags still apply)
            await target.route_web_socket("**/*", lambda ws: ws.close())
        return page

    async def _route(self, route: Any) -> None:
        request = route.request
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            await route.continue_()
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        method, body = request.method, request.post_data_buffer
        try:
            # Redirects are followed here, each hop checked: a 3xx handed to Chromium would be
            # followed by its own network stack, outside this handler.
            for _ in range(MAX_REDIRECTS + 1):
                self.policy.check_url(url)
                response = await self.client.request(method, url, content=body, headers=headers)
                location = response.headers.get("location")
                if not (response.is_redirect and location):
                    break
                url = urljoin(url, location.strip())
                if response.status_code in (301, 302, 303) and method != "HEAD":
                    method, body = "GET", None
            else:
                await route.abort("failed")
                return
        except BlockedURL as exc:
            self.blocked.append(url)
            self.note(f"blocked browser request {url}: {exc.message}")
            await route.abort("blockedbyclient")
            return
        except httpx.HTTPError:
            await route.abort("failed")
            return
        body = response.content[:SUBRESOURCE_MAX_BYTES]
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
        await route.fulfill(status=response.status_code, headers=headers, body=body)

    async def render(self, url: str) -> str:
        """The page's HTML after JavaScript ran (raises BrowserUnavailable if Chromium cannot start)."""
        from crawl4ai import CacheMode, CrawlerRunConfig

        async with self._lock:
            if self._crawler is None:
                await self._start()
        config = CrawlerRunConfig(cache_mode=CacheMode.BYPASS, wait_until="load", page_timeout=self.page_timeout_ms,
                                  delay_before_return_html=0.3, verbose=False)
        result = await self._crawler.arun(url, config=config)
        if not result.success:
            raise BrowserUnavailable(result.error_message or "render failed")
        return str(result.html or "")

    async def close(self) -> None:
        """Stop crawl4ai and Chromium, remove the temporary profile."""
        if self._crawler is not None:
            with contextlib.suppress(Exception):
                await self._crawler.close()
            self._crawler = None
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None
