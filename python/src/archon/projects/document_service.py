"""DocumentService: project documents with an append-only version history.

Every change stores the new state as the next version; restoring version N writes a new version
with N's content (change_type "restore"), so history is never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.errors import ForeignKeyViolation

from archon.db.pool import Connection, Database
from archon.errors import Conflict, Invalid, NotFound
from archon.projects import document_repository as docs
from archon.projects import repository as repo
from archon.projects.project_service import require_project
from archon.projects.schemas import (
    Document,
    DocumentCreate,
    DocumentRestore,
    DocumentType,
    DocumentUpdate,
    DocumentVersion,
    coerce,
    parse_id,
    reject_nul,
)

_CONTENT_FIELDS = ("document_type", "title", "content", "tags", "author")


class DocumentService:
    """CRUD for project documents plus version list, get and restore."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_documents(self, project_id: UUID | str, *, include_content: bool = False,
                   document_type: DocumentType | None = None, q: str | None = None) -> list[Document]:
        """The project's documents, most recently changed first (`content` is null unless asked)."""
        pid = parse_id(project_id, "project_id")
        q = reject_nul(q, "q")
        async with self.db.connection() as conn:
            await require_project(conn, pid)
            rows = await docs.list_documents(conn, pid, include_content=include_content,
                                             document_type=document_type, q=q)
        return [Document.model_validate(r) for r in rows]

    async def get(self, project_id: UUID | str, document_id: UUID | str) -> Document:
        """One document with its content; NotFound if the project or document is unknown."""
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        async with self.db.connection() as conn:
            return Document.model_validate(await self._row(conn, pid, did))

    async def find(self, document_id: UUID | str) -> Document:
        """A document by its id alone (the MCP `get_document(document_id)`); NotFound if unknown."""
        did = parse_id(document_id, "document_id")
        async with self.db.connection() as conn:
            pid = await docs.document_project(conn, did)
            if pid is None:
                raise NotFound(f"document {did} not found")
            return Document.model_validate(await self._row(conn, pid, did))

    async def create(self, project_id: UUID | str, data: DocumentCreate | Mapping[str, Any]) -> Document:
        """Create a document; its first state is version 1."""
        pid = parse_id(project_id, "project_id")
        req = coerce(DocumentCreate, data)
        async with self.db.transaction() as conn:
            await require_project(conn, pid)
            try:
                row = await docs.insert_document(conn, pid, req.model_dump())
            except ForeignKeyViolation:  # the project was deleted while we were here
                raise NotFound(f"project {pid} not found") from None
            await docs.insert_version(conn, row, "create", req.change_summary or "created")
            await repo.publish(conn, pid, "document_created", row["id"])
        return Document.model_validate(row)

    async def update(self, project_id: UUID | str, document_id: UUID | str,
                     changes: DocumentUpdate | Mapping[str, Any]) -> Document:
        """Change the fields given and record the result as a new version (no change, no version).

        With `expected_version`, Conflict (409) if someone else changed the document meanwhile.
        """
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        req = coerce(DocumentUpdate, changes)
        given = {k: getattr(req, k) for k in req.model_fields_set if k in _CONTENT_FIELDS}
        for key, value in given.items():
            if value is None:
                raise Invalid(f"{key}: may not be null", detail=[{"field": key, "message": "may not be null"}])
        async with self.db.transaction() as conn:
            current = await self._row(conn, pid, did, for_update=True)
            if req.expected_version is not None and req.expected_version != current["version"]:
                raise Conflict(f"document is at version {current['version']}, not {req.expected_version}",
                               detail={"version": current["version"]})
            new_state = {**{k: current[k] for k in _CONTENT_FIELDS}, **given}
            if all(new_state[k] == current[k] for k in _CONTENT_FIELDS):
                return Document.model_validate(current)
            row = await docs.write_document(conn, did, new_state)
            await docs.insert_version(conn, row, "update", req.change_summary)
            await repo.publish(conn, pid, "document_updated", did)
        return Document.model_validate(row)

    async def delete(self, project_id: UUID | str, document_id: UUID | str) -> int:
        """Delete the document and its history; return the number of versions removed."""
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        async with self.db.transaction() as conn:
            await self._row(conn, pid, did, for_update=True)
            removed = await docs.delete_document(conn, did)
            await repo.publish(conn, pid, "document_deleted", did)
        return removed

    async def versions(self, project_id: UUID | str, document_id: UUID | str, *,
                       include_content: bool = False) -> list[DocumentVersion]:
        """The document's versions, newest first (`content` is null unless asked)."""
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        async with self.db.connection() as conn:
            await self._row(conn, pid, did)
            rows = await docs.list_versions(conn, did, include_content=include_content)
        return [DocumentVersion.model_validate(r) for r in rows]

    async def get_version(self, project_id: UUID | str, document_id: UUID | str, version: int) -> DocumentVersion:
        """One version with its content; NotFound if it does not exist."""
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        async with self.db.connection() as conn:
            await self._row(conn, pid, did)
            row = await docs.get_version(conn, did, version)
        if row is None:
            raise NotFound(f"document {did} has no version {version}")
        return DocumentVersion.model_validate(row)

    async def restore(self, project_id: UUID | str, document_id: UUID | str, version: int,
                      options: DocumentRestore | Mapping[str, Any] | None = None) -> Document:
        """Make version `version`'s content current again, as a new version (history is kept)."""
        pid, did = parse_id(project_id, "project_id"), parse_id(document_id, "document_id")
        req = coerce(DocumentRestore, options or {})
        async with self.db.transaction() as conn:
            await self._row(conn, pid, did, for_update=True)
            old = await docs.get_version(conn, did, version)
            if old is None:
                raise NotFound(f"document {did} has no version {version}")
            state = {k: old[k] for k in _CONTENT_FIELDS}
            if req.author is not None:
                state["author"] = req.author
            row = await docs.write_document(conn, did, state)
            await docs.insert_version(conn, row, "restore", req.change_summary or f"restored version {version}")
            await repo.publish(conn, pid, "document_restored", did)
        return Document.model_validate(row)

    async def _row(self, conn: Connection, pid: UUID, did: UUID, *, for_update: bool = False) -> dict[str, Any]:
        row = await docs.get_document(conn, pid, did, for_update=for_update)
        if row is None:
            await require_project(conn, pid)
            raise NotFound(f"document {did} not found in project {pid}")
        return row
