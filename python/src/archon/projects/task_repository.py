"""SQL for tasks: filtered lists, ordered columns, subtask trees.

Order invariant: within (project, status) the non-archived tasks have `task_order` 0..n-1. Every
statement that changes a column runs while the caller holds `lock_project` for the project.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from archon.db.pool import Connection

TASK_COLUMNS = ("id, project_id, parent_task_id, title, description, status, assignee, priority, feature, "
                "task_order, sources, code_examples, archived, archived_at, archived_by, created_at, updated_at")
_LIGHT_COLUMNS = TASK_COLUMNS.replace("description,", "''::text AS description,").replace(
    "sources, code_examples,", "'[]'::jsonb AS sources, '[]'::jsonb AS code_examples,")
_JSON_FIELDS = ("sources", "code_examples")
_STATUS_RANK = "array_position(ARRAY['todo','doing','review','done']::text[], status)"


def escape_like(text: str) -> str:
    """`text` matched literally inside LIKE/ILIKE (backslash is Postgres' default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_task(conn: Connection, task_id: UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await (await conn.execute(
        f"SELECT {TASK_COLUMNS} FROM archon_tasks WHERE id = %s{lock}", (task_id,))).fetchone()
    return dict(row) if row else None


async def task_project(conn: Connection, task_id: UUID) -> UUID | None:
    row = await (await conn.execute("SELECT project_id FROM archon_tasks WHERE id = %s", (task_id,))).fetchone()
    return row["project_id"] if row else None


async def insert_task(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    row = await (await conn.execute(
        f"""INSERT INTO archon_tasks (project_id, parent_task_id, title, description, status, assignee, priority,
                                      feature, task_order, sources, code_examples)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {TASK_COLUMNS}""",
        (values["project_id"], values["parent_task_id"], values["title"], values["description"], values["status"],
         values["assignee"], values["priority"], values["feature"], values["task_order"],
         Jsonb(values["sources"]), Jsonb(values["code_examples"])),
    )).fetchone()
    assert row is not None
    return dict(row)


async def update_task(conn: Connection, task_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Set `changes` (column -> value; columns come from TaskUpdate, never from user text)."""
    if not changes:
        return await get_task(conn, task_id)
    assignments = ", ".join(f"{column} = %s" for column in changes)
    values = [Jsonb(v) if k in _JSON_FIELDS else v for k, v in changes.items()]
    row = await (await conn.execute(
        f"UPDATE archon_tasks SET {assignments} WHERE id = %s RETURNING {TASK_COLUMNS}", (*values, task_id),
    )).fetchone()
    return dict(row) if row else None


async def column_ids(conn: Connection, project_id: UUID, status: str) -> list[UUID]:
    """The column's non-archived tasks in board order."""
    rows = await (await conn.execute(
        """SELECT id FROM archon_tasks WHERE project_id = %s AND status = %s AND NOT archived
           ORDER BY task_order, created_at, id""",
        (project_id, status),
    )).fetchall()
    return [r["id"] for r in rows]


async def set_column_order(conn: Connection, ordered_ids: list[UUID]) -> None:
    """Give the listed tasks task_order 0..n-1 in list order (rows already in place are not touched)."""
    if not ordered_ids:
        return
    await conn.execute(
        """UPDATE archon_tasks t SET task_order = v.ord - 1
           FROM unnest(%s::uuid[]) WITH ORDINALITY AS v(id, ord)
           WHERE t.id = v.id AND t.task_order <> v.ord - 1""",
        (ordered_ids,),
    )


async def renumber_project(conn: Connection, project_id: UUID) -> None:
    """Close the gaps left by archived or deleted tasks in every column of the project."""
    await conn.execute(
        """UPDATE archon_tasks t SET task_order = r.rn - 1
           FROM (SELECT id, row_number() OVER (PARTITION BY status ORDER BY task_order, created_at, id) AS rn
                 FROM archon_tasks WHERE project_id = %s AND NOT archived) r
           WHERE t.id = r.id AND t.task_order <> r.rn - 1""",
        (project_id,),
    )


async def is_ancestor(conn: Connection, candidate: UUID, of_task: UUID) -> bool:
    """True when `candidate` is `of_task` or one of its ancestors (walking parent links up)."""
    row = await (await conn.execute(
        """WITH RECURSIVE up(id, parent_task_id, depth) AS (
               SELECT id, parent_task_id, 0 FROM archon_tasks WHERE id = %(start)s
               UNION ALL
               SELECT t.id, t.parent_task_id, up.depth + 1 FROM archon_tasks t JOIN up ON t.id = up.parent_task_id
               WHERE up.depth < 10000)
           SELECT EXISTS (SELECT 1 FROM up WHERE id = %(candidate)s) AS found""",
        {"start": of_task, "candidate": candidate},
    )).fetchone()
    return bool(row and row["found"])


async def subtree_ids(conn: Connection, task_id: UUID, *, archived: bool | None = None) -> list[UUID]:
    """The task and all its descendants (optionally only those with the given archived flag)."""
    rows = await (await conn.execute(
        """WITH RECURSIVE down(id, archived) AS (
               SELECT id, archived FROM archon_tasks WHERE id = %(id)s
               UNION
               SELECT t.id, t.archived FROM archon_tasks t JOIN down ON t.parent_task_id = down.id)
           SELECT id FROM down WHERE %(archived)s::boolean IS NULL OR archived = %(archived)s""",
        {"id": task_id, "archived": archived},
    )).fetchall()
    return [r["id"] for r in rows]


async def archive_tasks(conn: Connection, task_ids: list[UUID], archived_by: str) -> None:
    await conn.execute(
        """UPDATE archon_tasks SET archived = true, archived_at = now(), archived_by = %s
           WHERE id = ANY(%s) AND NOT archived""",
        (archived_by, task_ids),
    )


async def unarchive_task(conn: Connection, task_id: UUID, task_order: int) -> None:
    await conn.execute(
        """UPDATE archon_tasks SET archived = false, archived_at = NULL, archived_by = NULL, task_order = %s
           WHERE id = %s""",
        (task_order, task_id),
    )


async def delete_tasks(conn: Connection, task_ids: list[UUID]) -> int:
    cur = await conn.execute("DELETE FROM archon_tasks WHERE id = ANY(%s)", (task_ids,))
    return cur.rowcount


async def list_tasks(conn: Connection, f: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Tasks matching the filters in `f` (TaskQuery fields), in board order, with the total count."""
    where = ["true"]
    params: dict[str, Any] = {"limit": f["limit"], "offset": f["offset"]}
    if f.get("project_id") is not None:
        where.append("project_id = %(project_id)s")
        params["project_id"] = f["project_id"]
    if f.get("status"):
        where.append("status = ANY(%(status)s)")
        params["status"] = list(f["status"])
    if f.get("assignee") is not None:
        where.append("assignee = %(assignee)s")
        params["assignee"] = f["assignee"]
    if f.get("feature") is not None:
        where.append("feature = %(feature)s")
        params["feature"] = f["feature"]
    if f.get("parent_task_id") is not None:
        where.append("parent_task_id = %(parent)s")
        params["parent"] = f["parent_task_id"]
    if f.get("top_level_only"):
        where.append("parent_task_id IS NULL")
    if f.get("q"):
        where.append("(title ILIKE %(q)s OR description ILIKE %(q)s OR coalesce(feature, '') ILIKE %(q)s)")
        params["q"] = f"%{escape_like(f['q'])}%"
    if not f.get("include_archived"):
        where.append("NOT archived")
    if not f.get("include_closed", True):
        where.append("status <> 'done'")
    columns = _LIGHT_COLUMNS if f.get("exclude_large_fields") else TASK_COLUMNS
    rows = await (await conn.execute(
        f"""SELECT {columns}, count(*) OVER () AS total FROM archon_tasks WHERE {' AND '.join(where)}
            ORDER BY project_id, {_STATUS_RANK}, archived, task_order, created_at, id
            LIMIT %(limit)s OFFSET %(offset)s""",
        params,
    )).fetchall()
    if rows:
        total = int(rows[0]["total"])
    else:  # past the last page: the window count is not there, ask for it
        params.pop("limit"), params.pop("offset")
        row = await (await conn.execute(
            f"SELECT count(*) AS n FROM archon_tasks WHERE {' AND '.join(where)}", params)).fetchone()
        total = int(row["n"]) if row else 0
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total
