"""Search service: hybrid (vector + full-text) retrieval with reciprocal rank fusion and optional rerank.

Every search is at most two SQL round trips: one to resolve filters (only when filters are given),
one pipelined transaction that sets the HNSW knobs and runs a single statement returning all
candidates of both lists with their content. Fusion happens in Python (`fusion.py`).

A hybrid query without filters whose vector is not cached yet, arriving while no other search runs in
this process, is split in two instead: the keyword statement runs in Postgres while the query embeds on
the other core, then the vector statement runs.
Embedding (~10 ms) and full-text search (~10-30 ms) no longer add up on the path of a new question.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pgvector import Vector
from psycopg import sql

from archon.db.expiring import Expiring
from archon.errors import Invalid, NotFound, Unavailable
from archon.knowledge import search_sql
from archon.knowledge.embedding_models import EmbeddingModelRepository
from archon.knowledge.embeddings import Embedder
from archon.knowledge.fusion import Fused, FusionConfig, group_pages, identifiers, rrf
from archon.knowledge.models import EmbeddingModel
from archon.knowledge.query_embedding import QueryEmbeddings
from archon.knowledge.rerank import Reranker, reranker_from
from archon.knowledge.search_models import (
    MAX_MATCH_COUNT,
    MAX_QUERY_CHARS,
    RETURN_MODES,
    SEARCH_MODES,
    CodeExampleResult,
    PageContent,
    ReturnMode,
    SearchFilters,
    SearchMode,
    SearchResponse,
    SearchResult,
    SourceSummary,
)
from archon.knowledge.search_pages import PageReader
from archon.observability.metrics import RAG_QUERIES
from archon.runtime import Runtime
from archon.settings.schemas import RagSettings
from archon.settings.service import RuntimeSettingsService

log = logging.getLogger(__name__)

QUERY_EMBEDDINGS = QueryEmbeddings()
# An active-model lookup is reused for 1 s: a model switch is picked up within this delay.
_active_models: Expiring[str, EmbeddingModel | None] = Expiring(1.0)
# Common lexemes change only when ANALYZE runs (autovacuum, after many writes): a minute-old list is as good.
_common_terms: Expiring[tuple[str, str, str, float], str] = Expiring(60.0)
# Searches of this process now in their candidate phase. Overlapping embedding and full-text search only
# helps while a core is idle; with other searches running it would cost an extra round trip (~2 ms of
# Postgres CPU per query, measured at 50 clients) and gain nothing.
_running = 0


def forget_active_model() -> None:
    """Drop cached active-model lookups and common-term lists (after a model switch, in tests)."""
    _active_models.clear()
    _common_terms.clear()


def _validate(query: str, match_count: int, search_mode: str, return_mode: str) -> str:
    # NUL cannot be stored in or compared with Postgres text; it carries no meaning in a query either.
    text = query.replace("\x00", " ").strip() if isinstance(query, str) else ""
    if not text:
        raise Invalid("query: must not be empty", detail={"field": "query"})
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(f"query: at most {MAX_QUERY_CHARS} characters", detail={"field": "query"})
    if not 1 <= match_count <= MAX_MATCH_COUNT:
        raise Invalid(f"match_count: must be between 1 and {MAX_MATCH_COUNT}", detail={"field": "match_count"})
    if search_mode not in SEARCH_MODES:
        raise Invalid(f"search_mode: one of {', '.join(SEARCH_MODES)}", detail={"field": "search_mode"})
    if return_mode not in RETURN_MODES:
        raise Invalid(f"return_mode: one of {', '.join(RETURN_MODES)}", detail={"field": "return_mode"})
    return text


def _merge(keyword_rows: list[dict[str, Any]], vector_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the two single-list statements as the combined statement returns them: one per item,
    with its distance and its keyword scores (NULL for the list it is not in)."""
    merged = {r["item_id"]: r for r in keyword_rows}
    for row in vector_rows:
        hit = merged.get(row["item_id"])
        merged[row["item_id"]] = row if hit is None else {**hit, "distance": row["distance"]}
    return list(merged.values())


def default_mode(rag: RagSettings) -> SearchMode:
    """The mode of a search that names none: hybrid, or vector when `use_hybrid_search` is off."""
    return "hybrid" if rag.use_hybrid_search else "vector"


def fusion_config(rag: RagSettings) -> FusionConfig:
    """Reciprocal rank fusion parameters from the runtime settings."""
    return FusionConfig(k=rag.fusion_k, vector_weight=rag.fusion_vector_weight,
                        keyword_weight=rag.fusion_keyword_weight, heading_weight=rag.fusion_heading_weight)


class SearchService:
    """Retrieval over the knowledge base; REST, MCP and CLI are thin adapters over these methods."""

    def __init__(self, runtime: Runtime, *, reranker: Reranker | None = None) -> None:
        self.runtime = runtime
        self.db = runtime.db
        s = runtime.settings
        # Strategy knobs (hybrid on/off, fusion, rerank) come from the runtime settings per query: cached
        # in process, so a PUT /api/settings applies to the next search, in every process within seconds.
        self.settings = RuntimeSettingsService(runtime)
        self.reranker = reranker if reranker is not None else reranker_from(runtime)
        self.pages = PageReader(runtime.db, max_chars=s.max_page_chars)

    # --- public API ------------------------------------------------------------
    async def query(self, query: str, *, match_count: int = 5, filters: SearchFilters = SearchFilters(),
                    return_mode: ReturnMode = "chunks", search_mode: SearchMode | None = None,
                    rerank: bool | None = None) -> SearchResponse:
        """Search chunks; `pages` mode returns one result per page (its best chunk, page-level score).

        `search_mode` None follows the `use_hybrid_search` setting (hybrid, else vector); `rerank` None
        follows `use_reranking`.
        """
        started = time.perf_counter()
        rag = await self.settings.current()
        search_mode = search_mode or default_mode(rag)
        text = _validate(query, match_count, search_mode, return_mode)
        RAG_QUERIES.inc()
        want = match_count * (6 if return_mode == "pages" else 1)
        rows, mode, notices = await self._candidates(text, target="chunks", want=want, filters=filters,
                                                     search_mode=search_mode)
        fused = self._rank(rows, mode, fusion_config(rag))
        results = [self._chunk_result(rows[f.key], f) for f in fused]
        reranked = False
        if self._should_rerank(rag.use_reranking if rerank is None else rerank, notices):
            results, reranked = await self._rerank(text, results, keep=want, notices=notices)
        if return_mode == "pages":
            results = self._pages(results, match_count)
        return SearchResponse(results[:match_count], mode, return_mode, reranked,
                              round((time.perf_counter() - started) * 1000, 2), notices)

    async def code_examples(self, query: str, *, match_count: int = 5, filters: SearchFilters = SearchFilters(),
                            search_mode: SearchMode | None = None, rerank: bool | None = None) -> SearchResponse:
        """Search the code-example index (code, language, title, summary, url); None modes follow the settings."""
        started = time.perf_counter()
        rag = await self.settings.current()
        search_mode = search_mode or default_mode(rag)
        text = _validate(query, match_count, search_mode, "chunks")
        RAG_QUERIES.inc()
        rows, mode, notices = await self._candidates(text, target="code", want=match_count, filters=filters,
                                                     search_mode=search_mode)
        results = [self._code_result(rows[f.key], f) for f in self._rank(rows, mode, fusion_config(rag))]
        reranked = False
        if self._should_rerank(rag.use_reranking if rerank is None else rerank, notices):
            results, reranked = await self._rerank(text, results, keep=match_count, notices=notices)
        return SearchResponse(results[:match_count], mode, "chunks", reranked,
                              round((time.perf_counter() - started) * 1000, 2), notices)

    async def get_page(self, page_id: int, *, offset: int = 0) -> PageContent:
        """A page's full markdown (from `offset`, at most ARCHON_MAX_PAGE_CHARS characters)."""
        return await self.pages.by_id(page_id, offset=offset)

    async def get_page_by_url(self, url: str, *, source_id: str | None = None, offset: int = 0) -> PageContent:
        """The page stored for `url` (the most recently indexed one if several sources have it)."""
        return await self.pages.by_url(url, source_id=source_id, offset=offset)

    async def sources(self) -> list[SourceSummary]:
        """Every source a search can be filtered on, with page/chunk/code-example counts."""
        return await self.pages.sources()

    # --- candidates --------------------------------------------------------------
    async def active_model(self) -> EmbeddingModel | None:
        return await _active_models.fetch(self.db.conninfo, EmbeddingModelRepository(self.db).active)

    async def common_terms(self, table: str, column: str) -> str:
        """Lexemes in more than `search_common_term_fraction` of `table.column`'s rows, as a text[] literal.

        Cached per process, and as one preformatted string: adapting a ~1,000-item list on every search
        would cost the Python side what the cache saves Postgres.
        """
        fraction = self.runtime.settings.search_common_term_fraction

        async def load() -> str:
            async with self.db.connection() as conn:
                row = await (await conn.execute(search_sql.COMMON_TERMS,
                                                {"table": table, "column": column, "common": fraction})).fetchone()
            return search_sql.text_array_literal(row["terms"] if row else [])

        return await _common_terms.fetch((self.db.conninfo, table, column, fraction), load)

    @staticmethod
    def _same_model(embedder: Embedder, model: EmbeddingModel) -> bool:
        return (embedder.provider, embedder.model, embedder.dimensions) == (model.provider, model.model,
                                                                            model.dimensions)

    async def _embedder_for(self, model: EmbeddingModel) -> Embedder | None:
        """The embedder that made `model`'s vectors: the runtime's, else the settings' registry (if present)."""
        if self._same_model(self.runtime.embedder, model):
            return self.runtime.embedder
        try:
            from archon.settings.embedders import EmbedderRegistry
        except ImportError:
            return None
        embedder: Embedder = await EmbedderRegistry(self.runtime).for_model(model)
        if not self._same_model(embedder, model):
            return None
        # `model` is the active one (switched by another process): keep this process's default embedder
        # (ingestion, /health) on it too.
        self.runtime.embedder = embedder
        return embedder

    async def _vector_model(self, search_mode: SearchMode,
                            notices: list[str]) -> tuple[EmbeddingModel, Embedder] | None:
        """The active model and the embedder for its query vectors, or None when vectors cannot be used."""
        if search_mode == "keyword":
            return None
        model = await self.active_model()
        if model is None:
            notices.append("no embedding model is active yet (nothing has been indexed): keyword search only")
            return None
        embedder = await self._embedder_for(model)
        if embedder is None:
            # Comparing vectors of two models is meaningless: refuse rather than return noise.
            message = (f"no embedder for the active model {model.provider}/{model.model} "
                       f"({model.dimensions} dims) in this process")
            if search_mode == "vector":
                raise Unavailable(message)
            notices.append(message + ": keyword search only")
            return None
        return model, embedder

    async def _resolve(self, filters: SearchFilters, model: EmbeddingModel | None,
                       target: search_sql.Target) -> tuple[list[str], int]:
        params = {"ids": list(filters.source_ids) or None, "ktype": filters.knowledge_type,
                  "tags": list(filters.tags) or None, "project": filters.project_id,
                  "mid": model.id if model else None, "cap": self.runtime.settings.search_exact_threshold + 1}
        async with self.db.connection() as conn:
            row = await (await conn.execute(search_sql.filter_statement(target), params)).fetchone()
        assert row is not None
        if row["unknown"]:
            raise NotFound(f"source not found: {', '.join(row['unknown'])}", detail={"field": "source_id"})
        if not row["project_exists"]:
            raise NotFound(f"project not found: {filters.project_id}", detail={"field": "project_id"})
        return list(row["sources"]), int(row["vectors"])

    async def _candidates(self, text: str, *, target: search_sql.Target, want: int, filters: SearchFilters,
                          search_mode: SearchMode) -> tuple[dict[int, dict[str, Any]], SearchMode, list[str]]:
        global _running
        _running += 1
        try:
            return await self._gather(text, target=target, want=want, filters=filters, search_mode=search_mode)
        finally:
            _running -= 1

    async def _gather(self, text: str, *, target: search_sql.Target, want: int, filters: SearchFilters,
                      search_mode: SearchMode) -> tuple[dict[int, dict[str, Any]], SearchMode, list[str]]:
        settings = self.runtime.settings
        notices: list[str] = []
        pair = await self._vector_model(search_mode, notices)
        model, embedder = pair if pair is not None else (None, None)
        mode: SearchMode = search_mode if model is not None or search_mode == "keyword" else "keyword"
        sources: list[str] | None = None
        exact = False
        if filters.active:
            sources, vectors = await self._resolve(filters, model, target)
            if not sources:
                return {}, mode, notices
            exact = vectors <= settings.search_exact_threshold
        idents = identifiers(text)
        n = max(settings.search_candidates, want)
        params: dict[str, Any] = {"q": text, "idents": " or ".join(idents), "sources": sources, "nvec": n, "nkw": n}
        if mode != "vector":
            term_column, ident_column = search_sql.term_columns(target)
            params["common_terms"] = await self.common_terms(*term_column)
            if idents:
                params["common_idents"] = await self.common_terms(*ident_column)
        ef = max(settings.search_ef_search, n)

        def statement(use_vector: bool, use_keyword: bool) -> sql.Composed:
            return search_sql.search_statement(model, target=target, use_vector=use_vector, use_keyword=use_keyword,
                                               filtered=sources is not None, exact=exact,
                                               with_identifiers=bool(idents))

        if embedder is None or mode == "keyword":
            rows = await self._fetch(statement(mode != "keyword", mode != "vector"), params, ef)
        elif mode == "hybrid" and sources is None and _running <= 1 and not QUERY_EMBEDDINGS.cached(embedder, text):
            # Overlap: full-text search in Postgres while the query embeds here (filters would add a third
            # round trip, so a filtered search keeps the single statement).
            embedding = asyncio.ensure_future(QUERY_EMBEDDINGS.get(embedder, text))
            try:
                keyword_rows = await self._fetch(statement(False, True), params, ef)
                params["qv"] = Vector(await embedding)
            finally:
                embedding.cancel()  # only when the keyword statement failed; the embed itself is shielded
            rows = await self._fetch(statement(True, False), params, ef)
            rows = _merge(keyword_rows, rows)
        else:
            params["qv"] = Vector(await QUERY_EMBEDDINGS.get(embedder, text))
            rows = await self._fetch(statement(True, mode != "vector"), params, ef)
        return {int(r["item_id"]): r for r in rows}, mode, notices

    async def _fetch(self, statement: sql.Composed, params: dict[str, Any], ef: int) -> list[dict[str, Any]]:
        """Run one search statement in a pipelined transaction with the search knobs set."""
        async with self.db.connection() as conn, conn.pipeline(), conn.transaction():
            # relaxed_order: with a filter, HNSW keeps scanning until enough rows pass it (pgvector >= 0.8).
            # enable_seqscan off: the full-text query is computed inside the statement, so the planner cannot
            # see how selective it is and may scan (and de-TOAST) every row instead of using the GIN index.
            await conn.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                               "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                               "set_config('enable_seqscan', 'off', true)", (str(ef),))
            cur = await conn.execute(statement, params)
            return list(await cur.fetchall())

    # --- ranking -------------------------------------------------------------------
    def _rank(self, rows: dict[int, dict[str, Any]], mode: SearchMode, fusion: FusionConfig) -> list[Fused[int]]:
        vector = sorted((k for k, r in rows.items() if r["distance"] is not None),
                        key=lambda k: (rows[k]["distance"], k))
        keyword = sorted((k for k, r in rows.items() if r["keyword_score"] is not None),
                         key=lambda k: (-rows[k]["keyword_score"], k))
        if mode == "vector":
            return [Fused(k, 1.0 - float(rows[k]["distance"]), "vector", vector_rank=i)
                    for i, k in enumerate(vector, 1)]
        if mode == "keyword":
            return [Fused(k, float(rows[k]["keyword_score"]), "keyword", keyword_rank=i)
                    for i, k in enumerate(keyword, 1)]
        headings = {k for k in keyword if (rows[k]["heading_rank"] or 0) > 0}
        # keyword_score >= 1: the chunk has every term or an identifier of the query (see search_sql)
        partial = {k for k in keyword if float(rows[k]["keyword_score"]) < 1}
        return rrf(vector, keyword, config=fusion, heading_hits=headings, partial_hits=partial)

    @staticmethod
    def _chunk_result(row: dict[str, Any], fused: Fused[int]) -> SearchResult:
        return SearchResult(chunk_id=int(row["item_id"]), page_id=int(row["page_id"]), source_id=row["source_id"],
                            url=row["url"], title=row["title"], headings=list(row["headings"]),
                            content=row["content"], score=round(fused.score, 6), match_type=fused.match_type,
                            indexed_at=row["indexed_at"])

    @staticmethod
    def _code_result(row: dict[str, Any], fused: Fused[int]) -> CodeExampleResult:
        return CodeExampleResult(id=int(row["item_id"]), page_id=int(row["page_id"]), source_id=row["source_id"],
                                 url=row["url"], title=row["title"] or row["page_title"], summary=row["summary"],
                                 code=row["code"], language=row["language"], score=round(fused.score, 6),
                                 match_type=fused.match_type, indexed_at=row["indexed_at"])

    @staticmethod
    def _pages(results: list[SearchResult], limit: int) -> list[SearchResult]:
        groups = group_pages([(i, r.page_id, r.score) for i, r in enumerate(results)], limit=limit)
        pages = []
        for g in groups:
            best = results[g.best]
            best.score, best.chunk_matches = round(g.score, 6), len(g.keys)
            pages.append(best)
        return pages

    def _should_rerank(self, wanted: bool, notices: list[str]) -> bool:
        if wanted and self.reranker is None:
            notices.append("rerank requested but no reranker is configured "
                           "(ARCHON_RERANK_URL or ARCHON_RERANK_MODEL)")
        return bool(wanted and self.reranker is not None)

    async def _rerank(self, query: str, results: list[Any], *, keep: int,
                      notices: list[str]) -> tuple[list[Any], bool]:
        """Rerank the top candidates; on any reranker failure keep the fused order and say so in a notice."""
        assert self.reranker is not None
        pool = results[:max(keep * 4, 20)]
        texts = [" > ".join(r.headings) + "\n" + r.content if isinstance(r, SearchResult)
                 else f"{r.title}\n{r.summary}\n{r.code}" for r in pool]
        try:
            scores = await self.reranker.score(query, texts)
        except Exception as exc:  # a reranker is an optional extra: search answers without it
            log.warning("rerank failed (%s): %s", self.reranker.name, exc)
            notices.append(f"rerank failed, results are not reranked: {exc}")
            return results, False
        for r, s in zip(pool, scores, strict=True):
            r.score = round(float(s), 6)
        return sorted(pool, key=lambda r: -r.score), True
