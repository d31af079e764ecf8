"""SQL for projects, their source links, the per-project lock and change notifications.

Repository functions take the connection of the caller's transaction, so a service composes a lock,
reads, writes and the NOTIFY into one atomic unit. Task and document SQL live in
`task_repository.py` and `document_repository.py`.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from archon.db.pool import Connection

CHANNEL = "archon_projects"
# Advisory-lock namespace ("ARCH"): the second key is the project's hash, so moves in one project serialise.
_LOCK_CLASS = 0x41524348

_PROJECT_COLUMNS = "id, title, description, github_repo, pinned, prd, features, data, created_at, updated_at"
_JSON_FIELDS = ("prd", "features", "data")


async def lock_project(conn: Connection, project_id: UUID) -> None:
    """Serialise every task-order change of a project until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, str(project_id)))


async def publish(conn: Connection, project_id: UUID, event: str, entity_id: UUID | str) -> None:
    """NOTIFY listeners (in any process) on commit; the payload is small, listeners load the entity."""
    payload = json.dumps({"project_id": str(project_id), "type": event, "id": str(entity_id)})
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


async def project_exists(conn: Connection, project_id: UUID) -> bool:
    row = await (await conn.execute("SELECT 1 AS x FROM archon_projects WHERE id = %s", (project_id,))).fetchone()
    return row is not None


async def insert_project(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    row = await (await conn.execute(
        f"""INSERT INTO archon_projects (title, description, github_repo, pinned, prd, features, data)
            VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_PROJECT_COLUMNS}""",
        (values["title"], values["description"], values["github_repo"], values["pinned"],
         Jsonb(values["prd"]), Jsonb(values["features"]), Jsonb(values["data"])),
    )).fetchone()
    assert row is not None
    return dict(row)


async def update_project(conn: Connection, project_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Apply `changes` (column -> value, columns from ProjectUpdate only) and return the row."""
    if not changes:
        return await get_project(conn, project_id)
    assignments = ", ".join(f"{column} = %s" for column in changes)  # column names come from the schema
    values = [Jsonb(v) if k in _JSON_FIELDS else v for k, v in changes.items()]
    row = await (await conn.execute(
        f"UPDATE archon_projects SET {assignments} WHERE id = %s RETURNING {_PROJECT_COLUMNS}",
        (*values, project_id),
    )).fetchone()
    return dict(row) if row else None


async def get_project(conn: Connection, project_id: UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await (await conn.execute(
        f"SELECT {_PROJECT_COLUMNS} FROM archon_projects WHERE id = %s{lock}", (project_id,))).fetchone()
    return dict(row) if row else None


async def list_projects(conn: Connection, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    rows = await (await conn.execute(
        f"""SELECT {_PROJECT_COLUMNS}, count(*) OVER () AS total FROM archon_projects
            ORDER BY pinned DESC, updated_at DESC, id LIMIT %s OFFSET %s""",
        (limit, offset),
    )).fetchall()
    total = int(rows[0]["total"]) if rows else await _count_projects(conn)
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


async def _count_projects(conn: Connection) -> int:
    row = await (await conn.execute("SELECT count(*) AS n FROM archon_projects")).fetchone()
    return int(row["n"]) if row else 0


async def task_counts(conn: Connection, project_ids: list[UUID], *, include_archived: bool
                      ) -> dict[UUID, dict[str, int]]:
    """Per project: tasks per status (archived ones too when asked) plus the archived count."""
    rows = await (await conn.execute(
        """SELECT project_id,
                  count(*) FILTER (WHERE status = 'todo' AND (%(arch)s OR NOT archived)) AS todo,
                  count(*) FILTER (WHERE status = 'doing' AND (%(arch)s OR NOT archived)) AS doing,
                  count(*) FILTER (WHERE status = 'review' AND (%(arch)s OR NOT archived)) AS review,
                  count(*) FILTER (WHERE status = 'done' AND (%(arch)s OR NOT archived)) AS done,
                  count(*) FILTER (WHERE archived) AS archived
           FROM archon_tasks WHERE project_id = ANY(%(ids)s) GROUP BY project_id""",
        {"ids": project_ids, "arch": include_archived},
    )).fetchall()
    return {r["project_id"]: {k: int(v) for k, v in r.items() if k != "project_id"} for r in rows}


async def delete_counts(conn: Connection, project_id: UUID) -> dict[str, int]:
    """What deleting the project takes with it."""
    row = await (await conn.execute(
        """SELECT (SELECT count(*) FROM archon_tasks WHERE project_id = %(p)s) AS tasks,
                  (SELECT count(*) FROM archon_project_documents WHERE project_id = %(p)s) AS documents,
                  (SELECT count(*) FROM archon_document_versions v JOIN archon_project_documents d
                      ON d.id = v.document_id WHERE d.project_id = %(p)s) AS document_versions,
                  (SELECT count(*) FROM archon_project_sources WHERE project_id = %(p)s) AS source_links""",
        {"p": project_id},
    )).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


async def delete_project(conn: Connection, project_id: UUID) -> bool:
    # Tasks reference each other (parent_task_id): deleting them first in one statement keeps the
    # cascade simple; documents and versions go through ON DELETE CASCADE.
    await conn.execute("DELETE FROM archon_tasks WHERE project_id = %s", (project_id,))
    cur = await conn.execute("DELETE FROM archon_projects WHERE id = %s", (project_id,))
    return cur.rowcount > 0


# --- source links ------------------------------------------------------------------
async def missing_sources(conn: Connection, source_ids: list[str]) -> list[str]:
    """The ids in `source_ids` that are not knowledge sources."""
    if not source_ids:
        return []
    rows = await (await conn.execute(
        "SELECT id FROM archon_sources WHERE id = ANY(%s)", (source_ids,))).fetchall()
    found = {r["id"] for r in rows}
    return [s for s in source_ids if s not in found]


async def link_source(conn: Connection, project_id: UUID, source_id: str, relation: str) -> None:
    await conn.execute(
        """INSERT INTO archon_project_sources (project_id, source_id, relation) VALUES (%s, %s, %s)
           ON CONFLICT (project_id, source_id) DO UPDATE SET relation = EXCLUDED.relation""",
        (project_id, source_id, relation),
    )


async def unlink_source(conn: Connection, project_id: UUID, source_id: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM archon_project_sources WHERE project_id = %s AND source_id = %s", (project_id, source_id))
    return cur.rowcount > 0


async def linked_sources(conn: Connection, project_ids: list[UUID]) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(
        """SELECT l.project_id, l.source_id, l.relation, l.created_at AS linked_at, s.title, s.url
           FROM archon_project_sources l JOIN archon_sources s ON s.id = l.source_id
           WHERE l.project_id = ANY(%s) ORDER BY l.created_at, l.source_id""",
        (project_ids,),
    )).fetchall()]


async def linked_source_ids(conn: Connection, project_id: UUID, relation: str | None) -> list[str]:
    rows = await (await conn.execute(
        """SELECT source_id FROM archon_project_sources
           WHERE project_id = %s AND (%s::text IS NULL OR relation = %s) ORDER BY source_id""",
        (project_id, relation, relation),
    )).fetchall()
    return [r["source_id"] for r in rows]
