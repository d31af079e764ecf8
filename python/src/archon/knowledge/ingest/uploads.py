"""Document uploads: accept files into a durable job, then convert and index them in the worker."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archon.errors import ArchonError, Invalid, UnsupportedType
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.service import JobService
from archon.knowledge.ingest.convert import ConversionLimits, convert_document
from archon.knowledge.ingest.formats import detect_format, sanitize_filename
from archon.knowledge.ingest.pipeline import PagePipeline
from archon.knowledge.ingest.upload_repository import NewFile, StoredFile, UploadRepository
from archon.knowledge.service import KnowledgeService, new_file_source_id, validate_knowledge_type, validate_tags
from archon.observability.metrics import DOCUMENTS_UPLOADED

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

UPLOAD_TASK = "ingest_upload"
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def document_title(markdown: str, metadata_title: str = "") -> str:
    """The document's own title: its metadata title, else its first level-1 heading."""
    if metadata_title.strip():
        return " ".join(metadata_title.split())
    match = _H1.search(markdown[:20000])
    return " ".join(match.group(1).split()) if match else ""


@dataclass(frozen=True)
class IncomingFile:
    filename: str | None
    data: bytes
    content_type: str = "application/octet-stream"


class UploadService:
    """Validates uploads, queues them as one job, and (in the worker) converts and indexes each file."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.repository = UploadRepository(runtime.db)
        self.jobs = JobService(runtime.db)

    def check(self, files: list[IncomingFile]) -> list[NewFile]:
        """Sanitised names and detected formats; 415 for an unsupported file, 422 for empty ones."""
        if not files:
            raise Invalid("at least one file is required", detail=[{"field": "file", "message": "missing"}])
        if len(files) > self.settings.upload_max_files:
            raise Invalid(f"at most {self.settings.upload_max_files} files per upload",
                          detail=[{"field": "file", "message": f"got {len(files)} files"}])
        accepted: list[NewFile] = []
        for incoming in files:
            name = sanitize_filename(incoming.filename)
            if not incoming.data:
                raise Invalid(f"{name} is empty", detail=[{"field": "file", "message": f"{name}: 0 bytes"}])
            fmt = detect_format(name, incoming.data[:8192])
            if fmt is None:
                raise UnsupportedType(
                    f"{name}: unsupported file type; upload PDF, DOCX, Markdown, plain text, HTML or "
                    "reStructuredText", detail=[{"field": "file", "message": name}])
            accepted.append(NewFile(new_file_source_id(), name, fmt, incoming.content_type or "", incoming.data))
        return accepted

    async def upload(self, files: list[IncomingFile], *, knowledge_type: str = "technical",
                     tags: list[str] | None = None, extract_code_examples: bool = True) -> str:
        """Store the files with a queued job and return its progressId; processing happens in the worker."""
        validate_knowledge_type(knowledge_type)
        clean_tags = validate_tags(tags or [])
        accepted = self.check(files)
        job_id = await self.repository.create(accepted, knowledge_type=knowledge_type, tags=clean_tags,
                                              extract_code_examples=extract_code_examples)
        queue_job_id = await self.runtime.queue.defer(UPLOAD_TASK, job_id=job_id)
        await self.jobs.attach_queue_job(job_id, queue_job_id)
        DOCUMENTS_UPLOADED.inc(len(accepted))
        return job_id

    async def process(self, job_id: str, reporter: ProgressReporter) -> dict[str, Any]:
        """The job body: convert and index every pending file; resumes after a restart."""
        job = await self.jobs.get(job_id)
        described: list[dict[str, Any]] = job.params.get("files", [])
        extract_code = bool(job.params.get("extract_code_examples", True))
        stored = await self.repository.files(job_id)
        knowledge = KnowledgeService(self.runtime)
        pipeline = PagePipeline(self.runtime)
        limits = ConversionLimits(memory_mb=self.settings.convert_memory_mb,
                                  cpu_seconds=self.settings.convert_timeout_seconds,
                                  wall_seconds=self.settings.convert_timeout_seconds * 1.5)
        total = len(stored)
        errors: list[str] = []
        await reporter.update(status="processing", total_pages=total, processed_pages=0, percentage=1,
                              log=f"processing {total} file(s)")
        try:
            chunks_stored = await self._process_files(described, stored, reporter, knowledge, pipeline, limits,
                                                      extract_code, errors)
        except JobCancelled:
            # What was stored stays; files not finished are marked so the dashboard does not show them as busy.
            current = {f.id: f.status for f in await self.repository.files(job_id)}
            for meta, row in zip(described, stored, strict=True):
                if current.get(row.id) == "pending":
                    await knowledge.set_status(meta["source_id"], "cancelled")
            raise
        if errors and len(errors) == total:
            raise ArchonError(errors[0] if total == 1 else f"all {total} files failed: {'; '.join(errors)[:1500]}")
        return {"chunksStored": chunks_stored, "processedPages": total - len(errors), "failedFiles": len(errors)}

    async def _process_files(self, described: list[dict[str, Any]], stored: list[StoredFile],
                             reporter: ProgressReporter, knowledge: KnowledgeService, pipeline: PagePipeline,
                             limits: ConversionLimits, extract_code: bool, errors: list[str]) -> int:
        total = len(stored)
        chunks_stored = 0
        for index, (meta, row) in enumerate(zip(described, stored, strict=True)):
            share = 100.0 / total
            base = index * share
            filename, source_id = meta["filename"], meta["source_id"]
            if row.status != "pending":
                continue
            await reporter.raise_if_cancelled()
            await knowledge.set_status(source_id, "processing")
            await reporter.update(status="converting", current_url=filename, percentage=base + share * 0.05,
                                  log=f"converting {filename}")
            try:
                converted = await convert_document(await self.repository.data(row.id), meta["format"],
                                                   filename=filename, limits=limits, cancelled=reporter.cancelled)

                async def embedded(done: int, count: int, base: float = base, share: float = share) -> None:
                    await reporter.raise_if_cancelled()
                    await reporter.update(status="embedding", percentage=base + share * (0.3 + 0.65 * done / count))

                await reporter.update(status="chunking", percentage=base + share * 0.3,
                                      log=f"converted {filename}: {len(converted.markdown)} characters")
                if not converted.markdown.strip():
                    raise Invalid(f"{filename}: no text could be extracted (a scanned PDF needs OCR first)")
                title = document_title(converted.markdown, converted.title) or filename
                result = await pipeline.index_document(
                    source_id, url=f"file://{filename}", markdown=converted.markdown,
                    title=title, extract_code=extract_code, progress=embedded,
                    metadata={"filename": filename, "format": meta["format"]})
                if title != filename:
                    await knowledge.update_source(source_id, title=title[:500])
            except ArchonError as exc:
                if exc.error == "cancelled" or getattr(exc, "retryable", False):
                    raise  # a provider outage is waited out by the job runner, not recorded against the file
                errors.append(exc.message)
                await self.repository.finish(row.id, "failed", exc.message)
                await knowledge.set_status(source_id, "error", error=exc.message)
                await reporter.update(log=f"failed: {exc.message}", percentage=base + share)
                continue
            chunks_stored += result.chunk_count
            await self.repository.finish(row.id, "done")
            await knowledge.set_status(source_id, "ready", last_indexed_at="now")
            await reporter.update(status="stored", processed_pages=index + 1, chunks_stored=chunks_stored,
                                  percentage=base + share,
                                  log=f"indexed {filename}: {result.chunk_count} chunks, "
                                      f"{result.code_example_count} code examples")
        return chunks_stored
