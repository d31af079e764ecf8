"""ProjectService: projects, their task counts and their linked knowledge sources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.errors import ForeignKeyViolation

from archon.db.pool import Connection, Database
from archon.errors import Conflict, Invalid, NotFound
from archon.projects import repository as repo
from archon.projects.schemas import (
    LinkedSource,
    Project,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectUpdate,
    SourceLinkRequest,
    SourceRelation,
    TaskCounts,
    coerce,
    parse_id,
    reject_nul,
)


async def require_project(conn: Connection, project_id: UUID) -> None:
    """Raise NotFound unless the project exists."""
    if not await repo.project_exists(conn, project_id):
        raise NotFound(f"project {project_id} not found")


class ProjectService:
    """Create, read, update and delete projects; link knowledge sources to them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_projects(self, *, include_archived: bool = False, limit: int = 100, offset: int = 0) -> ProjectList:
        """Projects, pinned first then most recently updated, each with per-status task counts.

        Status counts leave archived tasks out unless `include_archived`; `archived` counts them always.
        """
        if not 1 <= limit <= 1000:
            raise Invalid("limit: must be 1-1000", detail=[{"field": "limit", "message": "must be 1-1000"}])
        if offset < 0:
            raise Invalid("offset: must be >= 0", detail=[{"field": "offset", "message": "must be >= 0"}])
        async with self.db.connection() as conn:
            rows, total = await repo.list_projects(conn, limit=limit, offset=offset)
            projects = await self._hydrate(conn, rows, include_archived=include_archived)
        return ProjectList(projects=projects, total=total)

    async def get(self, project_id: UUID | str, *, include_archived: bool = False) -> Project:
        """One project with its task counts and linked source ids; NotFound if unknown."""
        pid = parse_id(project_id, "project_id")
        async with self.db.connection() as conn:
            return await self._load(conn, pid, include_archived=include_archived)

    async def create(self, data: ProjectCreate | Mapping[str, Any]) -> Project:
        """Create a project (optionally linking technical/business sources; unknown source -> NotFound)."""
        req = coerce(ProjectCreate, data)
        links = [(s, "technical") for s in req.technical_sources] + [(s, "business") for s in req.business_sources]
        async with self.db.transaction() as conn:
            missing = await repo.missing_sources(conn, [s for s, _ in links])
            if missing:
                raise NotFound(f"knowledge source not found: {', '.join(missing)}", detail={"source_ids": missing})
            row = await repo.insert_project(conn, req.model_dump(exclude={"technical_sources", "business_sources"}))
            for source_id, relation in links:
                await repo.link_source(conn, row["id"], source_id, relation)
            await repo.publish(conn, row["id"], "project_created", row["id"])
            return await self._load(conn, row["id"])

    async def update(self, project_id: UUID | str, changes: ProjectUpdate | Mapping[str, Any]) -> Project:
        """Change only the fields given; NotFound if the project is unknown."""
        pid = parse_id(project_id, "project_id")
        req = coerce(ProjectUpdate, changes)
        values = {k: getattr(req, k) for k in req.model_fields_set}
        for key, value in values.items():
            if value is None and key != "github_repo":
                raise Invalid(f"{key}: may not be null", detail=[{"field": key, "message": "may not be null"}])
        async with self.db.transaction() as conn:
            row = await repo.update_project(conn, pid, values)
            if row is None:
                raise NotFound(f"project {pid} not found")
            await repo.publish(conn, pid, "project_updated", pid)
            return await self._load(conn, pid)

    async def delete(self, project_id: UUID | str, *, confirm: bool = False) -> ProjectDeleted:
        """Delete the project with its tasks, documents, versions and source links.

        Without `confirm=True` nothing is deleted: Conflict (409) says what would be, counts in `detail`.
        """
        pid = parse_id(project_id, "project_id")
        async with self.db.transaction() as conn:
            # Same lock order as task changes (advisory lock, then rows): a concurrent task create cannot deadlock.
            await repo.lock_project(conn, pid)
            project = await repo.get_project(conn, pid, for_update=True)
            if project is None:
                raise NotFound(f"project {pid} not found")
            counts = await repo.delete_counts(conn, pid)
            if not confirm:
                raise Conflict(
                    f"deleting project {project['title']!r} also deletes {counts['tasks']} tasks and "
                    f"{counts['documents']} documents; repeat with confirm=true",
                    detail={"would_delete": counts},
                )
            await repo.delete_project(conn, pid)
            await repo.publish(conn, pid, "project_deleted", pid)
        return ProjectDeleted(project_id=pid, title=project["title"], **counts)

    # --- knowledge sources ---------------------------------------------------------
    async def list_sources(self, project_id: UUID | str) -> list[LinkedSource]:
        """The knowledge sources linked to the project."""
        pid = parse_id(project_id, "project_id")
        async with self.db.connection() as conn:
            await require_project(conn, pid)
            return [LinkedSource.model_validate(r) for r in await repo.linked_sources(conn, [pid])]

    async def link_source(self, project_id: UUID | str, link: SourceLinkRequest | Mapping[str, Any]
                          ) -> list[LinkedSource]:
        """Link a source (or change its relation); NotFound for an unknown project or source."""
        pid = parse_id(project_id, "project_id")
        req = coerce(SourceLinkRequest, link)
        async with self.db.transaction() as conn:
            await require_project(conn, pid)
            if await repo.missing_sources(conn, [req.source_id]):
                raise NotFound(f"knowledge source {req.source_id!r} not found")
            try:
                await repo.link_source(conn, pid, req.source_id, req.relation)
            except ForeignKeyViolation:  # the project or the source was deleted meanwhile
                raise NotFound(f"project {pid} or source {req.source_id!r} no longer exists") from None
            await repo.publish(conn, pid, "sources_changed", pid)
            return [LinkedSource.model_validate(r) for r in await repo.linked_sources(conn, [pid])]

    async def unlink_source(self, project_id: UUID | str, source_id: str) -> list[LinkedSource]:
        """Remove a link; NotFound if the project is unknown or the source is not linked."""
        pid = parse_id(project_id, "project_id")
        reject_nul(source_id, "source_id")
        async with self.db.transaction() as conn:
            await require_project(conn, pid)
            if not await repo.unlink_source(conn, pid, source_id):
                raise NotFound(f"knowledge source {source_id!r} is not linked to project {pid}")
            await repo.publish(conn, pid, "sources_changed", pid)
            return [LinkedSource.model_validate(r) for r in await repo.linked_sources(conn, [pid])]

    async def linked_source_ids(self, project_id: UUID | str, relation: SourceRelation | None = None
                                ) -> list[str]:
        """Ids of the sources linked to the project (for project-scoped search); NotFound if unknown."""
        pid = parse_id(project_id, "project_id")
        async with self.db.connection() as conn:
            await require_project(conn, pid)
            return await repo.linked_source_ids(conn, pid, relation)

    # --- helpers -------------------------------------------------------------------
    async def _load(self, conn: Connection, pid: UUID, *, include_archived: bool = False) -> Project:
        row = await repo.get_project(conn, pid)
        if row is None:
            raise NotFound(f"project {pid} not found")
        return (await self._hydrate(conn, [row], include_archived=include_archived))[0]

    async def _hydrate(self, conn: Connection, rows: list[dict[str, Any]], *, include_archived: bool
                       ) -> list[Project]:
        ids = [r["id"] for r in rows]
        if not ids:
            return []
        counts = await repo.task_counts(conn, ids, include_archived=include_archived)
        links = await repo.linked_sources(conn, ids)
        projects = []
        for row in rows:
            mine = [link for link in links if link["project_id"] == row["id"]]
            projects.append(Project(
                **row,
                task_counts=TaskCounts(**counts.get(row["id"], {})),
                technical_sources=[link["source_id"] for link in mine if link["relation"] == "technical"],
                business_sources=[link["source_id"] for link in mine if link["relation"] == "business"],
            ))
        return projects
