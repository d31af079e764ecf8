"""TaskService: tasks, subtasks and the ordered board columns.

Every change that can touch a column's order (create, move, archive, delete, status change) takes
the project's advisory lock in its transaction, so concurrent moves from any process leave each
column numbered 0..n-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from archon.db.pool import Connection, Database
from archon.errors import Conflict, Invalid, NotFound
from archon.projects import repository as repo
from archon.projects import task_repository as tasks
from archon.projects.project_service import require_project
from archon.projects.schemas import (
    Task,
    TaskArchive,
    TaskCreate,
    TaskDeleted,
    TaskList,
    TaskMove,
    TaskMoved,
    TaskQuery,
    TaskStatus,
    TaskUpdate,
    coerce,
    parse_id,
)

_NULLABLE = {"feature", "parent_task_id", "task_order"}


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", detail=[{"field": field, "message": message}])


class TaskService:
    """Create, list, change, move, archive and delete tasks."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_tasks(self, query: TaskQuery | Mapping[str, Any] | None = None) -> TaskList:
        """Tasks matching the filters, in board order (status, then position); archived ones only if asked."""
        q = coerce(TaskQuery, query or {})
        async with self.db.connection() as conn:
            if q.project_id is not None:
                await require_project(conn, q.project_id)
            rows, total = await tasks.list_tasks(conn, q.model_dump())
        return TaskList(tasks=[Task.model_validate(r) for r in rows], total=total, limit=q.limit, offset=q.offset)

    async def get(self, task_id: UUID | str) -> Task:
        """One task; NotFound if unknown."""
        tid = parse_id(task_id, "task_id")
        async with self.db.connection() as conn:
            return Task.model_validate(await self._row(conn, tid))

    async def create(self, data: TaskCreate | Mapping[str, Any]) -> Task:
        """Create a task at `task_order` in its status column (default: last); later tasks shift down."""
        req = coerce(TaskCreate, data)
        async with self.db.transaction() as conn:
            await repo.lock_project(conn, req.project_id)
            await require_project(conn, req.project_id)  # under the lock: a project delete cannot slip in
            if req.parent_task_id is not None:
                await self._check_parent(conn, req.project_id, req.parent_task_id, task_id=None)
            column = await tasks.column_ids(conn, req.project_id, req.status)
            position = len(column) if req.task_order is None else min(req.task_order, len(column))
            row = await tasks.insert_task(conn, {**req.model_dump(), "task_order": position})
            column.insert(position, row["id"])
            await tasks.set_column_order(conn, column)
            await repo.publish(conn, req.project_id, "task_created", row["id"])
            return Task.model_validate(await self._row(conn, row["id"]))

    async def update(self, task_id: UUID | str, changes: TaskUpdate | Mapping[str, Any]) -> Task:
        """Change only the fields given; a new `status` or `task_order` moves the task like `move`."""
        tid = parse_id(task_id, "task_id")
        req = coerce(TaskUpdate, changes)
        values = {k: getattr(req, k) for k in req.model_fields_set}
        for key, value in values.items():
            if value is None and key not in _NULLABLE:
                raise _invalid(key, "may not be null")
        status = values.pop("status", None)
        order_given = "task_order" in values
        position = values.pop("task_order", None)
        async with self.db.transaction() as conn:
            row = await self._locked_row(conn, tid)
            if values.get("parent_task_id") is not None:
                await self._check_parent(conn, row["project_id"], values["parent_task_id"], task_id=tid)
            row = await tasks.update_task(conn, tid, values) or row
            event = "task_updated"
            if (status is not None and status != row["status"]) or (order_given and position is not None
                                                                    and position != row["task_order"]):
                await self._place(conn, row, status or row["status"], position)
                event = "task_moved"
            await repo.publish(conn, row["project_id"], event, tid)
            return Task.model_validate(await self._row(conn, tid))

    async def move(self, task_id: UUID | str, status: TaskStatus, position: int | None = None) -> TaskMoved:
        """Put the task at `position` (0-based, default last) of the `status` column in one atomic step.

        The other tasks of the column it left and of the one it entered are renumbered 0..n-1; the
        result carries both columns' new order.
        """
        tid = parse_id(task_id, "task_id")
        req = coerce(TaskMove, {"status": status, "position": position})
        async with self.db.transaction() as conn:
            row = await self._locked_row(conn, tid)
            columns = await self._place(conn, row, req.status, req.position)
            await repo.publish(conn, row["project_id"], "task_moved", tid)
            return TaskMoved(task=Task.model_validate(await self._row(conn, tid)), columns=columns)

    async def archive(self, task_id: UUID | str, *, archived_by: str = "User") -> Task:
        """Soft-delete the task and its subtasks; Conflict if it is already archived."""
        tid = parse_id(task_id, "task_id")
        who = coerce(TaskArchive, {"archived_by": archived_by}).archived_by
        async with self.db.transaction() as conn:
            row = await self._locked_row(conn, tid)
            if row["archived"]:
                raise Conflict(f"task {tid} is already archived")
            ids = await tasks.subtree_ids(conn, tid, archived=False)
            await tasks.archive_tasks(conn, ids, who)
            await tasks.renumber_project(conn, row["project_id"])
            for archived_id in ids:
                await repo.publish(conn, row["project_id"], "task_archived", archived_id)
            return Task.model_validate(await self._row(conn, tid))

    async def unarchive(self, task_id: UUID | str) -> Task:
        """Bring an archived task back at the end of its column (its subtasks stay archived)."""
        tid = parse_id(task_id, "task_id")
        async with self.db.transaction() as conn:
            row = await self._locked_row(conn, tid)
            if not row["archived"]:
                raise Conflict(f"task {tid} is not archived")
            column = await tasks.column_ids(conn, row["project_id"], row["status"])
            await tasks.unarchive_task(conn, tid, len(column))
            await repo.publish(conn, row["project_id"], "task_updated", tid)
            return Task.model_validate(await self._row(conn, tid))

    async def delete(self, task_id: UUID | str) -> TaskDeleted:
        """Delete the task and its subtasks for good; the columns close the gaps."""
        tid = parse_id(task_id, "task_id")
        async with self.db.transaction() as conn:
            row = await self._locked_row(conn, tid)
            ids = await tasks.subtree_ids(conn, tid)
            deleted = await tasks.delete_tasks(conn, ids)
            await tasks.renumber_project(conn, row["project_id"])
            for deleted_id in ids:
                await repo.publish(conn, row["project_id"], "task_deleted", deleted_id)
        return TaskDeleted(task_id=tid, deleted_tasks=deleted)

    async def columns(self, project_id: UUID | str) -> dict[str, list[UUID]]:
        """The board: task ids per status column in order (non-archived tasks)."""
        pid = parse_id(project_id, "project_id")
        async with self.db.connection() as conn:
            await require_project(conn, pid)
            return {s: await tasks.column_ids(conn, pid, s) for s in ("todo", "doing", "review", "done")}

    # --- helpers -------------------------------------------------------------------
    async def _row(self, conn: Connection, tid: UUID) -> dict[str, Any]:
        row = await tasks.get_task(conn, tid)
        if row is None:
            raise NotFound(f"task {tid} not found")
        return row

    async def _locked_row(self, conn: Connection, tid: UUID) -> dict[str, Any]:
        """Lock the task's project, then read the task (the project lock comes first: no deadlocks)."""
        project_id = await tasks.task_project(conn, tid)
        if project_id is None:
            raise NotFound(f"task {tid} not found")
        await repo.lock_project(conn, project_id)
        return await self._row(conn, tid)  # re-read under the lock: a concurrent move may have changed it

    async def _check_parent(self, conn: Connection, project_id: UUID, parent_id: UUID, *, task_id: UUID | None
                            ) -> None:
        parent = await tasks.get_task(conn, parent_id)
        if parent is None:
            raise NotFound(f"parent task {parent_id} not found")
        if parent["project_id"] != project_id:
            raise _invalid("parent_task_id", f"parent task {parent_id} belongs to another project")
        if task_id is not None and await tasks.is_ancestor(conn, task_id, parent_id):
            raise _invalid("parent_task_id", "a task cannot be its own ancestor (cycle)")

    async def _place(self, conn: Connection, row: dict[str, Any], status: str, position: int | None
                     ) -> dict[str, list[UUID]]:
        """Move `row` to `position` in `status`, renumbering both columns; return their new order."""
        if row["archived"]:
            raise Conflict(f"task {row['id']} is archived; unarchive it before moving it")
        project_id, tid, old_status = row["project_id"], row["id"], row["status"]
        target = [i for i in await tasks.column_ids(conn, project_id, status) if i != tid]
        index = len(target) if position is None else min(position, len(target))
        target.insert(index, tid)
        result: dict[str, list[UUID]] = {}
        if old_status != status:
            await tasks.update_task(conn, tid, {"status": status, "task_order": index})
            source = await tasks.column_ids(conn, project_id, old_status)
            await tasks.set_column_order(conn, source)
            result[old_status] = source
        await tasks.set_column_order(conn, target)
        result[status] = target
        return result
