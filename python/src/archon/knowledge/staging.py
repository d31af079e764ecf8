"""Run versioning of re-crawls: a refresh stages its changed pages and swaps them in at the end.

Why separate staging rows (archon_staged_pages, migration 004) rather than hidden rows in the live
tables: search, page listings and counts read archon_pages/archon_chunks and the embedding tables
with no notion of a run, and the per-model partial HNSW indexes and GIN indexes stay exactly as
they are, so search SQL is unchanged and no slower. The cost moves to the swap, which writes the
staged pages' chunks and vectors into the live tables (HNSW insertion included) in one transaction.
Vectors are computed before staging, so the swap holds no transaction across a network call.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from archon.db.pool import Database
from archon.knowledge.crawling.frontier import DELETE_VANISHED_PAGES
from archon.knowledge.models import ChunkInput, CodeExampleInput, EmbeddingModel, PageInput
from archon.knowledge.repository import KnowledgeRepository

_SWAP_BATCH = 50  # staged pages read per round trip during the swap (bounds memory for big refreshes)


@dataclass(frozen=True)
class SwapResult:
    written: list[int]  # live page ids written from the stage (changed and new pages)
    models: set[EmbeddingModel]  # the models the written vectors were made with
    deleted: list[str]  # URLs of live pages removed (vanished, or tombstoned sections)


def _pack(model: EmbeddingModel, vectors: Sequence[Sequence[float]]) -> bytes:
    """float32 bytes of `vectors`, refusing wrong sizes and zero vectors now rather than at the swap."""
    if not vectors:
        return b""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != model.dimensions:
        raise ValueError(f"vectors of shape {array.shape}, model {model.model} has {model.dimensions} dimensions")
    if not np.all(np.any(array, axis=1)):
        raise ValueError("refusing to stage a zero vector")
    return array.tobytes()


def _unpack(data: bytes | None, dimensions: int) -> Sequence[Sequence[float]]:
    if not data:
        return []
    # A 2-D array is a sequence of rows; the repository converts each row to a pgvector value anyway.
    return cast(Sequence[Sequence[float]], np.frombuffer(data, dtype=np.float32).reshape(-1, dimensions))


def _page_json(page: PageInput) -> str:
    return json.dumps(dataclasses.asdict(page))


def _page_of(data: dict[str, Any]) -> PageInput:
    fields = dict(data)
    chunks = [ChunkInput(**c) for c in fields.pop("chunks", [])]
    examples = [CodeExampleInput(**e) for e in fields.pop("code_examples", [])]
    return PageInput(**fields, chunks=chunks, code_examples=examples)


class StagingRepository:
    """SQL for archon_staged_pages: stage, tombstone, swap into the live tables, discard."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def stage_page(self, job_id: str, source_id: str, page: PageInput, *, model: EmbeddingModel,
                         chunk_vectors: Sequence[Sequence[float]],
                         code_vectors: Sequence[Sequence[float]] = ()) -> int | None:
        """Stage a page of refresh `job_id` (replacing its earlier staging); the live page id for its URL, if any."""
        if len(chunk_vectors) != len(page.chunks) or len(code_vectors) != len(page.code_examples):
            raise ValueError("one vector per chunk and per code example is required")
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                """
                WITH staged AS (
                    INSERT INTO archon_staged_pages (job_id, source_id, url, page, model_id, chunk_vectors,
                                                     code_vectors)
                    VALUES (%(job)s, %(source)s, %(url)s, %(page)s::jsonb, %(model)s, %(cv)s, %(xv)s)
                    ON CONFLICT (job_id, url) DO UPDATE SET
                        page = EXCLUDED.page, model_id = EXCLUDED.model_id, chunk_vectors = EXCLUDED.chunk_vectors,
                        code_vectors = EXCLUDED.code_vectors, staged_at = now())
                SELECT (SELECT id FROM archon_pages WHERE source_id = %(source)s AND url = %(url)s) AS page_id
                """,
                {"job": job_id, "source": source_id, "url": page.url, "page": _page_json(page), "model": model.id,
                 "cv": _pack(model, chunk_vectors), "xv": _pack(model, code_vectors)})).fetchone()
        return int(row["page_id"]) if row and row["page_id"] is not None else None

    async def stage_stale_sections(self, job_id: str, source_id: str, base_url: str, keep: Sequence[str]) -> int:
        """Tombstone the live llms-full sections (`base#slug` pages) the file no longer has; return how many."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                """
                INSERT INTO archon_staged_pages (job_id, source_id, url)
                SELECT %(job)s, %(source)s, p.url FROM archon_pages p
                WHERE p.source_id = %(source)s AND p.url LIKE %(prefix)s AND NOT (p.url = ANY(%(keep)s))
                ON CONFLICT (job_id, url) DO UPDATE SET page = NULL, model_id = NULL, chunk_vectors = NULL,
                                                        code_vectors = NULL, staged_at = now()
                """,
                {"job": job_id, "source": source_id, "keep": list(keep),
                 "prefix": base_url.replace("%", r"\%").replace("_", r"\_") + "#%"})
            return cur.rowcount

    async def swap(self, job_id: str, source_id: str) -> SwapResult:
        """In one transaction: write the staged pages live, delete tombstoned and vanished pages, empty the stage.

        Readers see the previous run until the commit and the new one after it. Re-running it after a
        crash (before or after the commit) ends in the same state: it is idempotent. No lock is taken: one
        crawl of a source runs at a time, and the pages' foreign key already makes a concurrent delete of
        the source wait for the commit (user edits of the source's title or tags do not wait).
        """
        repository = KnowledgeRepository(self.db)
        written: list[int] = []
        models: set[EmbeddingModel] = set()
        async with self.db.transaction() as conn:
            after = 0
            while True:
                rows = await (await conn.execute(
                    "SELECT s.id, s.page, s.chunk_vectors, s.code_vectors, m.id AS model_id, m.provider, m.model, "
                    "m.dimensions FROM archon_staged_pages s JOIN archon_embedding_models m ON m.id = s.model_id "
                    "WHERE s.job_id = %s AND s.page IS NOT NULL AND s.id > %s ORDER BY s.id LIMIT %s",
                    (job_id, after, _SWAP_BATCH))).fetchall()
                if not rows:
                    break
                for row in rows:
                    model = EmbeddingModel(int(row["model_id"]), row["provider"], row["model"], int(row["dimensions"]))
                    page = _page_of(row["page"])
                    written.append(await repository.write_page(
                        conn, source_id, page, model=model,
                        chunk_vectors=_unpack(row["chunk_vectors"], model.dimensions),
                        code_vectors=_unpack(row["code_vectors"], model.dimensions)))
                    models.add(model)
                after = int(rows[-1]["id"])
            tombstoned = await (await conn.execute(
                "DELETE FROM archon_pages p USING archon_staged_pages s WHERE s.job_id = %s AND s.page IS NULL "
                "AND p.source_id = %s AND p.url = s.url RETURNING p.url", (job_id, source_id))).fetchall()
            vanished = await (await conn.execute(
                DELETE_VANISHED_PAGES, {"source": source_id, "job": job_id, "keep": written})).fetchall()
            # Frontier rows of new pages get their page id now (progress counts and the next refresh use it).
            await conn.execute(
                "UPDATE archon_crawl_urls u SET page_id = p.id FROM archon_pages p WHERE u.job_id = %s "
                "AND u.status = 'done' AND u.page_id IS NULL AND p.source_id = %s AND p.url = u.url",
                (job_id, source_id))
            await conn.execute("DELETE FROM archon_staged_pages WHERE job_id = %s", (job_id,))
        deleted = [str(r["url"]) for r in tombstoned] + [str(r["url"]) for r in vanished]
        return SwapResult(written=written, models=models, deleted=deleted)

    async def discard(self, job_id: str) -> int:
        """Drop everything refresh `job_id` staged (it failed or was cancelled); return how many rows."""
        async with self.db.connection() as conn:
            cur = await conn.execute("DELETE FROM archon_staged_pages WHERE job_id = %s", (job_id,))
            return cur.rowcount

    async def discard_finished(self, source_id: str) -> int:
        """Drop staged rows of the source's finished jobs (left by a job whose own cleanup could not run)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM archon_staged_pages s USING archon_jobs j WHERE s.source_id = %s AND j.id = s.job_id "
                "AND j.status IN ('completed', 'error', 'cancelled')", (source_id,))
            return cur.rowcount

    async def count(self, job_id: str) -> int:
        """Rows staged by `job_id` (pages and tombstones)."""
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT count(*) AS n FROM archon_staged_pages WHERE job_id = %s",
                                            (job_id,))).fetchone()
        return int(row["n"]) if row else 0
