"""Crawling as a service: start, refresh and run crawl jobs; schedule refreshes."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archon.errors import ArchonError, Conflict, Invalid
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.runner import run_job
from archon.jobs.service import JobService
from archon.knowledge.crawling.frontier import sources_due_for_refresh
from archon.knowledge.crawling.job import CrawlJob, crawling_here
from archon.knowledge.crawling.schemas import CrawlRequest, CrawlStarted
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy
from archon.knowledge.crawling.urls import canonicalize
from archon.knowledge.service import KnowledgeService, source_id_for_url
from archon.knowledge.staging import StagingRepository
from archon.settings.crawl_options import crawl_tuning

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

CRAWL_TASK = "crawl"
JOB_KINDS = ("crawl", "refresh")


def default_title(url: str) -> str:
    """`docs.example.com/guide` for a seed URL: a readable name until the user renames it."""
    parts = urlsplit(url)
    return (parts.netloc + parts.path.rstrip("/"))[:200] or url[:200]


class CrawlService:
    """Entry point for REST, CLI and jobs: every crawl capability exists once, here."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jobs = JobService(runtime.db)
        self.knowledge = KnowledgeService(runtime)
        self.policy = EgressPolicy(runtime.settings.crawl_allowed_hosts)

    async def _check_seed(self, url: str) -> None:
        try:
            await self.policy.check_url_resolved(url)
        except BlockedURL as exc:
            raise Invalid(f"url: {exc.message}", detail=[{"field": "url", "message": exc.message}]) from None

    async def _ensure_idle(self, source_id: str) -> None:
        for job in await self.jobs.list_active():
            if job.source_id == source_id and job.kind in JOB_KINDS:
                raise Conflict(f"a crawl of this source is already running (progressId {job.id})",
                               detail={"progressId": job.id, "sourceId": source_id})

    async def start_crawl(self, request: CrawlRequest) -> CrawlStarted:
        """Validate the seed (a blocked URL is refused at once), create/update the source, queue the job."""
        if request.crawl_type in ("folder", "git"):
            from archon.knowledge.local.service import LocalSourceService

            return await LocalSourceService(self.runtime).start(request)
        await self._check_seed(request.url)
        source_id = source_id_for_url(canonicalize(request.url))
        await self._ensure_idle(source_id)
        exists = True
        try:
            await self.knowledge.get_source(source_id)
        except ArchonError:
            exists = False
        await self.knowledge.create_source(
            source_id=source_id, source_type="url", url=request.url, title="" if exists else default_title(request.url),
            knowledge_type=request.knowledge_type, tags=request.tags, config=request.model_dump(),
            update_frequency_days=request.update_frequency_days)
        return await self._launch("crawl", source_id, request)

    async def refresh(self, source_id: str) -> CrawlStarted:
        """Re-crawl a web source with its stored options; unchanged pages are not re-embedded."""
        source = await self.knowledge.get_source(source_id)
        if source.source_type in ("folder", "git"):
            from archon.knowledge.local.service import LocalSourceService

            return await LocalSourceService(self.runtime).refresh(source_id)
        if source.source_type != "url" or not source.url:
            raise Invalid("only crawled (url) sources can be refreshed",
                          detail=[{"field": "source_id", "message": f"source type is {source.source_type}"}])
        options: dict[str, Any] = {k: v for k, v in source.config.items() if k in CrawlRequest.model_fields}
        options.update(url=source.url, knowledge_type=source.knowledge_type, tags=source.tags,
                       update_frequency_days=source.update_frequency_days)
        request = CrawlRequest.model_validate(options)
        await self._check_seed(request.url)
        await self._ensure_idle(source_id)
        return await self._launch("refresh", source_id, request)

    async def _launch(self, kind: str, source_id: str, request: CrawlRequest) -> CrawlStarted:
        job_id = await self.jobs.create(kind, request.model_dump(), source_id)
        try:
            await self.knowledge.set_status(source_id, "pending")
            queue_job = await self.runtime.queue.defer(CRAWL_TASK, job_id=job_id)
            await self.jobs.attach_queue_job(job_id, queue_job)
        except BaseException:
            await self.jobs.fail(job_id, "could not queue the crawl job")
            raise
        return CrawlStarted(progressId=job_id, sourceId=source_id)

    async def run(self, job_id: str) -> None:
        """Run (or resume) crawl job `job_id`: the body of the queue task."""

        async def body(reporter: ProgressReporter) -> dict[str, Any]:
            job = await self.jobs.get(job_id)
            assert job.source_id is not None
            request = CrawlRequest.model_validate(job.params)
            await self.knowledge.set_status(job.source_id, "processing")
            try:
                final = await CrawlJob(self.runtime, job_id, job.source_id, request, reporter,
                                       tuning=await crawl_tuning(self.runtime)).run()
            except JobCancelled:
                await self.knowledge.set_status(job.source_id, "cancelled")
                raise
            except asyncio.CancelledError:
                raise  # worker shutdown: the job is retried and resumes from the frontier
            except ArchonError as exc:
                await self.knowledge.set_status(job.source_id, "error", error=exc.message)
                raise
            except Exception as exc:
                await self.knowledge.set_status(job.source_id, "error", error=f"{type(exc).__name__}: {exc}"[:500])
                raise
            await self.knowledge.set_status(job.source_id, "ready", last_indexed_at="now")
            return final

        await run_job(self.runtime, job_id, body)
        ended = await self.jobs.find(job_id)
        if ended is not None and ended.finished and ended.status != "completed":
            # A failed or cancelled refresh leaves the source on its previous run: drop what it staged.
            await StagingRepository(self.runtime.db).discard(job_id)

    async def join(self, job_id: str) -> None:
        """Help run crawl `job_id` (queued by the crawl itself): fetch frontier pages until none are left.

        Several workers share one crawl this way; the job itself discovers, reports and finishes.
        """
        job = await self.jobs.find(job_id)
        if job is None or job.status != "running" or job.kind not in JOB_KINDS or job.source_id is None:
            return
        if crawling_here(job_id):
            return  # this process already works on it (a helper task picked up by the crawl's own worker)
        request = CrawlRequest.model_validate(job.params)
        try:
            await CrawlJob(self.runtime, job_id, job.source_id, request, self.jobs.reporter(job_id), helper=True,
                           tuning=await crawl_tuning(self.runtime)).run()
        except JobCancelled:
            return  # the job itself records the cancellation
        except asyncio.CancelledError:
            raise
        except Exception:
            # The job goes on without this helper; pages it had claimed are released when its lock goes.
            log.exception("helper on crawl %s failed", job_id)

    async def refresh_due_sources(self) -> list[str]:
        """Start a refresh for every web source whose update_frequency_days has elapsed; return progressIds."""
        started: list[str] = []
        for source_id in await sources_due_for_refresh(self.runtime.db):
            try:
                started.append((await self.refresh(source_id)).progressId)
            except ArchonError as exc:
                log.warning("scheduled refresh of %s not started: %s", source_id, exc.message)
        return started
