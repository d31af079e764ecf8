"""One crawl job: discover, then walk the frontier with a few fetchers until it is empty.

Everything a restarted job needs is in Postgres: the frontier rows (done rows keep their page id),
the discovery strategy (in the job's progress) and the pages themselves. A resumed job releases
its old claims and carries on; finished pages are neither fetched nor embedded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archon.errors import ArchonError
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.service import JobService
from archon.knowledge.crawling.discovery import Discoverer, is_llms_full
from archon.knowledge.crawling.fetcher import Fetcher, FetchError, FetchResult
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.llms import split_sections
from archon.knowledge.crawling.pages import PageMaker
from archon.knowledge.crawling.pooled import PooledPipeline
from archon.knowledge.crawling.robots import RobotsCache
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy
from archon.knowledge.crawling.urls import Scope, canonicalize, dedupe, host_of, resolve_link
from archon.knowledge.repository import KnowledgeRepository

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

FETCHERS = 6  # pages in flight per job: enough to keep two converter processes and the embedder busy
REPORT_EVERY = 0.25  # seconds between progress writes (each is an UPDATE + NOTIFY)
INVITE_EVERY = 5.0  # seconds between invitations to idle workers to join a crawl (scale-out)
INVITE_MIN_PENDING = FETCHERS  # a crawl with less queued work than this is not worth sharing
IDLE_POLL = 0.5  # seconds between checks while other workers finish their claimed pages
HELPER_TASK = "crawl_helper"

# Crawls this process is working on (as the job itself or as a helper): a process joins a crawl once.
_ACTIVE: set[str] = set()


def crawling_here(job_id: str) -> bool:
    """True when this process already works on crawl `job_id`."""
    return job_id in _ACTIVE


class CrawlFailed(ArchonError):
    """The crawl could not produce anything (seed unreachable, empty sitemap...)."""

    status = 502
    error = "crawl_failed"


@dataclass
class Counters:
    chunks: int = 0
    code_examples: int = 0
    unchanged: int = 0
    current_url: str = ""
    notes: list[str] = field(default_factory=list)


def _www_variant(host: str) -> str:
    return host[4:] if host.startswith("www.") else f"www.{host}"


class CrawlJob:
    """Runs the crawl of `job_id` into `source_id` with the request's options."""

    def __init__(self, runtime: Runtime, job_id: str, source_id: str, request: CrawlRequest,
                 reporter: ProgressReporter, *, helper: bool = False) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.source_id = source_id
        self.request = request
        self.reporter = reporter
        self.frontier = FrontierRepository(runtime.db)
        self.pipeline = PooledPipeline(runtime)
        self.policy = EgressPolicy(runtime.settings.crawl_allowed_hosts)
        self.seed = canonicalize(request.url)
        self.scope = Scope.for_seed(self.seed, same_path_prefix=request.same_path_prefix,
                                    include=request.include_patterns, exclude=request.exclude_patterns,
                                    extra_hosts=[_www_variant(host_of(self.seed))])
        # A helper joins a crawl another worker runs: it fetches pages but neither discovers nor finishes.
        self.helper = helper
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{job_id[:8]}:{secrets.token_hex(4)}"
        self._invited_at = 0.0
        self._checked_at = 0.0
        self.counters = Counters()
        self.follow_links = False
        self.strategy = ""
        self._busy = 0
        self._reported_at = 0.0
        self._fingerprints: dict[str, dict[str, Any]] = {}

    # --- logging and progress ------------------------------------------------------
    async def note(self, line: str) -> None:
        """One line in the job's log (what users see), and in the process log."""
        log.info("crawl %s: %s", self.job_id[:8], line)
        await self.reporter.update(log=line[:500])

    def _note_later(self, line: str) -> None:
        self.counters.notes.append(line)

    async def _flush_notes(self) -> None:
        notes, self.counters.notes = self.counters.notes, []
        for line in notes:
            await self.note(line)

    async def _report(self) -> None:
        now = time.monotonic()
        if now - self._reported_at < REPORT_EVERY:
            return
        self._reported_at = now
        counts = await self.frontier.counts(self.job_id)
        total = counts["total"] - counts.get("skipped", 0)
        processed = counts.get("done", 0) + counts.get("failed", 0)
        pct = 2 + 97 * processed / total if total else 2
        # Counted from the frontier, so the figures are the crawl's, whichever workers share it.
        await self.reporter.update(status="crawling", percentage=min(pct, 99.0), current_url=self.counters.current_url,
                                   total_pages=total, processed_pages=processed, chunks_stored=await self._chunks(),
                                   strategy=self.strategy)
        if not self.helper and counts.get("pending", 0) >= INVITE_MIN_PENDING:
            await self._invite()

    async def _chunks(self) -> int:
        """Chunks stored by the crawl so far: this process's tally, or the frontier's when others helped."""
        return max(self.counters.chunks, await self.frontier.chunks_stored(self.job_id))

    async def _invite(self) -> None:
        """Queue one helper task (at most one waits at a time): any idle worker picks it up and joins."""
        now = time.monotonic()
        if now - self._invited_at < INVITE_EVERY:
            return
        self._invited_at = now
        from procrastinate.exceptions import AlreadyEnqueued

        with contextlib.suppress(AlreadyEnqueued):
            await self.runtime.queue.defer(HELPER_TASK, queueing_lock=f"crawl-helper-{self.job_id}", job_id=self.job_id)

    async def _still_running(self) -> bool:
        """A helper stops when the crawl finished, failed or was cancelled (checked at most once a second)."""
        now = time.monotonic()
        if not self.helper or now - self._checked_at < 1.0:
            return True
        self._checked_at = now
        job = await JobService(self.runtime.db).find(self.job_id)
        return job is not None and job.status == "running"

    # --- the job ----------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        """Crawl until the frontier is exhausted; returns the final progress fields ({} for a helper)."""
        # The liveness lock tells other workers this process's claims are live (released when it dies).
        liveness = await self.frontier.hold_liveness(self.worker)
        if liveness is None:
            raise RuntimeError(f"worker id {self.worker} is already in use")
        _ACTIVE.add(self.job_id)
        try:
            async with Fetcher(self.policy) as fetcher:
                robots = RobotsCache(fetcher)
                self.maker = PageMaker(self.runtime, fetcher, self.policy, self._note_later,
                                       render=self.request.render)
                try:
                    if self.helper:
                        await self._join()
                    else:
                        await self._prepare(fetcher, robots)
                    # Register the embedding model once, before fetchers index pages concurrently
                    # (concurrent first registrations deadlock on the model row and its index creation).
                    await self.pipeline.model()
                    await self._drain(fetcher, robots)
                finally:
                    await self.maker.close()
            await self._flush_notes()
            if self.helper:
                return {}
            return await self._finish()
        finally:
            _ACTIVE.discard(self.job_id)
            await liveness.close()

    async def _join(self) -> None:
        """A helper's start: the crawl's strategy comes from the job; discovery was done by the job itself."""
        job = await JobService(self.runtime.db).get(self.job_id)
        self._fingerprints = await KnowledgeRepository(self.runtime.db).page_fingerprints(self.source_id)
        self.strategy = str(job.progress.get("strategy", "recursive"))
        self.follow_links = bool(job.progress.get("followLinks", False))
        log.info("crawl %s: %s joined", self.job_id[:8], self.worker)

    async def _drain(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        """Fetch until no URL is pending or claimed by anyone: pages other workers are still on may add
        links, and the claims of a worker that died are released and fetched here."""
        while True:
            await self._crawl(fetcher, robots)
            counts = await self.frontier.counts(self.job_id)
            if counts.get("pending", 0) == 0 and counts.get("claimed", 0) == 0:
                return
            await self.reporter.raise_if_cancelled()
            if not await self._still_running():
                return
            released = await self.frontier.release_claims(self.job_id)
            if released:
                await self.note(f"{released} page(s) claimed by a stopped worker will be fetched again")
            await asyncio.sleep(IDLE_POLL)

    async def _prepare(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        job = await JobService(self.runtime.db).get(self.job_id)
        self._fingerprints = await KnowledgeRepository(self.runtime.db).page_fingerprints(self.source_id)
        if not await self.frontier.is_empty(self.job_id):
            self.strategy = str(job.progress.get("strategy", "recursive"))
            self.follow_links = bool(job.progress.get("followLinks", False))
            released = await self.frontier.release_claims(self.job_id)
            self.counters.chunks = await self.frontier.chunks_stored(self.job_id)
            await self.note(f"resuming ({released} interrupted page(s) will be fetched again)")
            return
        await self.reporter.update(status="discovering", percentage=1, current_url=self.request.url)
        discoverer = Discoverer(fetcher, robots, self._note_later, respect_robots=self.request.respect_robots)
        try:
            found = await discoverer.discover(self.seed, self.request.crawl_type)
        except BlockedURL as exc:
            raise CrawlFailed(f"seed URL blocked: {exc.message}") from exc
        except FetchError as exc:
            raise CrawlFailed(str(exc)) from exc
        finally:
            await self._flush_notes()
        self.strategy, self.follow_links = found.strategy, found.follow_links
        await self.reporter.update(strategy=self.strategy, followLinks=self.follow_links,
                                   log=f"discovery: {found.strategy}, {len(found.urls)} URL(s)")
        # The seed (or the llms file it led to) is crawled even when include patterns would not match it;
        # sitemap entries are all filtered.
        urls = dedupe(found.urls)
        head = urls[:1] if found.strategy != "sitemap" else []
        await self._enqueue(head, 0, robots, check_scope=False)
        await self._enqueue(urls[len(head):], 0, robots)

    async def _enqueue(self, urls: list[str], depth: int, robots: RobotsCache, *, check_scope: bool = True) -> None:
        """Queue URLs that are in scope, allowed by robots.txt and pass the SSRF guard; log the rest."""
        candidates = dedupe(urls)
        known = await self.frontier.known(self.job_id, candidates)
        accepted: list[str] = []
        for url in candidates:
            if url in known:
                continue
            try:
                self.policy.check_url(url)
            except BlockedURL as exc:
                # Logged even when out of scope: a page pointing the crawler at internal addresses is news.
                if await self.frontier.add_skipped(self.job_id, url, depth, f"blocked: {exc.message}"):
                    await self.note(f"blocked {url}: {exc.message}")
                continue
            if check_scope and not self.scope.allows(url):
                continue  # out of scope is normal (external links): not worth a log line
            if self.request.respect_robots and not await robots.allowed(url):
                if await self.frontier.add_skipped(self.job_id, url, depth, "disallowed by robots.txt"):
                    await self.note(f"skipped {url}: disallowed by robots.txt")
                continue
            accepted.append(url)
        await self.frontier.add(self.job_id, accepted, depth, max_pages=self.request.max_pages)

    async def _crawl(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        workers = [asyncio.create_task(self._work(fetcher, robots), name=f"crawl-{i}") for i in range(FETCHERS)]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        while True:
            await self.reporter.raise_if_cancelled()
            if not await self._still_running():
                return
            claimed = await self.frontier.claim(self.job_id, self.worker)
            if claimed is None:
                if self._busy == 0:
                    return
                await asyncio.sleep(0.1)  # another fetcher may still add links
                continue
            self._busy += 1
            try:
                await self._process(fetcher, robots, *claimed)
            finally:
                self._busy -= 1
            await self._flush_notes()
            await self._report()

    async def _process(self, fetcher: Fetcher, robots: RobotsCache, url: str, depth: int) -> None:
        self.counters.current_url = url
        stored = self._fingerprints.get(url)
        # Conditional GET only where the page's links are not needed to find other pages.
        conditional = stored is not None and (not self.follow_links or depth >= self.request.max_depth)
        try:
            result = await self._fetch(fetcher, url, stored if conditional else None)
        except BlockedURL as exc:
            await self.frontier.finish(self.job_id, url, "skipped", error=f"blocked: {exc.message}")
            await self.note(f"blocked {url}: {exc.message}")
            return
        except FetchError as exc:
            await self.frontier.finish(self.job_id, url, "failed", error=str(exc))
            await self.note(f"failed {url}: {exc}")
            return
        if result.not_modified and stored is not None:
            self.counters.unchanged += 1
            await self.frontier.finish(self.job_id, url, "done", page_id=int(stored["id"]))
            return
        final = canonicalize(result.final_url)
        if final != url and not self.scope.allows(final) and url != self.seed:
            await self.frontier.finish(self.job_id, url, "skipped", error=f"redirected out of scope to {final}")
            return
        page_id = await self._store(url, result, depth, robots)
        await self.frontier.finish(self.job_id, url, "done" if page_id else "skipped", page_id=page_id,
                                   error=None if page_id else "no content")

    @staticmethod
    async def _fetch(fetcher: Fetcher, url: str, stored: dict[str, Any] | None) -> FetchResult:
        etag = stored["etag"] if stored else None
        last_modified = stored["last_modified"] if stored else None
        try:
            return await fetcher.get(url, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            # Canonical URLs drop the trailing slash; a server that only answers `/dir/` gets it back.
            path = urlsplit(url).path
            if str(exc) != "HTTP 404" or path.endswith("/") or "." in path.rsplit("/", 1)[-1]:
                raise
            parts = urlsplit(url)
            return await fetcher.get(parts._replace(path=path + "/").geturl(), etag=etag,
                                     last_modified=last_modified)

    async def _store(self, url: str, result: FetchResult, depth: int, robots: RobotsCache) -> int | None:
        if is_llms_full(url) and not result.is_html:
            return await self._store_sections(url, result)
        made = await self.maker.make(url, result)
        if made is None:
            return None
        if self.follow_links and depth < self.request.max_depth and made.links:
            links = [link for href in made.links if (link := resolve_link(result.final_url, href))]
            await self._enqueue(links, depth + 1, robots)
        if not made.markdown.strip():
            return None
        await self.reporter.raise_if_cancelled()  # nothing is written once a stop was requested
        indexed = await self.pipeline.index_pooled(
            self.source_id, url=canonicalize(result.final_url), markdown=made.markdown, title=made.title,
            etag=result.etag, last_modified=result.last_modified,
            extract_code=self.request.extract_code_examples, metadata={"depth": depth, "rendered": made.rendered},
            skip_if_unchanged=self._stored_before(canonicalize(result.final_url)))
        self._count(indexed.chunk_count, indexed.code_example_count, indexed.unchanged)
        return indexed.page_id

    async def _store_sections(self, url: str, result: FetchResult) -> int | None:
        sections = split_sections(result.text, url)
        first: int | None = None
        for section in sections:
            await self.reporter.raise_if_cancelled()
            indexed = await self.pipeline.index_pooled(
                self.source_id, url=section.url, markdown=section.markdown, title=section.title,
                etag=result.etag, last_modified=result.last_modified,
                extract_code=self.request.extract_code_examples, section_order=section.order,
                metadata={"section": section.title}, skip_if_unchanged=self._stored_before(section.url))
            self._count(indexed.chunk_count, indexed.code_example_count, indexed.unchanged)
            first = first or indexed.page_id
        removed = await self.frontier.delete_stale_sections(self.source_id, url, [s.url for s in sections])
        if removed:
            self._note_later(f"{removed} section(s) no longer in {url} deleted")
        self._note_later(f"{url}: {len(sections)} section(s)")
        return first

    def _stored_before(self, url: str) -> bool:
        # The unchanged check reads the source's fingerprints: only worth it for pages stored before.
        return url in self._fingerprints

    def _count(self, chunks: int, code_examples: int, unchanged: bool) -> None:
        self.counters.chunks += chunks
        self.counters.code_examples += code_examples
        self.counters.unchanged += int(unchanged)

    async def _finish(self) -> dict[str, Any]:
        counts = await self.frontier.counts(self.job_id)
        done = counts.get("done", 0)
        if done == 0:
            rows = [r for r in await self.frontier.job_rows(self.job_id) if r["error"]]
            reason = f"{rows[0]['url']}: {rows[0]['error']}" if rows else "no page had any content"
            raise CrawlFailed(f"no page could be crawled ({reason})")
        deleted = await self.frontier.delete_vanished_pages(self.source_id, self.job_id)
        if deleted:
            await self.note(f"{len(deleted)} page(s) no longer on the site deleted")
        total = counts["total"] - counts.get("skipped", 0)
        chunks = await self._chunks()
        summary = (f"crawled {done} page(s), {counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped, "
                   f"{self.counters.unchanged} unchanged, {chunks} chunks")
        await self.reporter.update(status="finishing", total_pages=total, processed_pages=total,
                                   chunks_stored=chunks, current_url="", log=summary)
        return {"totalPages": total, "processedPages": total, "chunksStored": chunks,
                "pagesFailed": counts.get("failed", 0), "pagesSkipped": counts.get("skipped", 0),
                "pagesUnchanged": self.counters.unchanged, "pagesDeleted": len(deleted), "currentUrl": ""}


__all__ = ["HELPER_TASK", "CrawlFailed", "CrawlJob", "JobCancelled", "crawling_here"]
