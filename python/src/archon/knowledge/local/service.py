"""Folder and git sources: start, refresh and run their index jobs (same jobs/progress as web crawls)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archon.errors import ArchonError, Conflict, Invalid
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.runner import run_job
from archon.jobs.service import JobService
from archon.knowledge.crawling.schemas import CrawlRequest, CrawlStarted
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy
from archon.knowledge.ingest.convert import ConversionLimits
from archon.knowledge.local import git
from archon.knowledge.local.documents import read_document
from archon.knowledge.local.files import MAX_FILE_BYTES, resolve_under_roots, walk
from archon.knowledge.local.repository import LocalSourcesRepository
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.service import KnowledgeService

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

LOCAL_TASK = "index_local"
LOCAL_TYPES = ("folder", "git")
# README, docs folders and documented source files; override with include_patterns (gitignore globs).
DEFAULT_GIT_GLOBS = ["README*", "readme*", "docs/**", "doc/**", "*.md", "*.rst", "*.py", "*.ts", "*.js", "*.go",
                     "*.rs", "*.java"]


def local_source_id(kind: str, location: str) -> str:
    """`folder_`/`git_` + 16 hex of sha256(path or URL): the same folder always maps to one source."""
    return f"{kind}_" + hashlib.sha256(location.encode("utf-8")).hexdigest()[:16]


class LocalSourceService:
    """Entry point for REST (crawl_type folder|git), the CLI and the index job."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.jobs = JobService(runtime.db)
        self.knowledge = KnowledgeService(runtime)

    # --- locations -----------------------------------------------------------------
    async def _git_location(self, url: str) -> tuple[str, str, tuple[str, ...]]:
        """(clone URL, display URL, git DNS pin) for an https URL (SSRF-checked) or an allowed server-side path."""
        if url.startswith("https://"):
            policy = EgressPolicy(self.settings.crawl_allowed_hosts)
            try:
                target = policy.check_url(url)
                addresses = await policy.resolve(target.host, target.port)
            except BlockedURL as exc:
                raise Invalid(f"url: {exc.message}", detail=[{"field": "url", "message": exc.message}]) from None
            pin = git.pin_config(target.host, target.port, [str(ip) for ip in addresses])
            return url, url.rstrip("/"), pin
        if url.startswith(("/", "file://")):
            real = resolve_under_roots(url, self.settings.local_source_roots)
            return real.as_uri(), str(real), ()
        raise Invalid("url: a git source is an https:// URL or a server-side path under ARCHON_LOCAL_SOURCE_ROOTS",
                      detail=[{"field": "url", "message": "only https and local paths are allowed"}])

    def _folder(self, url: str, trusted: bool) -> Path:
        real = (Path(url.removeprefix("file://")).expanduser().resolve() if trusted
                else resolve_under_roots(url, self.settings.local_source_roots))
        if not real.is_dir():
            raise Invalid(f"url: {real} is not a folder", detail=[{"field": "url", "message": "not a folder"}])
        return real

    def checkout_dir(self, source_id: str) -> Path:
        return self.settings.data_dir / "git" / source_id

    # --- start / refresh -----------------------------------------------------------
    async def start(self, request: CrawlRequest, *, trusted_path: bool = False) -> CrawlStarted:
        """Create or update the folder/git source and queue its index job; `trusted_path` (the local CLI)
        skips the ARCHON_LOCAL_SOURCE_ROOTS check for folders."""
        kind = request.crawl_type
        if kind == "folder":
            real = await asyncio.to_thread(self._folder, request.url, trusted_path)
            location, title = str(real), real.name or str(real)
        elif kind == "git":
            _, location, _ = await self._git_location(request.url)
            title = location.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or location
        else:
            raise Invalid("crawl_type must be folder or git here", detail=[{"field": "crawl_type", "message": kind}])
        source_id = local_source_id(kind, location)
        await self._ensure_idle(source_id)
        request = request.model_copy(update={"url": location})
        await self.knowledge.create_source(
            source_id=source_id, source_type=kind, url=location, title=title, knowledge_type=request.knowledge_type,
            tags=request.tags, config={**request.model_dump(), "trusted_path": trusted_path},
            update_frequency_days=request.update_frequency_days)
        return await self._launch("crawl", source_id, request)

    async def refresh(self, source_id: str) -> CrawlStarted:
        """Re-index with the stored options: only files whose content changed are re-embedded."""
        source = await self.knowledge.get_source(source_id)
        options = {k: v for k, v in source.config.items() if k in CrawlRequest.model_fields}
        options.update(url=source.url, knowledge_type=source.knowledge_type, tags=source.tags,
                       update_frequency_days=source.update_frequency_days, crawl_type=source.source_type)
        request = CrawlRequest.model_validate(options)
        if source.source_type == "folder" and not source.config.get("trusted_path"):
            resolve_under_roots(request.url, self.settings.local_source_roots)  # the roots may have changed
        await self._ensure_idle(source_id)
        return await self._launch("refresh", source_id, request)

    async def _ensure_idle(self, source_id: str) -> None:
        for job in await self.jobs.list_active():
            if job.source_id == source_id:
                raise Conflict(f"an index job of this source is already running (progressId {job.id})",
                               detail={"progressId": job.id, "sourceId": source_id})

    async def _launch(self, kind: str, source_id: str, request: CrawlRequest) -> CrawlStarted:
        job_id = await self.jobs.create(kind, request.model_dump(), source_id)
        try:
            await self.knowledge.set_status(source_id, "pending")
            await self.jobs.attach_queue_job(job_id, await self.runtime.queue.defer(LOCAL_TASK, job_id=job_id))
        except BaseException:
            await self.jobs.fail(job_id, "could not queue the index job")
            raise
        return CrawlStarted(progressId=job_id, sourceId=source_id)

    async def refresh_due_sources(self) -> list[str]:
        """Start a refresh for every folder/git source whose update_frequency_days has elapsed."""
        started: list[str] = []
        for source_id in await LocalSourcesRepository(self.runtime.db).due_for_refresh():
            try:
                started.append((await self.refresh(source_id)).progressId)
            except ArchonError as exc:
                log.warning("scheduled refresh of %s not started: %s", source_id, exc.message)
        return started

    # --- the job -------------------------------------------------------------------
    async def run(self, job_id: str) -> None:
        """Run index job `job_id` (the queue task body)."""

        async def body(reporter: ProgressReporter) -> dict[str, Any]:
            job = await self.jobs.get(job_id)
            assert job.source_id is not None
            request = CrawlRequest.model_validate(job.params)
            await self.knowledge.set_status(job.source_id, "processing")
            try:
                final = await self._index(job.source_id, request, reporter)
            except JobCancelled:
                await self.knowledge.set_status(job.source_id, "cancelled")
                raise
            except asyncio.CancelledError:
                raise
            except ArchonError as exc:
                await self.knowledge.set_status(job.source_id, "error", error=exc.message)
                raise
            await self.knowledge.set_status(job.source_id, "ready", last_indexed_at="now")
            return final

        await run_job(self.runtime, job_id, body)

    async def _index(self, source_id: str, request: CrawlRequest, reporter: ProgressReporter) -> dict[str, Any]:
        final: dict[str, Any] = {}
        include = request.include_patterns or None
        if request.crawl_type == "git":
            clone_url, display, pin = await self._git_location(request.url)
            await reporter.update(status="cloning", percentage=1, current_url=display, log=f"fetching {display}")
            root = self.checkout_dir(source_id)
            final["commit"] = await git.checkout(clone_url, root, config=pin)
            include = include or DEFAULT_GIT_GLOBS
            code_only = True
        else:
            root, display, code_only = Path(request.url), "", False
            if not await asyncio.to_thread(root.is_dir):
                # Never treat an unmounted or renamed folder as "every file was deleted".
                raise Invalid(f"url: the folder {root} no longer exists; its pages were kept",
                              detail=[{"field": "url", "message": "folder missing"}])
        exclude = request.exclude_patterns or None
        files = await asyncio.to_thread(lambda: list(walk(root, include=include, exclude=exclude)))
        if len(files) > request.max_pages:
            await reporter.update(log=f"{len(files)} files match; indexing the first {request.max_pages} "
                                      "(raise max_pages for more)")
            files = files[:request.max_pages]
        return {**final, **await self._index_files(source_id, root, files, display, request, reporter,
                                                   code_only=code_only)}

    async def _index_files(self, source_id: str, root: Path, files: list[Any], display: str, request: CrawlRequest,
                           reporter: ProgressReporter, *, code_only: bool) -> dict[str, Any]:
        from archon.knowledge.ingest.pipeline import PagePipeline

        pipeline = PagePipeline(self.runtime)
        repository = KnowledgeRepository(self.runtime.db)
        stored = await repository.page_fingerprints(source_id)
        limits = ConversionLimits(memory_mb=self.settings.convert_memory_mb,
                                  cpu_seconds=self.settings.convert_timeout_seconds,
                                  wall_seconds=self.settings.convert_timeout_seconds * 1.5)
        seen: set[str] = set()
        counts = {"pagesUpdated": 0, "pagesUnchanged": 0, "pagesFailed": 0, "pagesSkipped": 0}
        chunks = 0
        total = len(files)
        await reporter.update(status="indexing", total_pages=total, processed_pages=0, percentage=2,
                              log=f"{total} file(s) to check")
        for index, item in enumerate(files):
            await reporter.raise_if_cancelled()
            url = f"{display}/{item.relative}" if display else item.path.as_uri()
            seen.add(url)
            try:
                if item.path.stat().st_size > MAX_FILE_BYTES:
                    counts["pagesSkipped"] += 1
                    continue
                data = await asyncio.to_thread(item.path.read_bytes)
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                if url in stored and stored[url]["etag"] == digest:
                    counts["pagesUnchanged"] += 1
                    continue
                doc = await read_document(data, item.relative, limits=limits, cancelled=reporter.cancelled,
                                          source_code=code_only)
                if doc is None:
                    counts["pagesSkipped"] += 1
                    continue
                result = await pipeline.index_document(
                    source_id, url=url, markdown=doc.markdown, title=doc.title, etag=digest,
                    extract_code=request.extract_code_examples, section_order=index,
                    metadata={"path": item.relative, "format": doc.fmt})
                chunks += result.chunk_count
                counts["pagesUpdated"] += 1
                await reporter.update(log=f"indexed {item.relative}: {result.chunk_count} chunks")
            except ArchonError as exc:
                if exc.error == "cancelled":
                    raise
                counts["pagesFailed"] += 1
                await reporter.update(log=f"failed: {item.relative}: {exc.message}")
            finally:
                await reporter.update(processed_pages=index + 1, chunks_stored=chunks, current_url=url,
                                      percentage=2 + 96 * (index + 1) / max(total, 1))
        deleted = 0
        for url in stored:
            if url not in seen and await repository.delete_page(source_id, url):
                deleted += 1
        return {"chunksStored": chunks, "processedPages": total, "pagesDeleted": deleted, **counts}
