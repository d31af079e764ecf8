"""Job state users see (archon_jobs): create, start, progress, finish, cancel. Every change is NOTIFYed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archon.db.pool import Connection, Database
from archon.errors import NotFound
from archon.jobs.events import JOB_FINISHED, PROGRESS_CHANNEL, notify_knowledge
from archon.jobs.progress import ProgressReporter

LOG_TAIL = 50  # lines kept per job: enough context for a user, bounded for a 100k-page crawl
ACTIVE = ("queued", "running")
TERMINAL = ("completed", "error", "cancelled")
MESSAGE_TYPES = {"completed": "crawl_completed", "error": "crawl_error", "cancelled": "crawl_cancelled"}

_COLUMNS = ("id, kind, status, source_id, params, progress, percentage, log, error, cancel_requested, "
            "queue_job_id, attempts, created_at, started_at, finished_at, updated_at")


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    status: str
    source_id: str | None
    params: dict[str, Any]
    progress: dict[str, Any]
    percentage: float
    log: list[str]
    error: str | None
    cancel_requested: bool
    queue_job_id: int | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def progress_data(self) -> dict[str, Any]:
        """The camelCase progress object of the REST and WebSocket protocol."""
        data: dict[str, Any] = {
            "progressId": self.id,
            "kind": self.kind,
            "status": self.status,
            "stage": self.progress.get("stage", self.status),
            "percentage": round(self.percentage, 1),
            "currentUrl": self.progress.get("currentUrl", ""),
            "totalPages": int(self.progress.get("totalPages", 0) or 0),
            "processedPages": int(self.progress.get("processedPages", 0) or 0),
            "chunksStored": int(self.progress.get("chunksStored", 0) or 0),
            "log": self.log[-1] if self.log else "",
            "logs": list(self.log),
            "sourceId": self.source_id,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }
        for key, value in self.progress.items():
            data.setdefault(key, value)
        if self.error is not None:
            data["error"] = self.error
        return data

    def message(self) -> dict[str, Any]:
        """`{"type": crawl_progress|crawl_completed|crawl_error|crawl_cancelled, "data": ...}`."""
        return {"type": MESSAGE_TYPES.get(self.status, "crawl_progress"), "data": self.progress_data()}


def _view(row: dict[str, Any]) -> JobView:
    return JobView(**{k: row[k] for k in JobView.__dataclass_fields__})


class JobService:
    """The only writer of archon_jobs. Workers report through `reporter(job_id)`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, kind: str, params: dict[str, Any], source_id: str | None = None, *,
                     conn: Connection | None = None) -> str:
        """Insert a `queued` job and return its id (the progressId); pass `conn` to join a transaction."""
        job_id = str(uuid.uuid4())
        sql = ("WITH j AS (INSERT INTO archon_jobs (id, kind, params, source_id) VALUES (%s, %s, %s, %s) "
               "RETURNING id) SELECT pg_notify(%s, id) FROM j")
        args = (job_id, kind, json.dumps(params, default=str), source_id, PROGRESS_CHANNEL)
        if conn is not None:
            await conn.execute(sql, args)
        else:
            async with self.db.connection() as own:
                await own.execute(sql, args)
        return job_id

    async def get(self, job_id: str) -> JobView:
        """The job's current state; NotFound for an unknown id."""
        job = await self.find(job_id)
        if job is None:
            raise NotFound(f"no job with progressId {job_id!r}")
        return job

    async def find(self, job_id: str) -> JobView | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM archon_jobs WHERE id = %s",
                                            (job_id,))).fetchone()
        return _view(row) if row else None

    async def list_active(self, kind: str | None = None) -> list[JobView]:
        """Queued and running jobs, oldest first."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {_COLUMNS} FROM archon_jobs WHERE status IN ('queued', 'running') "
                "AND (%(kind)s::text IS NULL OR kind = %(kind)s) ORDER BY created_at", {"kind": kind})).fetchall()
        return [_view(r) for r in rows]

    async def _transition(self, job_id: str, assignments: str, params: dict[str, Any],
                          *, only: tuple[str, ...] = ACTIVE) -> JobView | None:
        """Apply `assignments` if the job's status is in `only`; NOTIFY and return the new row."""
        async with self.db.transaction() as conn:
            row = await (await conn.execute(
                f"UPDATE archon_jobs SET {assignments} WHERE id = %(id)s AND status = ANY(%(only)s) "
                f"RETURNING {_COLUMNS}", {"id": job_id, "only": list(only), **params})).fetchone()
            if row is None:
                return None
            await conn.execute("SELECT pg_notify(%s, %s)", (PROGRESS_CHANNEL, job_id))
            job = _view(row)
            if job.finished:
                await notify_knowledge(conn, JOB_FINISHED, progressId=job.id, kind=job.kind, status=job.status,
                                       sourceId=job.source_id)
        return job

    async def start(self, job_id: str) -> bool:
        """Mark the job running (again, after a crash); False if it already finished or was cancelled."""
        job = await self._transition(
            job_id, "status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now())", {})
        return job is not None

    def reporter(self, job_id: str) -> ProgressReporter:
        """The progress interface a running job writes through."""
        return ProgressReporter(self, job_id)

    async def update_progress(self, job_id: str, fields: dict[str, Any], *, percentage: float | None = None,
                              log: str | None = None) -> None:
        """Merge `fields` into progress; percentage only moves forward; `log` joins a bounded tail."""
        await self._transition(
            job_id,
            "progress = progress || %(fields)s::jsonb, "
            "percentage = GREATEST(percentage, LEAST(100, GREATEST(0, COALESCE(%(pct)s, percentage)))), "
            "log = CASE WHEN %(log)s::text IS NULL THEN log "
            "ELSE (log || %(log)s::text)[GREATEST(1, cardinality(log) + 2 - %(keep)s):] END",
            {"fields": json.dumps(fields, default=str), "pct": percentage, "log": log, "keep": LOG_TAIL},
        )

    async def complete(self, job_id: str, **final: Any) -> JobView | None:
        """Finish successfully at 100 %; `final` (e.g. chunksStored=...) is merged into the progress."""
        return await self._transition(
            job_id, "status = 'completed', percentage = 100, finished_at = now(), "
                    "progress = progress || %(final)s::jsonb",
            {"final": json.dumps({"stage": "completed", **final}, default=str)})

    async def fail(self, job_id: str, error: str) -> JobView | None:
        """Finish with an error message users can act on."""
        return await self._transition(
            job_id, "status = 'error', error = %(error)s, finished_at = now(), "
                    "progress = progress || '{\"stage\": \"error\"}'::jsonb, "
                    "log = (log || %(line)s::text)[GREATEST(1, cardinality(log) + 2 - %(keep)s):]",
            {"error": error[:2000], "line": f"error: {error[:500]}", "keep": LOG_TAIL})

    async def mark_cancelled(self, job_id: str) -> JobView | None:
        """Record that the job stopped because a user asked it to."""
        return await self._transition(
            job_id, "status = 'cancelled', cancel_requested = true, finished_at = now(), "
                    "progress = progress || '{\"stage\": \"cancelled\"}'::jsonb", {})

    async def request_cancel(self, job_id: str) -> JobView:
        """Ask the job to stop: a queued job is cancelled at once, a running one stops at its next check."""
        job = await self.get(job_id)
        if job.finished:
            return job
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE archon_jobs SET cancel_requested = true WHERE id = %s", (job_id,))
            await conn.execute("SELECT pg_notify(%s, %s)", (PROGRESS_CHANNEL, job_id))
        if job.status == "queued":
            if job.queue_job_id is not None:
                async with self.db.connection() as conn:
                    await conn.execute("SELECT procrastinate_cancel_job_v1(%s, false, false)", (job.queue_job_id,))
            await self._transition(job_id, "status = 'cancelled', finished_at = now(), "
                                            "progress = progress || '{\"stage\": \"cancelled\"}'::jsonb",
                                   {}, only=("queued",))
        return await self.get(job_id)

    async def is_cancel_requested(self, job_id: str) -> bool:
        """True when a stop was requested (or the job row is gone)."""
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT cancel_requested FROM archon_jobs WHERE id = %s",
                                            (job_id,))).fetchone()
        return row is None or bool(row["cancel_requested"])

    async def attach_queue_job(self, job_id: str, queue_job_id: int) -> None:
        """Remember the procrastinate job that runs this job (used to cancel it while queued)."""
        async with self.db.connection() as conn:
            await conn.execute("UPDATE archon_jobs SET queue_job_id = %s WHERE id = %s", (queue_job_id, job_id))
