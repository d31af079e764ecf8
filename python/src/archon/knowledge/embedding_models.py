"""Repository of embedding models: registration (with its HNSW index) and the active model."""

from __future__ import annotations

from psycopg import sql

from archon.db.pool import Connection, Database
from archon.knowledge.models import EmbeddingModel

_COLUMNS = "id, provider, model, dimensions"


def _model(row: dict[str, object]) -> EmbeddingModel:
    return EmbeddingModel(int(str(row["id"])), str(row["provider"]), str(row["model"]), int(str(row["dimensions"])))


def index_names(model: EmbeddingModel) -> tuple[str, str]:
    return f"archon_chunk_emb_hnsw_m{model.id}", f"archon_code_emb_hnsw_m{model.id}"


async def _create_indexes(conn: Connection, model: EmbeddingModel) -> None:
    """Partial HNSW indexes on this model's rows; queries must repeat the cast and `model_id = <literal>`."""
    ops = "halfvec_cosine_ops" if model.uses_halfvec else "vector_cosine_ops"
    for table, name in zip(("archon_chunk_embeddings", "archon_code_embeddings"), index_names(model), strict=True):
        await conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw (({col}::{typ}) {ops}) "
                    "WHERE model_id = {mid}").format(
                name=sql.Identifier(name), table=sql.Identifier(table), col=sql.Identifier(model.column),
                typ=sql.SQL(model.sql_type), ops=sql.SQL(ops), mid=sql.Literal(model.id),
            )
        )


class EmbeddingModelRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure(self, provider: str, model: str, dimensions: int) -> EmbeddingModel:
        """Register the model if new (creating its indexes) and return it."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM archon_embedding_models "
                f"WHERE provider = %s AND model = %s AND dimensions = %s", (provider, model, dimensions))).fetchone()
        if row is not None:
            # Registered before, with its indexes (same transaction). Writing nothing here matters: the
            # upsert below locks the model row and CREATE INDEX the vector table, which deadlocks with
            # other workers storing vectors of this model (their foreign-key checks lock the row).
            return _model(row)
        async with self.db.transaction() as conn:
            row = await (await conn.execute(
                f"INSERT INTO archon_embedding_models (provider, model, dimensions) VALUES (%s, %s, %s) "
                f"ON CONFLICT (provider, model, dimensions) DO UPDATE SET provider = EXCLUDED.provider "
                f"RETURNING {_COLUMNS}",
                (provider, model, dimensions),
            )).fetchone()
            assert row is not None
            registered = _model(row)
            await _create_indexes(conn, registered)
        return registered

    async def active(self) -> EmbeddingModel | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM archon_embedding_models WHERE is_active")).fetchone()
        return _model(row) if row else None

    async def activate(self, model_id: int) -> None:
        """Make `model_id` the one search uses; atomic, so searches never see two active models."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE archon_embedding_models SET is_active = false WHERE is_active AND id <> %s",
                               (model_id,))
            await conn.execute("UPDATE archon_embedding_models SET is_active = true WHERE id = %s", (model_id,))

    async def ensure_active(self, provider: str, model: str, dimensions: int) -> EmbeddingModel:
        """Register the model and make it active if no model is active yet; return the active one."""
        registered = await self.ensure(provider, model, dimensions)
        current = await self.active()
        if current is None:
            await self.activate(registered.id)
            return registered
        return current
