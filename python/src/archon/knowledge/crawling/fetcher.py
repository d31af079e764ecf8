"""Polite, guarded HTTP fetching: each redirect hop re-checked, bodies capped, per-host limits."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from archon.knowledge.crawling.egress import guarded_client
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy
from archon.knowledge.crawling.urls import host_of

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 10 * 1024 * 1024


class FetchError(Exception):
    """A page that could not be fetched (HTTP error, timeout, too large); the crawl goes on."""


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding or "utf-8", errors="replace")

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type or (not self.content_type and self.body.lstrip()[:1] == b"<")


class HostLimiter:
    """At most `concurrency` requests per host at once, and at least `delay` seconds between starts."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.delay = delay
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self.semaphore.acquire()
        if self.delay > 0:
            async with self._lock:
                wait = self._next - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next = time.monotonic() + self.delay

    async def __aexit__(self, *exc: object) -> None:
        self.semaphore.release()


class Fetcher:
    """Fetches URLs through the SSRF guard; one instance per crawl job."""

    def __init__(self, policy: EgressPolicy, *, per_host_concurrency: int = 4, delay: float = 0.0,
                 timeout: float = 30.0, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.policy = policy
        self.per_host_concurrency = per_host_concurrency
        self.delay = delay
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.client = guarded_client(policy, timeout=timeout, max_connections=max(20, per_host_concurrency * 2))
        self._hosts: dict[str, HostLimiter] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def set_delay(self, host: str, delay: float) -> None:
        """Honour a robots.txt Crawl-delay for `host` (capped so one site cannot stall a job)."""
        self._limiter(host).delay = max(self.delay, min(delay, 10.0))

    def _limiter(self, host: str) -> HostLimiter:
        limiter = self._hosts.get(host)
        if limiter is None:
            limiter = self._hosts[host] = HostLimiter(self.per_host_concurrency, self.delay)
        return limiter

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  max_bytes: int | None = None) -> FetchResult:
        """GET `url`, following at most 5 redirects, each hop checked; raises BlockedURL or FetchError."""
        limit = max_bytes or self.max_bytes
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            self.policy.check_url(current)
            async with self._limiter(host_of(current)):
                try:
                    result = await self._get_once(current, headers, limit)
                except httpx.HTTPError as exc:
                    raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
            if isinstance(result, str):
                hops.append(current)
                current = result
                continue
            result.url = url
            result.redirects = hops
            return result
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _get_once(self, url: str, headers: dict[str, str], limit: int) -> FetchResult | str:
        async with self.client.stream("GET", url, headers=headers) as response:
            if response.is_redirect and response.status_code != 304:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {response.status_code} without Location")
                return str(urljoin(url, location.strip()))
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(f"response of {declared} bytes exceeds the {limit}-byte limit")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > limit:
                    raise FetchError(f"response exceeds the {limit}-byte limit")
            raw = bytes(body)
            encoding = response.headers.get("content-encoding", "").lower()
            if encoding and encoding != "identity":
                raw = _decode(raw, encoding, limit)
            return FetchResult(
                url=url, final_url=str(response.url), status=response.status_code,
                content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                body=raw, encoding=response.charset_encoding,
                etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"))


def _decode(raw: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding with an output cap (a gzip bomb stops at `limit` bytes)."""
    import zlib

    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        decoder = zlib.decompressobj(wbits)
        out = decoder.decompress(raw, limit + 1)
        if len(out) > limit:
            raise FetchError(f"decompressed response exceeds the {limit}-byte limit")
        return out
    if encoding == "br":
        try:
            import brotli
        except ImportError as exc:
            raise FetchError("brotli-encoded response and no brotli decoder") from exc
        out = brotli.decompress(raw)
        if len(out) > limit:
            raise FetchError(f"decompressed response exceeds the {limit}-byte limit")
        return bytes(out)
    raise FetchError(f"unsupported Content-Encoding {encoding!r}")


__all__ = ["BlockedURL", "FetchError", "FetchResult", "Fetcher"]
