"""SQL for sources, pages, chunks, code examples and their vectors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from pgvector import HalfVector, Vector
from psycopg import sql

from archon.db.pool import Connection, Database
from archon.knowledge.models import EmbeddingModel, PageInput

_DELETE_BATCH = 200  # pages per transaction when deleting a source: big sources never hit a timeout


def _vector(model: EmbeddingModel, values: Sequence[float]) -> Vector | HalfVector:
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (model.dimensions,):
        raise ValueError(f"vector has {array.shape[0]} dimensions, model {model.model} has {model.dimensions}")
    if not np.any(array):
        raise ValueError("refusing to store a zero vector")
    return HalfVector(array) if model.uses_halfvec else Vector(array)


async def _copy_vectors(conn: Connection, table: str, id_column: str, model: EmbeddingModel, source_id: str,
                        ids: Sequence[int], vectors: Sequence[Sequence[float]]) -> None:
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} rows but {len(vectors)} vectors")
    if not ids:
        return
    statement = sql.SQL(
        "COPY {table} (model_id, {id_col}, source_id, {vec_col}) FROM STDIN WITH (FORMAT BINARY)"
    ).format(table=sql.Identifier(table), id_col=sql.Identifier(id_column), vec_col=sql.Identifier(model.column))
    async with conn.cursor().copy(statement) as copy:
        copy.set_types(["integer", "bigint", "text", "halfvec" if model.uses_halfvec else "vector"])
        for row_id, values in zip(ids, vectors, strict=True):
            await copy.write_row((model.id, row_id, source_id, _vector(model, values)))


class KnowledgeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- pages -------------------------------------------------------------------
    async def replace_page(self, source_id: str, page: PageInput, *, model: EmbeddingModel,
                           chunk_vectors: Sequence[Sequence[float]],
                           code_vectors: Sequence[Sequence[float]] = ()) -> int:
        """Store a page with its chunks, code examples and vectors in one transaction; return the page id.

        An existing page with the same URL in the source is replaced: readers see the old page or the
        new one, never a mix, and re-running after a crash leaves no duplicates.
        """
        async with self.db.transaction() as conn:
            return await self.write_page(conn, source_id, page, model=model, chunk_vectors=chunk_vectors,
                                         code_vectors=code_vectors)

    async def write_page(self, conn: Connection, source_id: str, page: PageInput, *, model: EmbeddingModel,
                         chunk_vectors: Sequence[Sequence[float]],
                         code_vectors: Sequence[Sequence[float]] = ()) -> int:
        """replace_page's writes on `conn`, inside the caller's transaction (a refresh's swap); the page id."""
        if len(chunk_vectors) != len(page.chunks) or len(code_vectors) != len(page.code_examples):
            raise ValueError("one vector per chunk and per code example is required")
        row = await (await conn.execute(
            """
            INSERT INTO archon_pages (source_id, url, title, markdown, content_hash, etag, last_modified,
                                      word_count, section_order, metadata, indexed_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
            ON CONFLICT (source_id, url) DO UPDATE SET
                title = EXCLUDED.title, markdown = EXCLUDED.markdown, content_hash = EXCLUDED.content_hash,
                etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, word_count = EXCLUDED.word_count,
                section_order = EXCLUDED.section_order, metadata = EXCLUDED.metadata, indexed_at = now()
            RETURNING id
            """,
            (source_id, page.url, page.title, page.markdown, page.content_hash, page.etag, page.last_modified,
             page.word_count, page.section_order, json.dumps(page.metadata)),
        )).fetchone()
        assert row is not None
        page_id = int(row["id"])
        await conn.execute("DELETE FROM archon_chunks WHERE page_id = %s", (page_id,))
        await conn.execute("DELETE FROM archon_code_examples WHERE page_id = %s", (page_id,))
        chunk_ids = await self._insert_chunks(conn, source_id, page_id, page)
        await _copy_vectors(conn, "archon_chunk_embeddings", "chunk_id", model, source_id, chunk_ids,
                            chunk_vectors)
        code_ids = await self._insert_code_examples(conn, source_id, page_id, page)
        await _copy_vectors(conn, "archon_code_embeddings", "code_example_id", model, source_id, code_ids,
                            code_vectors)
        return page_id

    async def _insert_chunks(self, conn: Connection, source_id: str, page_id: int, page: PageInput) -> list[int]:
        if not page.chunks:
            return []
        records = [
            {"chunk_index": i, "content": c.content, "headings": c.headings, "heading_path": c.heading_path,
             "token_count": c.token_count, "metadata": c.metadata}
            for i, c in enumerate(page.chunks)
        ]
        rows = await (await conn.execute(
            """
            INSERT INTO archon_chunks (source_id, page_id, chunk_index, content, headings, heading_path,
                                       token_count, metadata)
            SELECT %s, %s, r.chunk_index, r.content, r.headings, r.heading_path, r.token_count, r.metadata
            FROM jsonb_to_recordset(%s::jsonb) AS r(chunk_index int, content text, headings text[],
                                                   heading_path text, token_count int, metadata jsonb)
            ORDER BY r.chunk_index
            RETURNING id, chunk_index
            """,
            (source_id, page_id, json.dumps(records)),
        )).fetchall()
        by_index = {int(r["chunk_index"]): int(r["id"]) for r in rows}
        return [by_index[i] for i in range(len(records))]

    async def _insert_code_examples(self, conn: Connection, source_id: str, page_id: int,
                                    page: PageInput) -> list[int]:
        if not page.code_examples:
            return []
        records = [
            {"position": e.position, "language": e.language, "title": e.title, "summary": e.summary,
             "code": e.code, "context": e.context}
            for e in page.code_examples
        ]
        rows = await (await conn.execute(
            """
            INSERT INTO archon_code_examples (source_id, page_id, position, language, title, summary, code, context)
            SELECT %s, %s, r.position, r.language, r.title, r.summary, r.code, r.context
            FROM jsonb_to_recordset(%s::jsonb) AS r(position int, language text, title text, summary text,
                                                   code text, context text)
            RETURNING id, position
            """,
            (source_id, page_id, json.dumps(records)),
        )).fetchall()
        by_position = {int(r["position"]): int(r["id"]) for r in rows}
        return [by_position[e.position] for e in page.code_examples]

    async def delete_page(self, source_id: str, url: str) -> bool:
        async with self.db.connection() as conn:
            cur = await conn.execute("DELETE FROM archon_pages WHERE source_id = %s AND url = %s", (source_id, url))
            return cur.rowcount > 0

    async def page_fingerprints(self, source_id: str) -> dict[str, dict[str, Any]]:
        """url -> {id, content_hash, etag, last_modified}: what a refresh compares against."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT id, url, content_hash, etag, last_modified FROM archon_pages WHERE source_id = %s",
                (source_id,))).fetchall()
        return {str(r["url"]): dict(r) for r in rows}

    # --- sources -----------------------------------------------------------------
    async def delete_source(self, source_id: str) -> bool:
        """Delete a source in page batches (each its own transaction), then the source row."""
        while True:
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "DELETE FROM archon_pages WHERE id IN "
                    "(SELECT id FROM archon_pages WHERE source_id = %s LIMIT %s)", (source_id, _DELETE_BATCH))
                if cur.rowcount == 0:
                    break
        async with self.db.connection() as conn:
            cur = await conn.execute("DELETE FROM archon_sources WHERE id = %s", (source_id,))
            return cur.rowcount > 0

    async def counts(self, source_id: str) -> dict[str, int]:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                """
                SELECT (SELECT count(*) FROM archon_pages WHERE source_id = %(s)s) AS page_count,
                       (SELECT count(*) FROM archon_chunks WHERE source_id = %(s)s) AS chunk_count,
                       (SELECT count(*) FROM archon_code_examples WHERE source_id = %(s)s) AS code_example_count
                """, {"s": source_id})).fetchone()
        assert row is not None
        return {k: int(v) for k, v in row.items()}
