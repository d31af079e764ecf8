"""SQL for project documents and their append-only version history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from archon.db.pool import Connection
from archon.projects.task_repository import escape_like

DOC_COLUMNS = "id, project_id, document_type, title, content, tags, author, version, created_at, updated_at"
_SUMMARY_COLUMNS = DOC_COLUMNS.replace("content,", "NULL::text AS content,")
VERSION_COLUMNS = ("document_id, version, document_type, title, content, tags, author, change_type, "
                   "change_summary, created_at")
_VERSION_SUMMARY = VERSION_COLUMNS.replace("content,", "NULL::text AS content,")


async def insert_document(conn: Connection, project_id: UUID, values: dict[str, Any]) -> dict[str, Any]:
    row = await (await conn.execute(
        f"""INSERT INTO archon_project_documents (project_id, document_type, title, content, tags, author, version)
            VALUES (%s, %s, %s, %s, %s, %s, 1) RETURNING {DOC_COLUMNS}""",
        (project_id, values["document_type"], values["title"], values["content"], values["tags"],
         values["author"]),
    )).fetchone()
    assert row is not None
    return dict(row)


async def get_document(conn: Connection, project_id: UUID, document_id: UUID, *,
                       for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await (await conn.execute(
        f"SELECT {DOC_COLUMNS} FROM archon_project_documents WHERE id = %s AND project_id = %s{lock}",
        (document_id, project_id),
    )).fetchone()
    return dict(row) if row else None


async def document_project(conn: Connection, document_id: UUID) -> UUID | None:
    row = await (await conn.execute(
        "SELECT project_id FROM archon_project_documents WHERE id = %s", (document_id,))).fetchone()
    return row["project_id"] if row else None


async def list_documents(conn: Connection, project_id: UUID, *, include_content: bool,
                         document_type: str | None, q: str | None) -> list[dict[str, Any]]:
    columns = DOC_COLUMNS if include_content else _SUMMARY_COLUMNS
    where = ["project_id = %(p)s"]
    params: dict[str, Any] = {"p": project_id}
    if document_type is not None:
        where.append("document_type = %(t)s")
        params["t"] = document_type
    if q:
        where.append("(title ILIKE %(q)s OR content ILIKE %(q)s OR %(raw)s = ANY(tags))")
        params["q"] = f"%{escape_like(q)}%"
        params["raw"] = q
    rows = await (await conn.execute(
        f"SELECT {columns} FROM archon_project_documents WHERE {' AND '.join(where)} ORDER BY updated_at DESC, id",
        params,
    )).fetchall()
    return [dict(r) for r in rows]


async def write_document(conn: Connection, document_id: UUID, values: dict[str, Any]) -> dict[str, Any]:
    """Store the new state and bump `version` by one."""
    row = await (await conn.execute(
        f"""UPDATE archon_project_documents
            SET document_type = %s, title = %s, content = %s, tags = %s, author = %s, version = version + 1
            WHERE id = %s RETURNING {DOC_COLUMNS}""",
        (values["document_type"], values["title"], values["content"], values["tags"], values["author"],
         document_id),
    )).fetchone()
    assert row is not None
    return dict(row)


async def insert_version(conn: Connection, doc: dict[str, Any], change_type: str, change_summary: str) -> None:
    """Snapshot the document's current state as version `doc['version']`."""
    await conn.execute(
        """INSERT INTO archon_document_versions
               (document_id, version, document_type, title, content, tags, author, change_type, change_summary)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (doc["id"], doc["version"], doc["document_type"], doc["title"], doc["content"], doc["tags"],
         doc["author"], change_type, change_summary),
    )


async def delete_document(conn: Connection, document_id: UUID) -> int:
    """Delete the document (its versions cascade); return how many versions went with it."""
    row = await (await conn.execute(
        "SELECT count(*) AS n FROM archon_document_versions WHERE document_id = %s", (document_id,))).fetchone()
    await conn.execute("DELETE FROM archon_project_documents WHERE id = %s", (document_id,))
    return int(row["n"]) if row else 0


async def list_versions(conn: Connection, document_id: UUID, *, include_content: bool) -> list[dict[str, Any]]:
    columns = VERSION_COLUMNS if include_content else _VERSION_SUMMARY
    rows = await (await conn.execute(
        f"SELECT {columns} FROM archon_document_versions WHERE document_id = %s ORDER BY version DESC",
        (document_id,),
    )).fetchall()
    return [dict(r) for r in rows]


async def get_version(conn: Connection, document_id: UUID, version: int) -> dict[str, Any] | None:
    row = await (await conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM archon_document_versions WHERE document_id = %s AND version = %s",
        (document_id, version),
    )).fetchone()
    return dict(row) if row else None
