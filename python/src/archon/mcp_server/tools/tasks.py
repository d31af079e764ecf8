"""Task tools: find, read, create, update and delete the tasks of the user's projects."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from archon.errors import Invalid
from archon.mcp_server.toolkit import ToolRegistry, require_confirm
from archon.mcp_server.tools.projects import ProjectId, clip
from archon.projects.schemas import Task, TaskDeleted
from archon.projects.service import TaskService

Status = Literal["todo", "doing", "review", "done"]
Priority = Literal["low", "medium", "high", "critical"]
TaskId = Annotated[str, Field(description="The task's id (from list_tasks or create_task).")]
MAX_DESCRIPTION = 20_000  # get_task / update_task answers
SUMMARY_DESCRIPTION = 300  # list_tasks answers


class TaskSummary(BaseModel):
    id: UUID
    project_id: UUID
    parent_task_id: UUID | None
    title: str
    status: Status
    assignee: str
    priority: Priority
    feature: str | None
    task_order: int
    description: str
    updated_at: datetime


class TaskPage(BaseModel):
    tasks: list[TaskSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def _full(task: Task) -> Task:
    return task.model_copy(update={"description": clip(task.description, MAX_DESCRIPTION)})


def _summary(task: Task) -> TaskSummary:
    return TaskSummary(
        id=task.id,
        project_id=task.project_id,
        parent_task_id=task.parent_task_id,
        title=task.title,
        status=task.status,
        assignee=task.assignee,
        priority=task.priority,
        feature=task.feature,
        task_order=task.task_order,
        description=clip(task.description, SUMMARY_DESCRIPTION),
        updated_at=task.updated_at,
    )


def register(registry: ToolRegistry) -> None:
    def service() -> TaskService:
        return TaskService(registry.runtime().db)

    @registry.tool(family="tasks", title="List tasks", read_only=True)
    async def list_tasks(
        project_id: Annotated[str | None, Field(description="Only this project's tasks.")] = None,
        status: Annotated[Status | None, Field(description="Only tasks in this column.")] = None,
        assignee: Annotated[
            str | None, Field(description="Only tasks assigned to this name (e.g. User, Archon).")
        ] = None,
        text: Annotated[str | None, Field(description="Words to find in the title or description.")] = None,
        include_done: Annotated[bool, Field(description="Include finished (done) tasks.")] = True,
        limit: Annotated[int, Field(ge=1, le=100, description="Tasks per page (1-100).")] = 20,
        offset: Annotated[int, Field(ge=0, description="How many to skip (use next_offset).")] = 0,
    ) -> TaskPage:
        """Find tasks by project, status, assignee or text, in board order (status column, then position).

        Use it to pick up work (e.g. status=todo, assignee=your name) or to check what exists before creating
        a task. Descriptions are shortened here; get_task returns the full task.
        """
        query: dict[str, Any] = {
            "project_id": project_id,
            "assignee": assignee,
            "q": text,
            "limit": limit,
            "offset": offset,
            "include_closed": include_done,
        }
        if status is not None:
            query["status"] = [status]
        page = await service().list_tasks({k: v for k, v in query.items() if v is not None})
        more = offset + len(page.tasks) < page.total
        return TaskPage(
            tasks=[_summary(t) for t in page.tasks],
            total=page.total,
            limit=limit,
            offset=offset,
            next_offset=offset + len(page.tasks) if more else None,
        )

    @registry.tool(family="tasks", title="Get a task", read_only=True)
    async def get_task(task_id: TaskId) -> Task:
        """Get one task with its full description, status, assignee, priority, feature and linked sources."""
        return _full(await service().get(task_id))

    @registry.tool(family="tasks", title="Create a task")
    async def create_task(
        project_id: ProjectId,
        title: Annotated[str, Field(description="What needs doing, in one line.")],
        description: Annotated[str, Field(description="Details and acceptance criteria (markdown).")] = "",
        status: Annotated[Status, Field(description="Starting column.")] = "todo",
        assignee: Annotated[str, Field(description="Who does it: User, Archon, or an agent's name.")] = "User",
        priority: Annotated[Priority, Field(description="low, medium, high or critical.")] = "medium",
        feature: Annotated[str | None, Field(description="Feature label to group tasks.")] = None,
        parent_task_id: Annotated[str | None, Field(description="Make it a subtask of this task.")] = None,
    ) -> Task:
        """Create a task in a project (at the end of its status column); returns the task with its id."""
        data: dict[str, Any] = {
            "project_id": project_id,
            "title": title,
            "description": description,
            "status": status,
            "assignee": assignee,
            "priority": priority,
            "feature": feature,
            "parent_task_id": parent_task_id,
        }
        return _full(await service().create({k: v for k, v in data.items() if v is not None}))

    @registry.tool(family="tasks", title="Update a task", idempotent=True)
    async def update_task(
        task_id: TaskId,
        status: Annotated[
            Status | None, Field(description="Move it to this column (todo -> doing -> review -> done).")
        ] = None,
        description: Annotated[str | None, Field(description="New description (replaces the old one).")] = None,
        title: Annotated[str | None, Field(description="New title.")] = None,
        assignee: Annotated[str | None, Field(description="New assignee.")] = None,
        priority: Annotated[Priority | None, Field(description="New priority.")] = None,
        feature: Annotated[str | None, Field(description="New feature label.")] = None,
        task_order: Annotated[int | None, Field(ge=0, description="New position in its column (0 = top).")] = None,
    ) -> Task:
        """Change a task: its status as you work on it, its description, title, assignee, priority or order.

        Only the fields given change. Set status=doing when you start and status=review when done.
        """
        changes = {
            k: v
            for k, v in {
                "status": status,
                "description": description,
                "title": title,
                "assignee": assignee,
                "priority": priority,
                "feature": feature,
                "task_order": task_order,
            }.items()
            if v is not None
        }
        if not changes:
            raise Invalid("nothing to update: give at least one field to change")
        return _full(await service().update(task_id, changes))

    @registry.tool(family="tasks", title="Delete a task", destructive=True)
    async def delete_task(
        task_id: TaskId,
        confirm: Annotated[
            bool, Field(description="Must be true: deleting removes the task and its subtasks for good.")
        ] = False,
    ) -> TaskDeleted:
        """Delete a task and its subtasks permanently. Requires confirm=true; ask the user first."""
        require_confirm(confirm, "delete the task")
        return await service().delete(task_id)
