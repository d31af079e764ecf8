"""One crawl job: discover, then walk the frontier with a few fetchers until it is empty.

Everything a restarted job needs is in Postgres: the frontier rows (done rows keep their page id),
the discovery strategy (in the job's progress) and the pages themselves. A resumed job releases
its old claims and carries on; finished pages are neither fetched nor embedded again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archon.errors import ArchonError
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.service import JobService
from archon.knowledge.crawling.discovery import Discoverer, is_llms_full
from archon.knowledge.crawling.fetcher import Fetcher, FetchError, FetchResult
from archon.knowledge.crawling.llms import split_sections
from archon.knowledge.crawling.pages import PageMaker
from archon.knowledge.crawling.pooled import PooledPipeline
from archon.knowledge.crawling.robots import RobotsCache
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy
from archon.knowledge.crawling.urls import Scope, canonicalize, dedupe, host_of, resolve_link
from archon.knowledge.crawling.walk import ACTIVE, HELPER_TASK, FrontierWalk, crawling_here
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.staging import StagingRepository
from archon.settings.crawl_options import CrawlTuning

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)


class CrawlFailed(ArchonError):
    """The crawl could not produce anything (seed unreachable, empty sitemap...)."""

    status = 502
    error = "crawl_failed"


def _www_variant(host: str) -> str:
    return host[4:] if host.startswith("www.") else f"www.{host}"


class CrawlJob(FrontierWalk):
    """Runs the crawl of `job_id` into `source_id` with the request's options."""

    def __init__(self, runtime: Runtime, job_id: str, source_id: str, request: CrawlRequest,
                 reporter: ProgressReporter, *, helper: bool = False, tuning: CrawlTuning | None = None) -> None:
        super().__init__(runtime, job_id, reporter, helper=helper)
        self.source_id = source_id
        # Runtime crawl settings read at job start; the request's own render/robots choices win.
        self.tuning = tuning or CrawlTuning()
        self.fetchers = self.tuning.concurrency
        self.request = request
        self.render = request.render or self.tuning.render
        self.respect_robots = self.tuning.respect_robots if request.respect_robots is None else request.respect_robots
        self.pipeline = PooledPipeline(runtime)
        self.policy = EgressPolicy(runtime.settings.crawl_allowed_hosts)
        self.seed = canonicalize(request.url)
        self.scope = Scope.for_seed(self.seed, same_path_prefix=request.same_path_prefix,
                                    include=request.include_patterns, exclude=request.exclude_patterns,
                                    extra_hosts=[_www_variant(host_of(self.seed))])
        self.follow_links = False
        self._fingerprints: dict[str, dict[str, Any]] = {}
        self.staging = StagingRepository(runtime.db)
        # Run versioning (R6): a crawl of a source that already has pages stages its changed pages and swaps
        # them in when it completes, so search sees the previous run until then. Decided once per job (kept
        # in its progress as `staged`): a first crawl shows its pages as they arrive.
        self.staged = False

    # --- the job ----------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        """Crawl until the frontier is exhausted; returns the final progress fields ({} for a helper)."""
        # The liveness lock tells other workers this process's claims are live (released when it dies).
        liveness = await self.frontier.hold_liveness(self.worker)
        if liveness is None:
            raise RuntimeError(f"worker id {self.worker} is already in use")
        ACTIVE.add(self.job_id)
        try:
            async with Fetcher(self.policy, delay=self.tuning.per_host_delay,
                               timeout=self.tuning.page_timeout) as fetcher:
                robots = RobotsCache(fetcher)
                self.maker = PageMaker(self.runtime, fetcher, self.policy, self._note_later,
                                       render=self.render)
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
            ACTIVE.discard(self.job_id)
            await liveness.close()

    async def _join(self) -> None:
        """A helper's start: the crawl's strategy comes from the job; discovery was done by the job itself."""
        job = await JobService(self.runtime.db).get(self.job_id)
        self._fingerprints = await KnowledgeRepository(self.runtime.db).page_fingerprints(self.source_id)
        self.strategy = str(job.progress.get("strategy", "recursive"))
        self.follow_links = bool(job.progress.get("followLinks", False))
        self._set_staged(bool(job.progress.get("staged", False)))
        log.info("crawl %s: %s joined", self.job_id[:8], self.worker)

    def _set_staged(self, staged: bool) -> None:
        self.staged = staged
        self.pipeline.stage_for = self.job_id if staged else None

    async def _prepare(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        job = await JobService(self.runtime.db).get(self.job_id)
        self._fingerprints = await KnowledgeRepository(self.runtime.db).page_fingerprints(self.source_id)
        if not await self.frontier.is_empty(self.job_id):
            self.strategy = str(job.progress.get("strategy", "recursive"))
            self.follow_links = bool(job.progress.get("followLinks", False))
            self._set_staged(bool(job.progress.get("staged", False)))  # its staged pages are still there
            released = await self.frontier.release_claims(self.job_id)
            self.counters.chunks = await self.frontier.chunks_stored(self.job_id)
            await self.note(f"resuming ({released} interrupted page(s) will be fetched again)")
            return
        await self.staging.discard_finished(self.source_id)  # leftovers of a refresh whose cleanup never ran
        self._set_staged(bool(self._fingerprints))
        await self.reporter.update(status="discovering", percentage=1, current_url=self.request.url,
                                   staged=self.staged)
        discoverer = Discoverer(fetcher, robots, self._note_later, respect_robots=self.respect_robots)
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
            if self.respect_robots and not await robots.allowed(url):
                if await self.frontier.add_skipped(self.job_id, url, depth, "disallowed by robots.txt"):
                    await self.note(f"skipped {url}: disallowed by robots.txt")
                continue
            accepted.append(url)
        await self.frontier.add(self.job_id, accepted, depth, max_pages=self.request.max_pages)

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
        stored_any, page_id = await self._store(url, result, depth, robots)
        await self.frontier.finish(self.job_id, url, "done" if stored_any else "skipped", page_id=page_id,
                                   error=None if stored_any else "no content")

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

    async def _store(self, url: str, result: FetchResult, depth: int,
                     robots: RobotsCache) -> tuple[bool, int | None]:
        """(stored anything, the live page id) for a fetched URL; a staged new page has no live id yet."""
        if is_llms_full(url) and not result.is_html:
            return await self._store_sections(url, result)
        made = await self.maker.make(url, result)
        if made is None:
            return False, None
        if self.follow_links and depth < self.request.max_depth and made.links:
            links = [link for href in made.links if (link := resolve_link(result.final_url, href))]
            await self._enqueue(links, depth + 1, robots)
        if not made.markdown.strip():
            return False, None
        await self.reporter.raise_if_cancelled()  # nothing is written once a stop was requested
        indexed = await self.pipeline.index_pooled(
            self.source_id, url=canonicalize(result.final_url), markdown=made.markdown, title=made.title,
            etag=result.etag, last_modified=result.last_modified,
            extract_code=self.request.extract_code_examples, metadata={"depth": depth, "rendered": made.rendered},
            skip_if_unchanged=self._stored_before(canonicalize(result.final_url)))
        self._count(indexed.chunk_count, indexed.code_example_count, indexed.unchanged)
        return True, indexed.page_id

    async def _store_sections(self, url: str, result: FetchResult) -> tuple[bool, int | None]:
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
        keep = [s.url for s in sections]
        if self.staged:
            removed = await self.staging.stage_stale_sections(self.job_id, self.source_id, url, keep)
        else:
            removed = await self.frontier.delete_stale_sections(self.source_id, url, keep)
        if removed:
            self._note_later(f"{removed} section(s) no longer in {url} deleted")
        self._note_later(f"{url}: {len(sections)} section(s)")
        return bool(sections), first

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
        if self.staged:
            deleted = await self._swap()
        else:
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

    async def _swap(self) -> list[str]:
        """Make the refresh visible: staged pages go live and vanished pages go, in one transaction."""
        # Asked of the database, not the reporter's half-second cache: a stop acknowledged before the swap
        # always leaves the previous run.
        if await JobService(self.runtime.db).is_cancel_requested(self.job_id):
            raise JobCancelled("the job was cancelled")
        swapped = await self.staging.swap(self.job_id, self.source_id)
        await self.note(f"{len(swapped.written)} changed or new page(s) made visible")
        from archon.settings.active import backfill_page

        for model in swapped.models:  # the active model changed during the refresh: add its vectors
            for page_id in swapped.written:
                await backfill_page(self.runtime, page_id, model)
        return swapped.deleted


__all__ = ["HELPER_TASK", "CrawlFailed", "CrawlJob", "JobCancelled", "crawling_here"]
