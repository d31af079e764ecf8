"""One entry point for changing settings: validate, check a new embedder works, store, start a re-embed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings import EmbeddingError
from archon.settings.embedders import EmbedderRegistry, build_embedder, native_dimensions
from archon.settings.provider_check import refuse_metadata_endpoints
from archon.settings.reembed import JOB_KIND, ReembedService
from archon.settings.schemas import EMBEDDING_FIELDS, RagSettings
from archon.settings.service import RuntimeSettingsService, invalid_settings

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

_CONNECTION_FIELDS = frozenset({"embedding_base_url", "embedding_api_key_name"})


class SettingsManager:
    """What the REST routes, MCP tools and CLI call to read or change the runtime settings."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = RuntimeSettingsService(runtime)
        self.registry = EmbedderRegistry(runtime)
        self.reembed = ReembedService(runtime)

    async def overview(self, *, reembed_job: str | None = None) -> dict[str, Any]:
        """Effective settings, env defaults, which keys are overridden, and the embedding state."""
        current = await self.settings.current()
        active = await EmbeddingModelRepository(self.runtime.db).active()
        jobs = await self.reembed.jobs.list_active(kind=JOB_KIND)
        return {
            "settings": current.model_dump(),
            "defaults": RagSettings.model_validate(self.settings.defaults()).model_dump(),
            "overrides": sorted(await self.settings.stored()),
            "embedding": {
                "active_model": None if active is None else {"id": active.id, "provider": active.provider,
                                                             "model": active.model, "dimensions": active.dimensions},
                "target": {"provider": current.embedding_provider, "model": current.embedding_model,
                           "dimensions": current.embedding_dimensions, "base_url": current.embedding_base_url},
                "reembed_progress_id": reembed_job or (jobs[0].id if jobs else None),
            },
        }

    async def _check_embedder(self, rag: RagSettings) -> None:
        """Build the embedder the new settings describe and learn its size: fails now, not in a job."""
        key = await self.registry.api_key(rag.embedding_api_key_name) if rag.embedding_provider == "openai" else None
        try:
            if rag.embedding_provider == "local":
                # Loading torch here would stall the request for seconds; checking the files are there is enough.
                from archon.knowledge.embeddings.local import _model_path

                _model_path(rag.embedding_model)
                if rag.embedding_dimensions not in (None, 384) and rag.embedding_model.endswith("all-MiniLM-L6-v2"):
                    raise invalid_settings([{"field": "embedding_dimensions", "message": (
                        "all-MiniLM-L6-v2 makes 384-dimension vectors; leave it empty or set 384")}])
            embedder = build_embedder(self.runtime.settings, provider=rag.embedding_provider,
                                      model=rag.embedding_model, dimensions=rag.embedding_dimensions,
                                      base_url=rag.embedding_base_url, api_key=key)
            if rag.embedding_provider == "openai":
                await embedder.embed(["ok"])  # a real call: a wrong key, model or URL fails here, not in the job
            await native_dimensions(embedder)
        except EmbeddingError as exc:
            raise invalid_settings([{"field": "embedding_model", "message": exc.message}]) from None

    async def update(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial change (422 names bad fields); a new embedding model starts a re-embed job."""
        before = await self.settings.current()
        candidate = self.settings.validate_patch(patch, before)
        for field in ("embedding_base_url", "chat_base_url"):
            url = getattr(candidate, field)
            if field in patch and url:
                await refuse_metadata_endpoints(url, field=field)
        model_changed = any(getattr(before, f) != getattr(candidate, f) for f in EMBEDDING_FIELDS - _CONNECTION_FIELDS)
        if model_changed:
            await self._check_embedder(candidate)
        _, after = await self.settings.update(patch)
        if any(getattr(before, f) != getattr(after, f) for f in EMBEDDING_FIELDS | _CONNECTION_FIELDS):
            self.registry.invalidate()
        job_id = await self.reembed.start() if model_changed else None
        return await self.overview(reembed_job=job_id)

    async def reset(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Drop overrides so the environment defaults apply; re-embeds if that changes the model."""
        before = await self.settings.current()
        after = await self.settings.reset(keys)
        self.registry.invalidate()
        changed = any(getattr(before, f) != getattr(after, f) for f in EMBEDDING_FIELDS)
        job_id = await self.reembed.start() if changed else None
        return await self.overview(reembed_job=job_id)
