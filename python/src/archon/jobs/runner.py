"""Runs one job body inside a concurrency slot and records how it ended.

Slots are Postgres advisory locks held on a dedicated connection for the whole job, so the limit
(CONCURRENT_CRAWL_LIMIT) holds across every worker process and host, and a crashed worker's slot
frees itself when its connection dies. The limit is the `concurrent_crawl_limit` runtime setting, read
at every attempt to start a job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import PoolTimeout

from archon.errors import ArchonError
from archon.jobs.progress import JobCancelled, ProgressReporter
from archon.jobs.service import JobService
from archon.observability.metrics import JOBS_FINISHED, JOBS_STARTED
from archon.settings.service import RuntimeSettingsService

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

_SLOT_NAMESPACE = 0x41524348  # "ARCH": first key of the two-key advisory lock
_SLOT_POLL_SECONDS = 0.5

# A job that lost its database is retried by the queue (its body resumes from its checkpoints) instead of
# being recorded as failed; past this many attempts it fails so it can never loop forever.
DATABASE_LOST_RETRIES = 8

# A retryable ArchonError (an embedding provider in a 429/5xx/outage spell) is waited out: the body runs
# again (bodies resume from their checkpoints) with growing pauses for up to this long, then the job fails.
TRANSIENT_PATIENCE_SECONDS = 600.0
TRANSIENT_FIRST_PAUSE = 2.0
TRANSIENT_MAX_PAUSE = 30.0

JobBody = Callable[[ProgressReporter], Awaitable[dict[str, Any]]]


# Slot locks held in this database (pg_locks lists the whole cluster's; several databases may share it).
_HELD_SLOTS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
               "AND classid::bigint = %s "
               "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

SlotLimit = int | Callable[[], Awaitable[int]]


async def _try_slots(conn: psycopg.AsyncConnection[Any], limit: int) -> bool:
    """Take a free slot below `limit`, keeping it only while at most `limit` slots are held in all.

    The count matters after the limit was lowered: jobs started under the old limit may still hold
    slots numbered above the new one, and the new limit must hold for the next job start.
    """
    for slot in range(limit):
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_SLOT_NAMESPACE, slot))
        row = await cur.fetchone()
        if row is None or not row[0]:
            continue
        held = await (await conn.execute(_HELD_SLOTS, (_SLOT_NAMESPACE,))).fetchone()
        if held is not None and int(held[0]) <= limit:
            return True
        await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_SLOT_NAMESPACE, slot))
        return False
    return False


async def acquire_slot(conninfo: str, limit: SlotLimit, *, give_up: Callable[[], Awaitable[bool]],
                       poll: float = _SLOT_POLL_SECONDS) -> psycopg.AsyncConnection[Any] | None:
    """A connection holding one of `limit` slot locks, or None when `give_up()` turns true first.

    `limit` may be a coroutine function: it is asked again on every attempt, so a waiting job follows
    a changed CONCURRENT_CRAWL_LIMIT setting.
    """
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    try:
        while True:
            if await _try_slots(conn, limit if isinstance(limit, int) else await limit()):
                return conn
            if await give_up():
                await conn.close()
                return None
            await asyncio.sleep(poll)
    except BaseException:
        await conn.close()
        raise


def database_lost(exc: BaseException) -> bool:
    """True for a lost or unreachable database (not for a query the database refused or cancelled)."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout))


async def run_patiently(reporter: ProgressReporter, body: JobBody, *,
                        patience: float | None = None) -> dict[str, Any]:
    """Run `body`; while it fails with a retryable error, pause (growing, cancellable) and run it again."""
    limit = TRANSIENT_PATIENCE_SECONDS if patience is None else patience
    deadline = time.monotonic() + limit
    pause = TRANSIENT_FIRST_PAUSE
    while True:
        await reporter.raise_if_cancelled()
        try:
            return await body(reporter)
        except ArchonError as exc:
            if not getattr(exc, "retryable", False) or time.monotonic() + pause > deadline:
                raise
            log.warning("job %s: %s; running it again in %.0f s", reporter.job_id, exc.message, pause)
            await reporter.update(log=f"waiting {pause:.0f} s, then resuming: {exc.message}"[:500])
            resume_at = time.monotonic() + pause
            while time.monotonic() < resume_at:  # a stop request still lands within a second
                await reporter.raise_if_cancelled()
                await asyncio.sleep(min(1.0, max(0.0, resume_at - time.monotonic())))
            pause = min(pause * 2, TRANSIENT_MAX_PAUSE)


async def run_job(runtime: Runtime, job_id: str, body: JobBody) -> None:
    """Wait for a slot, mark the job running, run `body(reporter)` and record completed/error/cancelled.

    `body` returns the final progress fields (e.g. {"chunksStored": 42}). Asyncio cancellation (worker
    shutdown) is not caught: the queue retries the job, and bodies are idempotent.
    """
    jobs = JobService(runtime.db)
    job = await jobs.find(job_id)
    if job is None or job.finished:
        log.info("job %s is gone or finished; nothing to run", job_id)
        return

    async def give_up() -> bool:
        current = await jobs.find(job_id)
        return current is None or current.finished

    async def limit() -> int:
        # The runtime setting (cached ~2 s), so a PUT /api/settings applies to the next job start everywhere.
        return (await RuntimeSettingsService(runtime).current()).concurrent_crawl_limit

    slot = await acquire_slot(runtime.db.conninfo, limit, give_up=give_up)
    if slot is None:
        return
    try:
        if not await jobs.start(job_id):
            return
        JOBS_STARTED.labels(kind=job.kind).inc()
        reporter = jobs.reporter(job_id)
        try:
            final = await run_patiently(reporter, body)
        except JobCancelled:
            await jobs.mark_cancelled(job_id)
            JOBS_FINISHED.labels(kind=job.kind, status="cancelled").inc()
        except ArchonError as exc:
            await jobs.fail(job_id, exc.message)
            JOBS_FINISHED.labels(kind=job.kind, status="error").inc()
        except Exception as exc:  # a job must always end in a state the user can see
            if database_lost(exc) and job.attempts < DATABASE_LOST_RETRIES:
                log.warning("job %s (%s) lost the database (%s); the queue retries it", job_id, job.kind,
                            type(exc).__name__)
                raise
            log.exception("job %s (%s) failed", job_id, job.kind)
            await jobs.fail(job_id, f"unexpected error: {type(exc).__name__}: {str(exc)[:300]}")
            JOBS_FINISHED.labels(kind=job.kind, status="error").inc()
        else:
            await jobs.complete(job_id, **final)
            JOBS_FINISHED.labels(kind=job.kind, status="completed").inc()
    finally:
        await slot.close()
