"""Every process follows the active embedding model without a restart.

A re-embed job activates the new model in one transaction, in whichever process runs it. Other processes
(a second API, `archon worker`) notice by reading the active model id, cached for `ACTIVE_TTL_SECONDS`
(one indexed single-row SELECT per interval), and point `runtime.embedder` at that model's embedder.
Ingestion asks `active_embedder()` per page; search already reads the active model per query.

A page stored under the previous model by a process that had not noticed the switch yet is given the
active model's vectors at once (`backfill_page`), so no page ever lacks the vectors search reads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archon.errors import ArchonError
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings import Embedder, EmbeddingError
from archon.knowledge.models import EmbeddingModel
from archon.settings.embedders import EmbedderRegistry
from archon.settings.reembed_repository import CHUNKS, CODE, ReembedRepository

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

ACTIVE_TTL_SECONDS = 1.0  # how long a process trusts its idea of the active model
_STATE = "settings.active_model"
_BACKFILL_BATCH = 64


@dataclass
class _Seen:
    model: EmbeddingModel | None = None
    checked_at: float = float("-inf")


def _same(embedder: Embedder, model: EmbeddingModel) -> bool:
    return (embedder.provider, embedder.model) == (model.provider, model.model) and (
        not embedder.dimensions or embedder.dimensions == model.dimensions)


async def active_embedder(runtime: Runtime) -> Embedder:
    """The active model's embedder (`runtime.embedder` is moved onto it when the model changed).

    Keeps the current embedder when no model is active yet or the active one cannot be built here.
    """
    seen: _Seen = runtime.state.setdefault(_STATE, _Seen())
    now = time.monotonic()
    if now - seen.checked_at < ACTIVE_TTL_SECONDS:
        return runtime.embedder
    seen.checked_at = now
    model = await EmbeddingModelRepository(runtime.db).active()
    previous, seen.model = seen.model, model
    if model is None or _same(runtime.embedder, model):
        return runtime.embedder
    try:
        embedder = await EmbedderRegistry(runtime).for_model(model)
    except ArchonError as exc:
        log.warning("cannot build the embedder of the active model %s/%s (%s); still embedding with %s/%s",
                    model.provider, model.model, exc.message, runtime.embedder.provider, runtime.embedder.model)
        return runtime.embedder
    if previous is None or previous.id != model.id:
        log.info("active embedding model is now %s/%s (%d dimensions): embedding with it", model.provider,
                 model.model, model.dimensions)
    runtime.embedder = embedder
    return embedder


def forget_active(runtime: Runtime) -> None:
    """Make the next `active_embedder()` read the database (after this process switched the model)."""
    runtime.state.pop(_STATE, None)


async def backfill_page(runtime: Runtime, page_id: int, stored_under: EmbeddingModel) -> int:
    """Give page `page_id`, just stored under `stored_under`, the active model's vectors when they differ.

    Called after the page's transaction committed: if the switch commits later, the re-embed job's own
    catch-up (which runs after the switch) finds the page; if it committed earlier, this does it.
    """
    active = await EmbeddingModelRepository(runtime.db).active()
    if active is None or active.id == stored_under.id:
        return 0
    try:
        embedder = await EmbedderRegistry(runtime).for_model(active)
    except ArchonError as exc:
        log.warning("page %d has no vectors of the active model %s/%s yet: %s", page_id, active.provider,
                    active.model, exc.message)
        return 0
    repo = ReembedRepository(runtime.db)
    written = 0
    for kind in (CHUNKS, CODE):
        after = 0
        while items := await repo.missing(kind, active.id, after_id=after, limit=_BACKFILL_BATCH, page_id=page_id):
            vectors = await embedder.embed([item.text for item in items])
            if len(vectors) != len(items):
                raise EmbeddingError(f"the embedder returned {len(vectors)} vectors for {len(items)} texts")
            written += await repo.store(kind, active, items, vectors)
            after = items[-1].id
    if written:
        log.info("page %d: %d vector(s) of the newly active model %s/%s added", page_id, written, active.provider,
                 active.model)
    forget_active(runtime)  # this process is behind: look at the active model again on the next page
    return written
