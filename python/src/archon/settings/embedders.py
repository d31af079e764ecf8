"""Embedders built from the runtime settings and stored credentials, one per registered model.

Search and ingestion must embed with the embedder of the model whose vectors they read or write.
`EmbedderRegistry(runtime).active()` returns the active model *and* its embedder as one pair, so a
query is always embedded by the model whose vectors it is compared with, even while a switch happens.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from archon.config import Settings
from archon.errors import ArchonError
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings import Embedder, EmbeddingError, create_embedder
from archon.knowledge.models import EmbeddingModel
from archon.settings.credentials import CredentialService
from archon.settings.schemas import RagSettings
from archon.settings.service import RuntimeSettingsService

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

_STATE = "settings.embedders"
_REVALIDATE_SECONDS = 2.0  # how long a built embedder is reused before its endpoint and key are re-read
ENDPOINTS_KEY = "embedding_endpoints"  # internal setting: model id -> how to reach that model


@dataclass(frozen=True)
class Endpoint:
    """How to reach one model: what the settings said when it was registered."""

    base_url: str | None
    api_key_name: str
    dimensions: int | None  # the requested dimensions (None: the model's native size)

    @classmethod
    def of(cls, rag: RagSettings) -> Endpoint:
        return cls(rag.embedding_base_url, rag.embedding_api_key_name, rag.embedding_dimensions)


@dataclass
class _Entry:
    embedder: Embedder
    fingerprint: str
    checked_at: float


def build_embedder(settings: Settings, *, provider: str, model: str, dimensions: int | None,
                   base_url: str | None, api_key: str | None) -> Embedder:
    """An embedder for exactly this provider/model/dimensions, through the knowledge embeddings factory."""
    update: dict[str, Any] = {"embedding_provider": provider, "embedding_model": model,
                              "embedding_dimensions": dimensions, "embedding_base_url": base_url}
    if api_key is not None:
        update["openai_api_key"] = SecretStr(api_key)
    return create_embedder(settings.model_copy(update=update))


async def native_dimensions(embedder: Embedder) -> int:
    """The embedder's vector size; probes with one tiny text when the provider does not say."""
    if embedder.dimensions:
        return int(embedder.dimensions)
    vectors = await embedder.embed(["dimension probe"])
    if not vectors or not vectors[0]:
        raise EmbeddingError(f"{embedder.provider}/{embedder.model} returned no vector")
    return len(vectors[0])


class EmbedderRegistry:
    """The process's embedders keyed by model id; rebuilt when the endpoint or API key changes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.models = EmbeddingModelRepository(runtime.db)
        self.settings = RuntimeSettingsService(runtime)
        self.credentials = CredentialService(runtime)
        self._entries: dict[int, _Entry] = runtime.state.setdefault(_STATE, {})

    def invalidate(self) -> None:
        """Forget every built embedder (a credential or endpoint changed)."""
        self._entries.clear()

    async def api_key(self, name: str) -> str | None:
        """The stored credential `name`, else OPENAI_API_KEY from the environment for that name."""
        stored = await self.credentials.secret(name)
        if stored is not None:
            return stored
        env = self.runtime.settings.openai_api_key
        return env.get_secret_value() if env is not None and name == "OPENAI_API_KEY" else None

    async def endpoint_for(self, model_id: int) -> Endpoint:
        """The endpoint recorded when the model was registered, else the current settings'."""
        recorded = await self.settings.internal(ENDPOINTS_KEY) or {}
        entry = recorded.get(str(model_id))
        if isinstance(entry, dict):
            return Endpoint(entry.get("base_url"), str(entry.get("api_key_name") or "OPENAI_API_KEY"),
                            entry.get("dimensions"))
        return Endpoint.of(await self.settings.current())

    async def _endpoint_of_model(self, model: EmbeddingModel) -> Endpoint:
        recorded = await self.settings.internal(ENDPOINTS_KEY) or {}
        if str(model.id) in recorded:
            return await self.endpoint_for(model.id)
        # Registered elsewhere (e.g. at start-up from the environment): never take the dimensions of
        # whatever model the settings ask for now, only the connection details.
        current = Endpoint.of(await self.settings.current())
        native = model.provider == "openai" and current.dimensions is None
        return Endpoint(current.base_url, current.api_key_name, None if native else model.dimensions)

    async def record_endpoint(self, model_id: int, endpoint: Endpoint) -> None:
        recorded = dict(await self.settings.internal(ENDPOINTS_KEY) or {})
        recorded[str(model_id)] = {"base_url": endpoint.base_url, "api_key_name": endpoint.api_key_name,
                                   "dimensions": endpoint.dimensions}
        await self.settings.set_internal(ENDPOINTS_KEY, recorded)

    async def _build(self, provider: str, model: str, endpoint: Endpoint) -> tuple[Embedder, str]:
        key = await self.api_key(endpoint.api_key_name) if provider == "openai" else None
        digest = hashlib.sha256((key or "").encode()).hexdigest()[:16]  # detects a changed key, reveals nothing
        fingerprint = f"{provider}|{model}|{endpoint.base_url}|{endpoint.dimensions}|{digest}"
        embedder = build_embedder(self.runtime.settings, provider=provider, model=model,
                                  dimensions=endpoint.dimensions, base_url=endpoint.base_url, api_key=key)
        return embedder, fingerprint

    async def for_model(self, model: EmbeddingModel) -> Embedder:
        """The embedder that made (and must query) `model`'s vectors."""
        entry = self._entries.get(model.id)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < _REVALIDATE_SECONDS:
            return entry.embedder
        endpoint = await self._endpoint_of_model(model)
        embedder, fingerprint = await self._build(model.provider, model.model, endpoint)
        if embedder.dimensions and embedder.dimensions != model.dimensions and model.provider != "local":
            # A local model reports its real size only once loaded; the others must agree now.
            raise EmbeddingError(f"the embedder for {model.provider}/{model.model} makes {embedder.dimensions}-"
                                 f"dimension vectors but the model is registered with {model.dimensions}")
        if entry is not None and entry.fingerprint == fingerprint:
            entry.checked_at = now  # unchanged: keep the loaded instance (a local model stays loaded)
            return entry.embedder
        if not embedder.dimensions:
            # A provider that learns its size from the first answer: it is the registered size (and the
            # embedder refuses answers of another size), so queries can be matched to this model at once.
            embedder.dimensions = model.dimensions
        # The replaced embedder is not closed: a search running right now may still be using it.
        self._entries[model.id] = _Entry(embedder, fingerprint, now)
        return embedder

    async def target(self) -> tuple[EmbeddingModel, Embedder]:
        """The model the settings ask for (registered, with its HNSW index), and its embedder."""
        rag = await self.settings.current()
        endpoint = Endpoint.of(rag)
        embedder, _ = await self._build(rag.embedding_provider, rag.embedding_model, endpoint)
        dimensions = await native_dimensions(embedder)
        model = await self.models.ensure(rag.embedding_provider, embedder.model, dimensions)
        await self.record_endpoint(model.id, endpoint)
        return model, await self.for_model(model)

    async def active(self) -> tuple[EmbeddingModel, Embedder]:
        """The model search reads and ingestion writes, with its embedder (registering one if none is active)."""
        model = await self.models.active()
        if model is None:
            target, _ = await self.target()
            model = await self.models.ensure_active(target.provider, target.model, target.dimensions)
        embedder = await self.for_model(model)
        # Keep the runtime's default embedder (used by /health and older callers) on the active model.
        self.runtime.embedder = embedder
        return model, embedder


async def sync_active_embedder(runtime: Runtime) -> None:
    """Point `runtime.embedder` at the active model's embedder (start-up, after a switch); keeps it on failure."""
    registry = EmbedderRegistry(runtime)
    model = await registry.models.active()
    if model is None:
        return
    try:
        embedder = await registry.for_model(model)
    except ArchonError as exc:
        log.warning("cannot build the embedder of the active model %s/%s: %s", model.provider, model.model,
                    exc.message)
        return
    if (embedder.provider, embedder.model) != (runtime.embedder.provider, runtime.embedder.model):
        log.info("embedding with the active model %s/%s (%d dimensions)", model.provider, model.model,
                 model.dimensions)
    runtime.embedder = embedder
    rag = await registry.settings.current()
    try:  # constructing an embedder is cheap and offline; it applies the factory's model-name defaults
        wanted = build_embedder(runtime.settings, provider=rag.embedding_provider, model=rag.embedding_model,
                                dimensions=rag.embedding_dimensions, base_url=rag.embedding_base_url, api_key=None)
    except ArchonError:
        return
    if (wanted.provider, wanted.model) != (model.provider, model.model) or (
            rag.embedding_dimensions not in (None, model.dimensions)):
        # E.g. EMBEDDING_MODEL changed between restarts: re-embedding everything is the user's call.
        log.warning("the settings ask for embedding model %s/%s but %s/%s is active; search keeps using it. "
                    "POST /api/embedding-models/reembed (or save the settings) to switch", rag.embedding_provider,
                    rag.embedding_model, model.provider, model.model)
