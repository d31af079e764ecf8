"""SQL for knowledge packs: read a source for export, stage pack bytes for a job, swap an import in."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from archon.db.pool import Database
from archon.jobs.events import SOURCE_ADDED, SOURCE_DELETED, notify_knowledge
from archon.knowledge.models import EmbeddingModel

_CHILD_TABLES = ("archon_pages", "archon_chunks", "archon_code_examples", "archon_chunk_embeddings",
                 "archon_code_embeddings")
_SOURCE_FIELDS = ("source_type, url, title, summary, knowledge_type, tags, config, update_frequency_days, status, "
                  "error, last_indexed_at, next_refresh_at")


class PackRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- export --------------------------------------------------------------------
    async def pages(self, source_id: str) -> list[dict[str, Any]]:
        async with self.db.connection() as conn:
            return await (await conn.execute(
                "SELECT id, url, title, markdown, content_hash, etag, last_modified, section_order, metadata "
                "FROM archon_pages WHERE source_id = %s ORDER BY id", (source_id,))).fetchall()

    async def chunks(self, source_id: str, model: EmbeddingModel) -> list[dict[str, Any]]:
        """Chunks in (page, chunk_index) order with the model's vector as real[] (NULL when missing)."""
        async with self.db.connection() as conn:
            return await (await conn.execute(
                "SELECT c.page_id, c.chunk_index, c.content, c.headings, c.token_count, c.metadata, "
                "COALESCE(e.embedding, e.embedding_half::vector)::real[] AS vector "
                "FROM archon_chunks c LEFT JOIN archon_chunk_embeddings e "
                "ON e.chunk_id = c.id AND e.model_id = %s "
                "WHERE c.source_id = %s ORDER BY c.page_id, c.chunk_index", (model.id, source_id))).fetchall()

    async def code_examples(self, source_id: str, model: EmbeddingModel) -> list[dict[str, Any]]:
        async with self.db.connection() as conn:
            return await (await conn.execute(
                "SELECT x.page_id, x.position, x.language, x.title, x.summary, x.code, x.context, "
                "COALESCE(e.embedding, e.embedding_half::vector)::real[] AS vector "
                "FROM archon_code_examples x LEFT JOIN archon_code_embeddings e "
                "ON e.code_example_id = x.id AND e.model_id = %s "
                "WHERE x.source_id = %s ORDER BY x.page_id, x.position", (model.id, source_id))).fetchall()

    # --- staged pack bytes (so any worker process can run the import job) ------------
    async def stage(self, job_id: str, data: bytes, filename: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO archon_upload_files (job_id, filename, content_type, size_bytes, sha256, data) "
                "VALUES (%s, %s, 'application/zip', %s, %s, %s)",
                (job_id, filename, len(data), hashlib.sha256(data).hexdigest(), data))

    async def staged(self, job_id: str) -> bytes | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                "SELECT data FROM archon_upload_files WHERE job_id = %s ORDER BY id LIMIT 1", (job_id,))).fetchone()
        return bytes(row["data"]) if row and row["data"] else None

    async def drop_staged(self, job_id: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute("UPDATE archon_upload_files SET data = ''::bytea, status = 'done' WHERE job_id = %s",
                               (job_id,))

    # --- import --------------------------------------------------------------------
    async def create_staging_source(self, staging_id: str, source: dict[str, Any]) -> None:
        """The hidden row an import writes under until it is complete."""
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO archon_sources (id, source_type, url, title, summary, knowledge_type, tags, config, "
                "update_frequency_days, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'processing')",
                (staging_id, source["source_type"], source.get("url"), source.get("title", ""),
                 source.get("summary", ""), source["knowledge_type"], source.get("tags", []),
                 json.dumps(source.get("config", {})), source.get("update_frequency_days")))

    async def exists(self, source_id: str) -> bool:
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT 1 FROM archon_sources WHERE id = %s", (source_id,))).fetchone()
        return row is not None

    async def swap_in(self, staging_id: str, source_id: str) -> bool:
        """In one transaction: drop the old source (keeping its project links), move the staged rows to
        `source_id`. Readers see the old source or the new one, never neither. True if one was replaced."""
        async with self.db.transaction() as conn:
            links = await (await conn.execute(
                "SELECT project_id, relation, created_at FROM archon_project_sources WHERE source_id = %s",
                (source_id,))).fetchall()
            replaced = (await conn.execute("DELETE FROM archon_sources WHERE id = %s", (source_id,))).rowcount > 0
            await conn.execute(
                f"INSERT INTO archon_sources (id, {_SOURCE_FIELDS}) SELECT %s, {_SOURCE_FIELDS} "
                "FROM archon_sources WHERE id = %s", (source_id, staging_id))
            await conn.execute(
                "UPDATE archon_sources SET status = 'ready', error = NULL, last_indexed_at = now() WHERE id = %s",
                (source_id,))
            for table in _CHILD_TABLES:
                await conn.execute(f"UPDATE {table} SET source_id = %s WHERE source_id = %s",
                                   (source_id, staging_id))
            for link in links:
                await conn.execute(
                    "INSERT INTO archon_project_sources (project_id, source_id, relation, created_at) "
                    "VALUES (%s, %s, %s, %s)", (link["project_id"], source_id, link["relation"], link["created_at"]))
            await conn.execute("DELETE FROM archon_sources WHERE id = %s", (staging_id,))
            await notify_knowledge(conn, SOURCE_ADDED, sourceId=source_id)
        return replaced

    async def discard(self, staging_id: str) -> None:
        """Remove a half-written staging source (after an error or cancel)."""
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM archon_sources WHERE id = %s", (staging_id,))
            await notify_knowledge(conn, SOURCE_DELETED, sourceId=staging_id)

    async def discard_prefix(self, prefix: str) -> None:
        """Remove staging sources whose id starts with `prefix` (left by an interrupted import)."""
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM archon_sources WHERE id LIKE %s", (prefix.replace("_", "\\_") + "%",))
