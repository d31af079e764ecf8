"""SQL for the source rows and the paginated listings of a source's pages, chunks and code examples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from archon.db.pool import Database

_SOURCE_COLUMNS = """
    s.id AS source_id, s.source_type, s.url, s.title, s.summary, s.knowledge_type, s.tags, s.config,
    s.update_frequency_days, s.status, s.error, s.last_indexed_at, s.next_refresh_at, s.created_at, s.updated_at,
    (SELECT count(*) FROM archon_pages p WHERE p.source_id = s.id) AS page_count,
    (SELECT count(*) FROM archon_chunks c WHERE c.source_id = s.id) AS chunk_count,
    (SELECT count(*) FROM archon_code_examples e WHERE e.source_id = s.id) AS code_example_count
"""

_FILTER = """
    (%(knowledge_type)s::text IS NULL OR s.knowledge_type = %(knowledge_type)s)
    AND (%(tag)s::text IS NULL OR %(tag)s = ANY(s.tags))
    AND (%(text)s::text IS NULL OR s.title ILIKE %(pattern)s OR s.url ILIKE %(pattern)s
         OR s.summary ILIKE %(pattern)s)
"""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SourcesRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, *, source_id: str, source_type: str, url: str | None, title: str,
                     knowledge_type: str, tags: list[str], config: dict[str, Any],
                     update_frequency_days: int | None) -> bool:
        """Insert the source or refresh its settings; True when it was new."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                """
                INSERT INTO archon_sources (id, source_type, url, title, knowledge_type, tags, config,
                                            update_frequency_days)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET
                    url = EXCLUDED.url, title = CASE WHEN EXCLUDED.title = '' THEN archon_sources.title
                                                     ELSE EXCLUDED.title END,
                    knowledge_type = EXCLUDED.knowledge_type, tags = EXCLUDED.tags, config = EXCLUDED.config,
                    update_frequency_days = EXCLUDED.update_frequency_days
                RETURNING (xmax = 0) AS inserted
                """,
                (source_id, source_type, url, title, knowledge_type, tags, json.dumps(config), update_frequency_days),
            )).fetchone()
        return bool(row and row["inserted"])

    async def get(self, source_id: str) -> dict[str, Any] | None:
        async with self.db.connection() as conn:
            return await (await conn.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM archon_sources s WHERE s.id = %s", (source_id,))).fetchone()

    async def list_sources(self, *, offset: int, limit: int, knowledge_type: str | None, tag: str | None,
                   text: str | None) -> tuple[list[dict[str, Any]], int]:
        params = {"knowledge_type": knowledge_type, "tag": tag, "text": text,
                  "pattern": _like(text) if text else None, "limit": limit, "offset": offset}
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM archon_sources s WHERE {_FILTER} "
                "ORDER BY s.created_at DESC, s.id LIMIT %(limit)s OFFSET %(offset)s", params)).fetchall()
            total = await (await conn.execute(
                f"SELECT count(*) AS n FROM archon_sources s WHERE {_FILTER}", params)).fetchone()
        return rows, int(total["n"]) if total else 0

    async def update(self, source_id: str, changes: dict[str, Any]) -> bool:
        """Set the given columns (already validated names); True if the source exists."""
        if not changes:
            async with self.db.connection() as conn:
                row = await (await conn.execute("SELECT 1 FROM archon_sources WHERE id = %s",
                                                (source_id,))).fetchone()
            return row is not None
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        extra = ""
        if "update_frequency_days" in changes:
            # Keep the schedule consistent with the new frequency.
            extra = (", next_refresh_at = CASE WHEN %(update_frequency_days)s::int IS NULL THEN NULL "
                     "ELSE COALESCE(last_indexed_at, now()) "
                     "+ make_interval(days => %(update_frequency_days)s::int) END")
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"UPDATE archon_sources SET {assignments}{extra} WHERE id = %(source_id)s",
                {**changes, "source_id": source_id})
            return cur.rowcount > 0

    async def set_status(self, source_id: str, status: str, *, error: str | None,
                         last_indexed_at: datetime | None, touch_indexed: bool) -> bool:
        async with self.db.connection() as conn:
            cur = await conn.execute(
                """
                UPDATE archon_sources SET status = %(status)s, error = %(error)s,
                    last_indexed_at = CASE WHEN %(touch)s THEN COALESCE(%(at)s::timestamptz, now())
                                           ELSE last_indexed_at END,
                    next_refresh_at = CASE WHEN %(touch)s AND update_frequency_days IS NOT NULL
                        THEN COALESCE(%(at)s::timestamptz, now()) + make_interval(days => update_frequency_days)
                        ELSE next_refresh_at END
                WHERE id = %(id)s
                """,
                {"status": status, "error": error, "touch": touch_indexed, "at": last_indexed_at, "id": source_id})
            return cur.rowcount > 0

    async def _page_of(self, table_sql: str, columns: str, order: str, source_id: str, offset: int,
                       limit: int) -> tuple[list[dict[str, Any]], int]:
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {columns} FROM {table_sql} WHERE x.source_id = %s ORDER BY {order} LIMIT %s OFFSET %s",
                (source_id, limit, offset))).fetchall()
            total = await (await conn.execute(
                f"SELECT count(*) AS n FROM {table_sql} WHERE x.source_id = %s", (source_id,))).fetchone()
        return rows, int(total["n"]) if total else 0

    async def pages(self, source_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return await self._page_of(
            "archon_pages x",
            "x.id, x.url, x.title, x.word_count, x.content_hash, x.section_order, x.indexed_at, "
            "(SELECT count(*) FROM archon_chunks c WHERE c.page_id = x.id) AS chunk_count",
            "x.section_order NULLS LAST, x.url", source_id, offset, limit)

    async def chunks(self, source_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return await self._page_of(
            "archon_chunks x JOIN archon_pages p ON p.id = x.page_id",
            "x.id, x.page_id, p.url, p.title AS page_title, x.chunk_index, x.content, x.headings, x.heading_path, "
            "x.token_count, x.metadata",
            "p.section_order NULLS LAST, p.url, x.chunk_index", source_id, offset, limit)

    async def code_examples(self, source_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return await self._page_of(
            "archon_code_examples x JOIN archon_pages p ON p.id = x.page_id",
            "x.id, x.page_id, p.url, x.position, x.language, x.title, x.summary, x.code, x.context",
            "p.section_order NULLS LAST, p.url, x.position", source_id, offset, limit)

    async def page_counts(self, page_id: int) -> tuple[int, int]:
        """(chunks, code examples) stored for one page."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                "SELECT (SELECT count(*) FROM archon_chunks WHERE page_id = %(p)s) AS chunks, "
                "(SELECT count(*) FROM archon_code_examples WHERE page_id = %(p)s) AS code", {"p": page_id},
            )).fetchone()
        assert row is not None
        return int(row["chunks"]), int(row["code"])
