"""Knowledge packs: export sources to a portable archive and import one back as a job."""

from __future__ import annotations

import io
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from archon import __version__
from archon.errors import ArchonError, Conflict, Invalid
from archon.jobs.progress import ProgressReporter
from archon.jobs.runner import run_job
from archon.jobs.service import JobService
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.ingest.pipeline import PagePipeline
from archon.knowledge.models import ChunkInput, CodeExampleInput, EmbeddingModel, PageInput
from archon.knowledge.packs import archive
from archon.knowledge.packs.archive import PackContents, PackError, PackWriter
from archon.knowledge.packs.repository import PackRepository
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.service import SOURCE_TYPES, KnowledgeService, validate_knowledge_type, validate_tags

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

IMPORT_TASK = "import_pack"
OnConflict = Literal["replace", "keep"]
ON_CONFLICT = ("replace", "keep")
REPORT_EVERY = 0.25  # seconds between progress writes


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class PackService:
    """Export and import; REST, CLI and the import job are thin adapters over these methods."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.repository = PackRepository(runtime.db)
        self.knowledge = KnowledgeService(runtime)
        self.jobs = JobService(runtime.db)

    @property
    def max_bytes(self) -> int:
        return int(self.runtime.settings.pack_max_bytes)

    # --- export --------------------------------------------------------------------
    async def _export_model(self) -> EmbeddingModel:
        active = await EmbeddingModelRepository(self.runtime.db).active()
        return active if active is not None else await PagePipeline(self.runtime).model()

    async def export(self, source_ids: list[str]) -> bytes:
        """The pack of `source_ids` (vectors of the active model) as zip bytes; NotFound for an unknown id."""
        if not source_ids:
            raise Invalid("at least one source_id is required", detail=[{"field": "source_id", "message": "empty"}])
        model = await self._export_model()
        sources: list[dict[str, Any]] = []
        pages: list[dict[str, Any]] = []
        chunks: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        chunk_vectors: list[Any] = []
        code_vectors: list[Any] = []
        for source_id in dict.fromkeys(source_ids):
            view = await self.knowledge.get_source(source_id)
            sources.append({
                "source_id": view.source_id, "source_type": view.source_type, "url": view.url,
                "title": view.title, "summary": view.summary, "knowledge_type": view.knowledge_type,
                "tags": view.tags, "config": view.config, "update_frequency_days": view.update_frequency_days,
                "last_indexed_at": _iso(view.last_indexed_at),
            })
            page_index: dict[int, int] = {}
            for row in await self.repository.pages(source_id):
                page_index[int(row["id"])] = len(pages)
                pages.append({"source_id": source_id, **{k: row[k] for k in (
                    "url", "title", "markdown", "content_hash", "etag", "last_modified", "section_order",
                    "metadata")}})
            for target, vectors, rows, keys in (
                (chunks, chunk_vectors, await self.repository.chunks(source_id, model),
                 ("chunk_index", "content", "headings", "token_count", "metadata")),
                (codes, code_vectors, await self.repository.code_examples(source_id, model),
                 ("position", "language", "title", "summary", "code", "context")),
            ):
                for row in rows:
                    if row["vector"] is None:
                        raise Conflict(f"source {source_id!r} has content without vectors of the active model "
                                       f"{model.model}; export again once re-embedding has finished")
                    target.append({"page": page_index[int(row["page_id"])], **{k: row[k] for k in keys}})
                    vectors.append(row["vector"])
        buffer = io.BytesIO()
        writer = PackWriter(buffer)
        writer.write_jsonl(archive.SOURCES, sources)
        writer.write_jsonl(archive.PAGES, pages)
        writer.write_jsonl(archive.CHUNKS, chunks)
        writer.write_jsonl(archive.CODE_EXAMPLES, codes)
        dims = model.dimensions
        writer.write_vectors(archive.CHUNK_VECTORS, np.asarray(chunk_vectors, dtype="<f4").reshape(-1, dims))
        writer.write_vectors(archive.CODE_VECTORS, np.asarray(code_vectors, dtype="<f4").reshape(-1, dims))
        writer.finish({
            "format": archive.PACK_FORMAT, "pack_format_version": archive.PACK_FORMAT_VERSION,
            "schema_version": archive.SCHEMA_VERSION, "archon_version": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "embedding_model": {"provider": model.provider, "model": model.model, "dimensions": dims},
            "vector_layout": "little-endian float32, row-major, one row per line of the matching .jsonl",
            "counts": {"sources": len(sources), "pages": len(pages), "chunks": len(chunks),
                       "code_examples": len(codes)},
            "sources": [{"source_id": s["source_id"], "title": s["title"], "url": s["url"]} for s in sources],
        })
        return buffer.getvalue()

    # --- import --------------------------------------------------------------------
    def verify(self, data: bytes) -> PackContents:
        """Check a pack completely (size, members, checksums, rows) without touching the database."""
        if len(data) > self.max_bytes:
            raise PackError(f"invalid knowledge pack: {len(data)} bytes exceed ARCHON_PACK_MAX_BYTES "
                            f"({self.max_bytes})", detail=[{"field": "file", "message": "too large"}])
        pack = archive.read_pack(data, max_bytes=self.max_bytes)
        for source in pack.sources:
            try:
                if source.get("source_type") not in SOURCE_TYPES:
                    raise Invalid(f"source_type {source.get('source_type')!r} is unknown")
                validate_knowledge_type(str(source.get("knowledge_type")))
                validate_tags(list(source.get("tags") or []))
            except ArchonError as exc:
                raise PackError(f"invalid knowledge pack: source {source['source_id']!r}: {exc.message}",
                                detail=[{"field": "file", "message": exc.message}]) from None
        return pack

    async def start_import(self, data: bytes, *, filename: str = "pack.archon",
                           on_conflict: str = "replace") -> tuple[str, list[str]]:
        """Verify the pack, refuse `keep` conflicts (409), stage it and queue the import job."""
        if on_conflict not in ON_CONFLICT:
            raise Invalid("on_conflict must be replace or keep",
                          detail=[{"field": "on_conflict", "message": f"got {on_conflict[:40]!r}"}])
        pack = self.verify(data)
        source_ids = [s["source_id"] for s in pack.sources]
        existing = [s for s in source_ids if await self.repository.exists(s)]
        if existing and on_conflict == "keep":
            raise Conflict(f"knowledge item(s) {', '.join(existing)} already exist; import with "
                           "on_conflict=replace to replace them", detail={"sourceIds": existing})
        job_id = await self.jobs.create("import", {"source_ids": source_ids, "on_conflict": on_conflict,
                                                   "filename": filename[:200]})
        try:
            await self.repository.stage(job_id, data, filename[:200])
            await self.jobs.attach_queue_job(job_id, await self.runtime.queue.defer(IMPORT_TASK, job_id=job_id))
        except BaseException:
            await self.jobs.fail(job_id, "could not queue the import job")
            raise
        return job_id, source_ids

    async def run(self, job_id: str) -> None:
        """The import job (queue task body)."""

        async def body(reporter: ProgressReporter) -> dict[str, Any]:
            job = await self.jobs.get(job_id)
            data = await self.repository.staged(job_id)
            if data is None:
                raise PackError("invalid knowledge pack: the uploaded pack is no longer stored")
            result = await self.import_pack(self.verify(data), on_conflict=job.params.get("on_conflict", "replace"),
                                            reporter=reporter)
            await self.repository.drop_staged(job_id)
            return result

        await run_job(self.runtime, job_id, body)

    async def import_pack(self, pack: PackContents, *, on_conflict: str,
                          reporter: ProgressReporter) -> dict[str, Any]:
        """Write every source of a verified pack; each one appears atomically or not at all."""
        pipeline = PagePipeline(self.runtime)
        e = self.runtime.embedder
        wanted = pack.model
        reuse = (wanted["provider"], wanted["model"], wanted["dimensions"]) == (e.provider, e.model, e.dimensions)
        model = await pipeline.model(wanted["dimensions"] if reuse else None)
        await reporter.update(status="importing", total_pages=len(pack.pages), processed_pages=0, percentage=1,
                              log=f"importing {len(pack.sources)} source(s), {len(pack.pages)} page(s); vectors "
                                  + ("reused" if reuse else f"re-embedded with {e.model}"))
        chunks_by_page: dict[int, list[int]] = {}
        for i, c in enumerate(pack.chunks):
            chunks_by_page.setdefault(int(c["page"]), []).append(i)
        codes_by_page: dict[int, list[int]] = {}
        for i, x in enumerate(pack.code_examples):
            codes_by_page.setdefault(int(x["page"]), []).append(i)
        for indices in chunks_by_page.values():  # vectors follow their chunk when the order is restored
            indices.sort(key=lambda i: int(pack.chunks[i].get("chunk_index") or 0))
        repo = KnowledgeRepository(self.runtime.db)
        # Staging ids carry the job id: a retry after a killed worker first removes what the dead attempt left.
        prefix = f"import_{reporter.job_id.replace('-', '')[:12]}_"
        await self.repository.discard_prefix(prefix)
        done = stored = 0
        reported_at = 0.0
        imported: list[str] = []
        skipped: list[str] = []
        for source in pack.sources:
            source_id = source["source_id"]
            if on_conflict == "keep" and await self.repository.exists(source_id):
                skipped.append(source_id)
                continue
            staging = f"{prefix}{uuid.uuid4().hex[:8]}"
            await self.repository.create_staging_source(staging, source)
            try:
                for index, page in enumerate(pack.pages):
                    if page["source_id"] != source_id:
                        continue
                    await reporter.raise_if_cancelled()
                    item = _page_input(page, [pack.chunks[i] for i in chunks_by_page.get(index, [])],
                                       [pack.code_examples[i] for i in codes_by_page.get(index, [])])
                    if reuse:
                        chunk_vecs = [pack.chunk_vectors[i] for i in chunks_by_page.get(index, [])]
                        code_vecs = [pack.code_vectors[i] for i in codes_by_page.get(index, [])]
                    else:
                        chunk_vecs, code_vecs = await pipeline.embed_page(item)
                    await repo.replace_page(staging, item, model=model, chunk_vectors=chunk_vecs,
                                            code_vectors=code_vecs)
                    done += 1
                    stored += len(item.chunks)
                    if time.monotonic() - reported_at >= REPORT_EVERY:  # each report is an UPDATE + NOTIFY
                        reported_at = time.monotonic()
                        await reporter.update(processed_pages=done, chunks_stored=stored, current_url=item.url,
                                              percentage=1 + 98 * done / max(len(pack.pages), 1))
                replaced = await self.repository.swap_in(staging, source_id)
            except BaseException:
                await self.repository.discard(staging)
                raise
            imported.append(source_id)
            await reporter.update(log=f"{'replaced' if replaced else 'imported'} {source_id}")
        return {"chunksStored": stored, "processedPages": done, "importedSources": imported,
                "skippedSources": skipped, "vectorsReused": reuse}


def _page_input(page: dict[str, Any], chunks: list[dict[str, Any]], codes: list[dict[str, Any]]) -> PageInput:
    """A pack row as the repository's PageInput (values already checked by archive.read_pack)."""
    try:
        return PageInput(
            url=page["url"], markdown=page["markdown"], content_hash=page["content_hash"],
            title=str(page.get("title") or ""), etag=page.get("etag"), last_modified=page.get("last_modified"),
            section_order=page.get("section_order"), metadata=dict(page.get("metadata") or {}),
            chunks=[ChunkInput(content=c["content"], headings=[str(h) for h in c.get("headings") or []],
                               token_count=int(c.get("token_count") or 0), metadata=dict(c.get("metadata") or {}))
                    for c in chunks],
            code_examples=[CodeExampleInput(position=int(x["position"]), code=x["code"],
                                            language=str(x.get("language") or ""), title=str(x.get("title") or ""),
                                            summary=str(x.get("summary") or ""), context=str(x.get("context") or ""))
                           for x in codes],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(f"invalid knowledge pack: page {str(page.get('url'))[:200]!r}: {exc}") from None
