"""SQL for folder and git sources."""

from __future__ import annotations

from archon.db.pool import Database


class LocalSourcesRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def due_for_refresh(self, limit: int = 20) -> list[str]:
        """Folder/git sources whose next_refresh_at has passed and that no job is working on."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                """
                SELECT s.id FROM archon_sources s
                WHERE s.source_type IN ('folder', 'git') AND s.update_frequency_days IS NOT NULL
                  AND s.next_refresh_at IS NOT NULL AND s.next_refresh_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM archon_jobs j WHERE j.source_id = s.id
                                  AND j.status IN ('queued', 'running'))
                ORDER BY s.next_refresh_at LIMIT %s
                """, (limit,))).fetchall()
        return [str(r["id"]) for r in rows]
