"""Project tools: list, read, create and update the user's projects."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from archon.errors import Invalid
from archon.mcp_server.toolkit import ToolRegistry
from archon.projects.schemas import Project, TaskCounts
from archon.projects.service import ProjectService

MAX_DESCRIPTION = 10_000  # a project's description in get_project
SUMMARY_DESCRIPTION = 300  # in list_projects
ProjectId = Annotated[str, Field(description="The project's id (from list_projects).")]


def clip(text: str | None, limit: int) -> str:
    """`text` cut to `limit` characters with a visible marker."""
    text = text or ""
    return text if len(text) <= limit else text[:limit] + f" … [truncated, {len(text)} characters in total]"


class ProjectSummary(BaseModel):
    id: UUID
    title: str
    description: str
    github_repo: str | None
    pinned: bool
    task_counts: TaskCounts
    updated_at: datetime


class ProjectPage(BaseModel):
    projects: list[ProjectSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def _full(project: Project) -> Project:
    return project.model_copy(update={"description": clip(project.description, MAX_DESCRIPTION)})


def register(registry: ToolRegistry) -> None:
    def service() -> ProjectService:
        return ProjectService(registry.runtime().db)

    @registry.tool(family="tasks", title="List projects", read_only=True)
    async def list_projects(
        limit: Annotated[int, Field(ge=1, le=100, description="Projects per page (1-100).")] = 20,
        offset: Annotated[int, Field(ge=0, description="How many to skip (use next_offset).")] = 0,
    ) -> ProjectPage:
        """List the user's projects (pinned first, then most recently updated) with task counts per status.

        Use it to find the project_id that list_tasks, create_task and the document tools need.
        """
        page = await service().list_projects(limit=limit, offset=offset)
        items = [
            ProjectSummary(
                id=p.id,
                title=p.title,
                description=clip(p.description, SUMMARY_DESCRIPTION),
                github_repo=p.github_repo,
                pinned=p.pinned,
                task_counts=p.task_counts,
                updated_at=p.updated_at,
            )
            for p in page.projects
        ]
        more = offset + len(items) < page.total
        return ProjectPage(
            projects=items,
            total=page.total,
            limit=limit,
            offset=offset,
            next_offset=offset + len(items) if more else None,
        )

    @registry.tool(family="tasks", title="Get a project", read_only=True)
    async def get_project(project_id: ProjectId) -> Project:
        """Get one project: description, GitHub repo, PRD, features, task counts and linked knowledge sources."""
        return _full(await service().get(project_id))

    @registry.tool(family="tasks", title="Create a project")
    async def create_project(
        title: Annotated[str, Field(description="Short project name.")],
        description: Annotated[str, Field(description="What the project is about (markdown).")] = "",
        github_repo: Annotated[str | None, Field(description="Repository URL, if any.")] = None,
    ) -> Project:
        """Create a project to hold tasks and documents; returns it with its new id."""
        return _full(await service().create({"title": title, "description": description, "github_repo": github_repo}))

    @registry.tool(family="tasks", title="Update a project", idempotent=True)
    async def update_project(
        project_id: ProjectId,
        title: Annotated[str | None, Field(description="New title.")] = None,
        description: Annotated[str | None, Field(description="New description (markdown).")] = None,
        github_repo: Annotated[str | None, Field(description="New repository URL.")] = None,
        pinned: Annotated[bool | None, Field(description="Pin it to the top of the list.")] = None,
    ) -> Project:
        """Change a project's title, description, GitHub repo or pinned flag; only the fields given change."""
        given: dict[str, Any] = {
            k: v
            for k, v in {
                "title": title,
                "description": description,
                "github_repo": github_repo,
                "pinned": pinned,
            }.items()
            if v is not None
        }
        if not given:
            raise Invalid("nothing to update: give at least one of title, description, github_repo, pinned")
        return _full(await service().update(project_id, given))
