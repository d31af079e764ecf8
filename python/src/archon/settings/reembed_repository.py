"""SQL of a model switch: items still lacking the new model's vectors, batched writes, dropping a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector import HalfVector, Vector
from psycopg import sql

from archon.db.pool import Database
from archon.knowledge.embedding_models import index_names
from archon.knowledge.models import EmbeddingModel

_DELETE_BATCH = 5000


@dataclass(frozen=True)
class Item:
    id: int
    source_id: str
    text: str


@dataclass(frozen=True)
class Kind:
    """One kind of embedded item: its table, the vectors table and how its text is built."""

    table: str
    vectors: str
    id_column: str
    text_sql: str


# What is embedded per item; kept equal to what ingestion embeds so vectors of both paths agree.
CHUNKS = Kind("archon_chunks", "archon_chunk_embeddings", "chunk_id",
              "concat_ws(E'\\n\\n', NULLIF(t.metadata->>'context', ''), NULLIF(t.heading_path, ''), t.content)")
CODE = Kind("archon_code_examples", "archon_code_embeddings", "code_example_id",
            "concat_ws(E'\\n\\n', NULLIF(t.title, ''), NULLIF(t.summary, ''), t.code)")


def _vector(model: EmbeddingModel, values: Sequence[float]) -> Vector | HalfVector:
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (model.dimensions,):
        raise ValueError(f"vector has {array.shape[0]} dimensions, model {model.model} has {model.dimensions}")
    if not np.any(array):
        raise ValueError("refusing to store a zero vector")
    return HalfVector(array) if model.uses_halfvec else Vector(array)


class ReembedRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def model(self, model_id: int) -> EmbeddingModel | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                "SELECT id, provider, model, dimensions FROM archon_embedding_models WHERE id = %s",
                (model_id,))).fetchone()
        if row is None:
            return None
        return EmbeddingModel(int(row["id"]), str(row["provider"]), str(row["model"]), int(row["dimensions"]))

    async def models(self) -> list[dict[str, Any]]:
        """Every registered model with its vector counts, newest first."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                """
                SELECT m.id, m.provider, m.model, m.dimensions, m.is_active, m.created_at,
                       (SELECT count(*) FROM archon_chunk_embeddings e WHERE e.model_id = m.id) AS chunk_vectors,
                       (SELECT count(*) FROM archon_code_embeddings e WHERE e.model_id = m.id) AS code_vectors
                FROM archon_embedding_models m ORDER BY m.id DESC
                """)).fetchall()
        return [dict(r) for r in rows]

    async def counts(self, kind: Kind, model_id: int) -> tuple[int, int]:
        """(items, items still lacking a vector of `model_id`)."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(sql.SQL(
                "SELECT count(*) AS total, count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {vectors} e "
                "WHERE e.model_id = %s AND e.{id_col} = t.id)) AS missing FROM {table} t").format(
                    vectors=sql.Identifier(kind.vectors), id_col=sql.Identifier(kind.id_column),
                    table=sql.Identifier(kind.table)), (model_id,))).fetchone()
        assert row is not None
        return int(row["total"]), int(row["missing"])

    async def missing(self, kind: Kind, model_id: int, *, after_id: int, limit: int,
                      page_id: int | None = None) -> list[Item]:
        """The next `limit` items (by id, after `after_id`; of one page if given) with no vector of `model_id`."""
        page_filter = sql.SQL("AND t.page_id = %s ") if page_id is not None else sql.SQL("")
        params = (after_id, *([page_id] if page_id is not None else []), model_id, limit)
        async with self.db.connection() as conn:
            rows = await (await conn.execute(sql.SQL(
                "SELECT t.id, t.source_id, {text} AS text FROM {table} t WHERE t.id > %s {page} AND NOT EXISTS "
                "(SELECT 1 FROM {vectors} e WHERE e.model_id = %s AND e.{id_col} = t.id) ORDER BY t.id LIMIT %s"
            ).format(text=sql.SQL(kind.text_sql), table=sql.Identifier(kind.table), page=page_filter,
                     vectors=sql.Identifier(kind.vectors), id_col=sql.Identifier(kind.id_column)),
                params)).fetchall()
        return [Item(int(r["id"]), str(r["source_id"]), str(r["text"])) for r in rows]

    async def store(self, kind: Kind, model: EmbeddingModel, items: Sequence[Item],
                    vectors: Sequence[Sequence[float]]) -> int:
        """Write one batch in one transaction; items deleted meanwhile are skipped. Returns rows written."""
        if len(items) != len(vectors):
            raise ValueError(f"{len(items)} items but {len(vectors)} vectors")
        statement = sql.SQL(
            "INSERT INTO {vectors} (model_id, {id_col}, source_id, {col}) "
            "SELECT %s, t.id, t.source_id, %s FROM {table} t WHERE t.id = %s "
            "ON CONFLICT (model_id, {id_col}) DO NOTHING"
        ).format(vectors=sql.Identifier(kind.vectors), id_col=sql.Identifier(kind.id_column),
                 col=sql.Identifier(model.column), table=sql.Identifier(kind.table))
        params = [(model.id, _vector(model, v), item.id) for item, v in zip(items, vectors, strict=True)]
        async with self.db.transaction() as conn, conn.cursor() as cur:
            await cur.executemany(statement, params)
            return max(cur.rowcount, 0)

    async def drop_indexes(self, model: EmbeddingModel) -> None:
        """Drop the model's HNSW indexes (a bulk fill then builds them once: far cheaper than row by row)."""
        async with self.db.connection() as conn:
            for name in index_names(model):
                await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))

    async def ensure_indexes(self, model: EmbeddingModel) -> list[str]:
        """(Re)build whichever of the model's HNSW indexes is missing or invalid; returns the names built.

        CONCURRENTLY: ingestion keeps writing (old-model) vectors to the same tables meanwhile. The
        statement repeats embedding_models._create_indexes' expression, which search queries rely on.
        """
        names = index_names(model)
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT c.relname, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = ANY(%s)", (list(names),))).fetchall()
            valid = {str(r["relname"]) for r in rows if r["indisvalid"]}
            built: list[str] = []
            ops = "halfvec_cosine_ops" if model.uses_halfvec else "vector_cosine_ops"
            await conn.execute("SET maintenance_work_mem = '512MB'")  # HNSW builds 3x faster than at 64MB
            try:
                for kind, name in zip((CHUNKS, CODE), names, strict=True):
                    if name in valid:
                        continue
                    await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
                    await conn.execute(sql.SQL(
                        "CREATE INDEX CONCURRENTLY {name} ON {table} USING hnsw (({col}::{typ}) {ops}) "
                        "WHERE model_id = {mid}").format(
                            name=sql.Identifier(name), table=sql.Identifier(kind.vectors),
                            col=sql.Identifier(model.column), typ=sql.SQL(model.sql_type), ops=sql.SQL(ops),
                            mid=sql.Literal(model.id)))
                    built.append(name)
            finally:
                await conn.execute("RESET maintenance_work_mem")
        return built

    async def drop_model(self, model: EmbeddingModel) -> int:
        """Delete a model's vectors in batches (short transactions), its HNSW indexes and its row."""
        deleted = 0
        for kind in (CHUNKS, CODE):
            while True:
                async with self.db.connection() as conn:
                    cur = await conn.execute(sql.SQL(
                        "DELETE FROM {vectors} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {vectors} "
                        "WHERE model_id = %s LIMIT %s))").format(vectors=sql.Identifier(kind.vectors)),
                        (model.id, _DELETE_BATCH))
                if cur.rowcount <= 0:
                    break
                deleted += cur.rowcount
        async with self.db.transaction() as conn:
            for name in index_names(model):
                await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
            await conn.execute("DELETE FROM archon_embedding_models WHERE id = %s AND NOT is_active", (model.id,))
        return deleted
