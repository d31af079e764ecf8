"""REST routes for tasks: `/api/tasks` and `/api/projects/{id}/tasks`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query
from pydantic import ConfigDict

from archon.projects.deps import TaskServiceDep
from archon.projects.schemas import (
    Task,
    TaskArchive,
    TaskCreate,
    TaskCreateInProject,
    TaskDeleted,
    TaskList,
    TaskMove,
    TaskMoved,
    TaskQuery,
    TaskStatus,
    TaskUpdate,
)

router = APIRouter(tags=["tasks"])


class TaskFilters(TaskQuery):
    """Query-string filters; `status` may repeat (`?status=todo&status=doing`)."""

    model_config = ConfigDict(extra="ignore")  # cache-busters and the like are not errors


FiltersDep = Annotated[TaskFilters, Query()]


@router.get("/tasks", response_model=TaskList)
async def list_tasks(service: TaskServiceDep, filters: FiltersDep) -> TaskList:
    """Tasks across projects (or one with `project_id`), filtered; `q` searches title/description/feature."""
    return await service.list_tasks(filters.model_dump())


@router.get("/projects/{project_id}/tasks", response_model=TaskList)
async def list_project_tasks(project_id: UUID, service: TaskServiceDep, filters: FiltersDep) -> TaskList:
    """The project's tasks in board order (404 if the project is unknown)."""
    return await service.list_tasks({**filters.model_dump(), "project_id": project_id})


@router.post("/tasks", response_model=Task, status_code=201)
async def create_task(body: TaskCreate, service: TaskServiceDep) -> Task:
    return await service.create(body)


@router.post("/projects/{project_id}/tasks", response_model=Task, status_code=201)
async def create_project_task(project_id: UUID, body: TaskCreateInProject, service: TaskServiceDep) -> Task:
    return await service.create({**body.model_dump(), "project_id": project_id})


@router.get("/tasks/{task_id}", response_model=Task)
async def get_task(task_id: UUID, service: TaskServiceDep) -> Task:
    return await service.get(task_id)


@router.patch("/tasks/{task_id}", response_model=Task)
@router.put("/tasks/{task_id}", response_model=Task)
async def update_task(task_id: UUID, body: TaskUpdate, service: TaskServiceDep) -> Task:
    """Partial update (PUT behaves the same, as in Archon v1); `status`/`task_order` move the task."""
    return await service.update(task_id, body.model_dump(include=body.model_fields_set))


@router.post("/tasks/{task_id}/move", response_model=TaskMoved)
async def move_task(task_id: UUID, body: TaskMove, service: TaskServiceDep) -> TaskMoved:
    """Put the task at `position` of the `status` column; both columns stay numbered 0..n-1."""
    status: TaskStatus = body.status
    return await service.move(task_id, status, body.position)


@router.post("/tasks/{task_id}/archive", response_model=Task)
async def archive_task(task_id: UUID, service: TaskServiceDep,
                       body: Annotated[TaskArchive | None, Body()] = None) -> Task:
    """Soft-delete the task and its subtasks (409 if already archived)."""
    return await service.archive(task_id, archived_by=(body or TaskArchive()).archived_by)


@router.post("/tasks/{task_id}/unarchive", response_model=Task)
async def unarchive_task(task_id: UUID, service: TaskServiceDep) -> Task:
    return await service.unarchive(task_id)


@router.delete("/tasks/{task_id}", response_model=TaskDeleted)
async def delete_task(task_id: UUID, service: TaskServiceDep) -> TaskDeleted:
    """Delete the task and its subtasks permanently (use archive to keep them)."""
    return await service.delete(task_id)
