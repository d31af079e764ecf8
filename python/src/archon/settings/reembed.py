"""Switching the embedding model without losing search.

The new model's vectors are written next to the old ones, in batches, by a durable job with progress
like a crawl. Search keeps reading the active (old) model meanwhile; when every chunk and code example
has a new vector, `EmbeddingModelRepository.activate` switches in one transaction. Old vectors stay
until dropped (`drop_old_vectors` or `DELETE /api/embedding-models/{id}`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from archon.errors import Conflict, NotFound
from archon.jobs.progress import ProgressReporter
from archon.jobs.service import JobService
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings import Embedder
from archon.knowledge.models import EmbeddingModel
from archon.settings.embedders import EmbedderRegistry
from archon.settings.reembed_repository import CHUNKS, CODE, Kind, ReembedRepository
from archon.settings.service import RuntimeSettingsService

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

JOB_KIND = "reembed"
_CATCH_UP_PASSES = 5  # rounds for items ingested while the job ran; each round is usually tiny
# From this many items on, the new model's HNSW indexes are dropped during the fill and built once at the
# end: inserting row by row into an HNSW index costs several times a bulk build.
BULK_INDEX_THRESHOLD = 2000


def _model_json(model: EmbeddingModel) -> dict[str, Any]:
    return {"id": model.id, "provider": model.provider, "model": model.model, "dimensions": model.dimensions}


class ReembedService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jobs = JobService(runtime.db)
        self.models = EmbeddingModelRepository(runtime.db)
        self.repo = ReembedRepository(runtime.db)
        self.registry = EmbedderRegistry(runtime)
        self.settings = RuntimeSettingsService(runtime)

    async def start(self) -> str | None:
        """Bring the vectors to the model the settings ask for; returns the job's progressId, or None if current.

        A re-embed towards another model is cancelled (the settings changed again); one towards the same
        model is reused.
        """
        target, _ = await self.registry.target()
        active = await self.models.active()
        running = await self.jobs.list_active(kind=JOB_KIND)
        reuse = None
        for job in running:
            if job.params.get("model_id") == target.id and reuse is None:
                reuse = job.id
            else:
                await self.jobs.request_cancel(job.id)
        if active is None:
            await self.models.activate(target.id)
            return None
        if active.id == target.id:
            if reuse is not None:
                await self.jobs.request_cancel(reuse)
            return None
        if reuse is not None:
            return reuse
        job_id = await self.jobs.create(JOB_KIND, {"model_id": target.id, "from_model_id": active.id,
                                                   "target": _model_json(target), "from": _model_json(active)})
        queue_job_id = await self.runtime.queue.defer(JOB_KIND, job_id=job_id)
        await self.jobs.attach_queue_job(job_id, queue_job_id)
        log.info("re-embedding into %s/%s (%d dimensions) as job %s", target.provider, target.model,
                 target.dimensions, job_id)
        return job_id

    async def _fill(self, kind: Kind, model: EmbeddingModel, embedder: Embedder, reporter: ProgressReporter,
                    tally: dict[str, int], batch: int) -> int:
        """Embed every item of `kind` lacking a vector of `model`; returns how many were written."""
        written, after = 0, 0
        while True:
            await reporter.raise_if_cancelled()
            items = await self.repo.missing(kind, model.id, after_id=after, limit=batch)
            if not items:
                return written
            vectors = await embedder.embed([item.text for item in items])
            written += await self.repo.store(kind, model, items, vectors)
            after = items[-1].id
            tally["done"] += len(items)
            total = max(tally["total"], 1)
            await reporter.update(status="embedding", percentage=min(99.0, 100.0 * tally["done"] / total),
                                  chunks_stored=tally["done"], totalItems=tally["total"], embeddedItems=tally["done"])

    async def run(self, job_id: str, reporter: ProgressReporter) -> dict[str, Any]:
        """The job body: fill the new model's vectors, switch atomically, catch up, optionally drop the old."""
        job = await self.jobs.get(job_id)
        model = await self.repo.model(int(job.params["model_id"]))
        if model is None:
            raise NotFound("the target embedding model was deleted; change the settings again")
        embedder = await self.registry.for_model(model)
        rag = await self.settings.current()
        counts = [await self.repo.counts(kind, model.id) for kind in (CHUNKS, CODE)]
        tally = {"total": sum(missing for _, missing in counts), "done": 0}
        await reporter.update(status="embedding", percentage=0.0, totalItems=tally["total"], embeddedItems=0,
                              log=f"embedding {tally['total']} item(s) with {model.provider}/{model.model}")
        if tally["total"] >= BULK_INDEX_THRESHOLD:
            await self.repo.drop_indexes(model)
        written = 0
        for _ in range(_CATCH_UP_PASSES):  # items ingested meanwhile under the old model get theirs too
            round_written = 0
            for kind in (CHUNKS, CODE):
                round_written += await self._fill(kind, model, embedder, reporter, tally, rag.embedding_batch_size)
            written += round_written
            if round_written == 0:
                break
        await reporter.raise_if_cancelled()
        await reporter.update(status="indexing", log="building the search index of the new model")
        built = await self.repo.ensure_indexes(model)  # also repairs an index left invalid by a crash
        await reporter.raise_if_cancelled()
        previous = await self.models.active()
        await self.models.activate(model.id)
        self.registry.invalidate()
        self.runtime.embedder = embedder  # this process's ingestion now writes the new model's vectors
        await reporter.update(status="activated", percentage=99.5,
                              log=f"search now uses {model.provider}/{model.model}")
        for kind in (CHUNKS, CODE):  # stragglers written under the old model during the switch
            tally["total"] += (await self.repo.counts(kind, model.id))[1]
            written += await self._fill(kind, model, embedder, reporter, tally, rag.embedding_batch_size)
        dropped = 0
        if rag.drop_old_vectors and previous is not None and previous.id != model.id:
            dropped = await self.repo.drop_model(previous)
            await reporter.update(log=f"dropped {dropped} vector(s) of {previous.provider}/{previous.model}")
        return {"chunksStored": written, "modelId": model.id, "activated": True, "droppedVectors": dropped,
                "indexesBuilt": len(built)}

    async def drop_model(self, model_id: int) -> int:
        """Delete a non-active model and its vectors; 409 for the active one or a re-embed's target."""
        model = await self.repo.model(model_id)
        if model is None:
            raise NotFound(f"no embedding model {model_id}")
        active = await self.models.active()
        if active is not None and active.id == model_id:
            raise Conflict("this model is active: switch to another model before dropping its vectors")
        for job in await self.jobs.list_active(kind=JOB_KIND):
            if job.params.get("model_id") == model_id:
                raise Conflict(f"re-embed job {job.id} is writing this model's vectors; cancel it first")
        deleted = await self.repo.drop_model(model)
        self.registry.invalidate()
        log.info("dropped embedding model %s/%s and %d vector(s)", model.provider, model.model, deleted)
        return deleted

    async def models_overview(self) -> dict[str, Any]:
        """Registered models with vector counts, the active one, and any running re-embed job."""
        models = await self.repo.models()
        jobs = [j.progress_data() for j in await self.jobs.list_active(kind=JOB_KIND)]
        return {"models": models, "reembed_jobs": jobs}
