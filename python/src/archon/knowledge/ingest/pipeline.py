"""The page pipeline: clean -> chunk -> extract code -> embed (batched) -> store atomically."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from archon.errors import NotFound
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings.base import EmbeddingError
from archon.knowledge.ingest.batching import EmbedBatcher
from archon.knowledge.ingest.chunking import chunk_markdown
from archon.knowledge.ingest.cleaning import clean_markdown, strip_invisible
from archon.knowledge.ingest.code_examples import extract_code_examples
from archon.knowledge.ingest.enrichment import Enricher, enricher_for
from archon.knowledge.models import ChunkInput, CodeExampleInput, EmbeddingModel, PageInput
from archon.knowledge.repository import KnowledgeRepository
from archon.knowledge.sources_repository import SourcesRepository
from archon.knowledge.staging import StagingRepository

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

EMBED_BATCH = 64  # texts per embedder call: big enough to batch well, small enough to report progress
OVERLAP_TOKENS = 30
MAX_TARGET_TOKENS = 400  # even models with 8k windows retrieve better with focused chunks

EmbedProgress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class PipelineOptions:
    """The runtime settings one ingestion job works with (read once, at its start, for consistent pages)."""

    chunk_tokens: int | None = None  # None: from the embedding model's window (target_tokens)
    overlap_tokens: int = OVERLAP_TOKENS
    extract_code: bool = True  # off: no code examples whatever the request says
    contextual_embeddings: bool = False  # situate each chunk with the chat model before embedding

    @classmethod
    def of(cls, rag: Any) -> PipelineOptions:
        """From a `RagSettings` (chunk_size, chunk_overlap, extract_code_examples, use_contextual_embeddings)."""
        return cls(chunk_tokens=rag.chunk_size, overlap_tokens=rag.chunk_overlap,
                   extract_code=rag.extract_code_examples, contextual_embeddings=rag.use_contextual_embeddings)

    def chunk_size(self, max_tokens: int) -> tuple[int, int]:
        """(target, overlap) chunk sizes in word pieces for a model window of `max_tokens`."""
        target = self.chunk_tokens or target_tokens(max_tokens)
        return target, min(self.overlap_tokens, target // 2)


@dataclass(frozen=True)
class IndexResult:
    page_id: int | None  # None only for a staged page that is new to the source (no live page yet)
    chunk_count: int
    code_example_count: int
    unchanged: bool = False
    staged: bool = False  # written to a refresh's stage, not (yet) to the live tables


def content_hash(markdown: str) -> str:
    """sha256 of the cleaned markdown: equal for pages whose visible content is equal."""
    return hashlib.sha256(clean_markdown(markdown).encode("utf-8")).hexdigest()


def target_tokens(max_tokens: int) -> int:
    """Chunk size for a model window: ~80 % of it (all-MiniLM's 256 -> 204), at most 400."""
    return max(64, min(int(max_tokens * 0.8), MAX_TARGET_TOKENS))


def embedding_text(chunk: ChunkInput) -> str:
    """What the model reads for a chunk: its LLM-written context (if any), its heading path, then its content."""
    # Keep equal to settings/reembed_repository.CHUNKS.text_sql so re-embedded vectors agree.
    context = str(chunk.metadata.get("context") or "")
    return "\n\n".join(part for part in (context, chunk.heading_path, chunk.content) if part)


def code_embedding_text(example: CodeExampleInput) -> str:
    return "\n".join(p for p in (example.title, example.summary, example.code) if p)


class PagePipeline:
    """Turns one document's markdown into a stored page with chunks, code examples and vectors."""

    def __init__(self, runtime: Runtime, options: PipelineOptions | None = None) -> None:
        self.runtime = runtime
        self.options = options  # None: read from the runtime settings by the first indexed page
        self.embedder = runtime.embedder
        self.repository = KnowledgeRepository(runtime.db)
        self.models = EmbeddingModelRepository(runtime.db)
        self._model: EmbeddingModel | None = None
        self._model_lock = asyncio.Lock()  # concurrent first registrations would deadlock on the index DDL
        self._batcher = EmbedBatcher(self.embedder, max_texts=EMBED_BATCH)
        self.enricher: Enricher | None = None  # LLM contexts/summaries, set with the options from the settings
        self._options_lock = asyncio.Lock()
        # A refresh's job id: changed pages go to its stage (knowledge/staging.py), swapped in when it completes.
        self.stage_for: str | None = None

    def prepare(self, *, url: str, markdown: str, title: str = "", etag: str | None = None,
                last_modified: str | None = None, extract_code: bool = True, section_order: int | None = None,
                metadata: dict[str, Any] | None = None) -> PageInput:
        """Clean, chunk and extract code (CPU only, no IO)."""
        cleaned = clean_markdown(markdown)
        title = " ".join(strip_invisible(title).split())[:500]
        options = self.options or PipelineOptions()
        target, overlap = options.chunk_size(self.embedder.max_tokens)
        chunks = chunk_markdown(cleaned, title=title, target_tokens=target, overlap_tokens=overlap)
        examples = extract_code_examples(cleaned, title=title) if extract_code and options.extract_code else []
        return PageInput(
            url=url, markdown=cleaned, content_hash=hashlib.sha256(cleaned.encode("utf-8")).hexdigest(),
            title=title, etag=etag, last_modified=last_modified, section_order=section_order,
            metadata=metadata or {},
            chunks=[ChunkInput(content=c.content, headings=c.headings, token_count=c.token_count,
                               metadata={"position": c.index, "start": c.start, "end": c.end})
                    for c in chunks],
            code_examples=[CodeExampleInput(position=e.position, code=e.code, language=e.language, title=e.title,
                                            summary=e.summary, context=e.context) for e in examples],
        )

    async def embed_page(self, page: PageInput, *,
                         progress: EmbedProgress | None = None) -> tuple[list[list[float]], list[list[float]]]:
        """Vectors for the page's chunks and code examples, in batches of EMBED_BATCH texts."""
        texts = [embedding_text(c) for c in page.chunks] + [code_embedding_text(e) for e in page.code_examples]
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            result = await self._batcher.embed(batch)
            if len(result) != len(batch):
                raise EmbeddingError(f"the embedder returned {len(result)} vectors for {len(batch)} texts")
            vectors.extend(result)
            if progress is not None:
                await progress(len(vectors), len(texts))
        split = len(page.chunks)
        return vectors[:split], vectors[split:]

    async def load_options(self) -> PipelineOptions:
        """The job's options: the runtime settings as they are when the job indexes its first page."""
        async with self._options_lock:  # concurrent first pages: one read, one Enricher (one warning)
            if self.options is None:
                from archon.settings.service import RuntimeSettingsService

                rag = await RuntimeSettingsService(self.runtime).current()
                options = PipelineOptions.of(rag)
                self.enricher = await enricher_for(self.runtime, rag, contextual=options.contextual_embeddings,
                                                   summaries=options.extract_code)
                self.options = options
        return self.options

    async def follow_active_model(self) -> None:
        """Embed with the active model's embedder, noticing a switch made by any process (checked ~1/s)."""
        from archon.settings.active import active_embedder

        embedder = await active_embedder(self.runtime)
        if embedder is not self.embedder:
            self.embedder = embedder
            self._batcher = EmbedBatcher(embedder, max_texts=EMBED_BATCH)
            self._model = None

    async def model(self, dimensions: int | None = None) -> EmbeddingModel:
        """The registered model row for this embedder (made active if no model is active yet)."""
        dims = dimensions or self.embedder.dimensions
        async with self._model_lock:
            cached = self._model
            if cached is not None and cached.dimensions == dims:
                return cached
            e = self.embedder
            active = await self.models.ensure_active(e.provider, e.model, dims)
            if (active.provider, active.model, active.dimensions) != (e.provider, e.model, dims):
                # Another model is active (a switch in progress): store under ours, search keeps using theirs.
                active = await self.models.ensure(e.provider, e.model, dims)
            self._model = active
            return active

    async def index_document(self, source_id: str, *, url: str, markdown: str, title: str = "",
                             etag: str | None = None, last_modified: str | None = None, extract_code: bool = True,
                             section_order: int | None = None, metadata: dict[str, Any] | None = None,
                             skip_if_unchanged: bool = False, progress: EmbedProgress | None = None) -> IndexResult:
        """Index one document into `source_id` (which must exist); idempotent, atomic per page.

        With `skip_if_unchanged`, a page whose content hash matches the stored one is not re-embedded
        (its ETag/Last-Modified are still refreshed by the caller's next full store).
        """
        await self.load_options()
        await self.follow_active_model()
        page = self.prepare(url=url, markdown=markdown, title=title, etag=etag, last_modified=last_modified,
                            extract_code=extract_code, section_order=section_order, metadata=metadata)
        if skip_if_unchanged:
            stored = (await self.repository.page_fingerprints(source_id)).get(url)
            if stored is not None and stored["content_hash"] == page.content_hash:
                counts = await SourcesRepository(self.runtime.db).page_counts(int(stored["id"]))
                return IndexResult(int(stored["id"]), counts[0], counts[1], unchanged=True)
        if self.enricher is not None:
            await self.enricher.enrich(page)  # never raises: a failing chat model leaves the page as it is
        chunk_vectors, code_vectors = await self.embed_page(page, progress=progress)
        first = (chunk_vectors or code_vectors or [[]])[0]
        model = await self.model(len(first) or None)
        if self.stage_for is not None:
            live_id = await StagingRepository(self.runtime.db).stage_page(
                self.stage_for, source_id, page, model=model, chunk_vectors=chunk_vectors, code_vectors=code_vectors)
            return IndexResult(live_id, len(page.chunks), len(page.code_examples), staged=True)
        try:
            page_id = await self.repository.replace_page(source_id, page, model=model,
                                                         chunk_vectors=chunk_vectors, code_vectors=code_vectors)
        except psycopg.errors.ForeignKeyViolation as exc:
            raise NotFound(f"knowledge item {source_id!r} no longer exists (deleted while indexing)") from exc
        from archon.settings.active import backfill_page

        # Another process may have switched the active model while this page was embedded.
        await backfill_page(self.runtime, page_id, model)
        return IndexResult(page_id, len(page.chunks), len(page.code_examples))
