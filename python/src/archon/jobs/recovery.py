"""Stalled-job recovery: a job whose worker died (SIGKILL, lost host) is queued again.

procrastinate alone notices a dead worker only by its heartbeat (every 10 s, stale after 30 s) and only
when someone looks; with the sweep as a once-a-minute cron job a restarted server waited up to ~90 s
before its predecessor's crawl moved again. Here every worker process also holds a session advisory
lock keyed by its worker id on a dedicated connection (`WorkerLiveness`). A worker whose lock is free
and whose heartbeat (every `HEARTBEAT_SECONDS`) is a few seconds old is dead: Postgres dropped its
session when the process died. Every running worker sweeps every `SWEEP_SECONDS` (and at once when it
starts), so a restarted process recovers its predecessor's jobs within seconds.

The heartbeat condition guards the two moments a live worker has no lock: between registering and
taking it, and after its lock connection broke (it is taken again at the next sweep). A worker that
still holds its lock but stopped heartbeating for `STALLED_AFTER_SECONDS` (a host that vanished
without closing its TCP connection) is dead too, as in plain procrastinate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions, sql

from archon.db.cancel import raise_if_cancelled
from archon.jobs.tasks import blueprint

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x574F524B  # "WORK": first key of a worker's liveness lock (the second is its worker id)
HEARTBEAT_SECONDS = 2.0  # procrastinate's default is 10 s
DEAD_AFTER_SECONDS = 6.0  # lock free and no heartbeat for this long: the worker is dead
STALLED_AFTER_SECONDS = 30.0  # no heartbeat for this long: dead whatever its lock says
SWEEP_SECONDS = 3.0

# Workers that are dead, locked so that concurrent sweeps (every worker runs one) never handle one twice.
# pg_locks lists the whole cluster's locks; several databases (and their worker ids) may share it.
_DEAD_WORKERS = """
SELECT w.id FROM procrastinate_workers w
 WHERE w.last_heartbeat < now() - make_interval(secs => %(stalled)s)
    OR (w.last_heartbeat < now() - make_interval(secs => %(dead)s)
        AND NOT EXISTS (SELECT 1 FROM pg_locks l
                         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                           AND l.classid::bigint = %(namespace)s AND l.objid::bigint = w.id %% 2147483648
                           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
 FOR UPDATE SKIP LOCKED
"""
# Jobs of those workers, plus `doing` jobs whose worker row is already gone (procrastinate prunes
# workers with a stale heartbeat when a worker starts, which leaves their jobs without a worker).
_ORPHANED_JOBS = """
SELECT id, task_name FROM procrastinate_jobs
 WHERE status = 'doing' AND (worker_id = ANY(%(workers)s) OR worker_id IS NULL)
 FOR UPDATE SKIP LOCKED
"""


async def recover_dead_workers(app: procrastinate.App, *,
                               stalled_after: float = STALLED_AFTER_SECONDS) -> int:
    """Re-queue every running job of a dead worker and unregister the worker; returns how many jobs.

    One transaction: the dead workers' rows and their jobs stay locked until the retries commit, so a
    sweep running at the same time elsewhere skips them instead of retrying a job twice.
    """
    connector = app.connector
    assert isinstance(connector, procrastinate.PsycopgConnector)
    now = datetime.now(UTC)
    async with connector.pool.connection() as conn, conn.transaction():
        async def query(text: Any, **params: Any) -> list[dict[str, Any]]:
            return list(await connector.execute_query_all_async_with_connection(conn, text, **params))

        dead = [int(r["id"]) for r in await query(_DEAD_WORKERS, stalled=stalled_after,
                                                    dead=min(DEAD_AFTER_SECONDS, stalled_after),
                                                    namespace=LOCK_NAMESPACE)]
        jobs = await query(_ORPHANED_JOBS, workers=dead)
        for job in jobs:
            log.warning("job %s (%s) lost its worker; queueing it again", job["id"], job["task_name"])
            await query(sql.queries["retry_job"], job_id=job["id"], retry_at=now, new_priority=None,
                        new_queue_name=None, new_lock=None)
        for worker_id in dead:
            await query(sql.queries["unregister_worker"], worker_id=worker_id)
    if dead:
        log.info("unregistered dead job worker(s) %s", ", ".join(map(str, dead)))
    return len(jobs)


async def retry_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS) -> int:
    """Re-queue the jobs of dead workers (or of any worker silent for `seconds_since_heartbeat`)."""
    return await recover_dead_workers(app, stalled_after=seconds_since_heartbeat)


class WorkerLiveness:
    """While a procrastinate worker runs: hold its liveness lock and sweep for dead workers."""

    def __init__(self, app: procrastinate.App, conninfo: str) -> None:
        self.app = app
        self.conninfo = conninfo
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._locked_id: int | None = None

    async def run(self, worker_id: Callable[[], int | None]) -> None:
        """Loop until cancelled; `worker_id()` is the worker's id once it registered (None before)."""
        try:
            while True:
                pause = SWEEP_SECONDS
                try:
                    await self._hold(worker_id())
                    await recover_dead_workers(self.app)
                    if self._conn is None:
                        pause = 0.2  # the worker registers right after it starts: take its lock soon
                except (psycopg.Error, exceptions.ConnectorException, OSError) as exc:
                    raise_if_cancelled()  # a stop that psycopg turned into an error
                    # The database is away: the worker's own supervision handles that; try again later.
                    log.info("worker liveness check failed: %s: %s", type(exc).__name__, str(exc)[:200])
                    await self._release()
                except Exception:  # never let a bug here stop the worker it watches
                    raise_if_cancelled()
                    log.exception("worker liveness check failed")
                    await self._release()
                raise_if_cancelled()  # a stop that psycopg_pool swallowed
                await asyncio.sleep(pause)
        finally:
            await self._release()

    async def _hold(self, worker_id: int | None) -> None:
        if worker_id != self._locked_id:
            await self._release()
        if worker_id is None:
            return
        if self._conn is not None:
            await self._conn.execute("SELECT 1")  # raises when the lock's session is gone
            return
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            await conn.execute("SELECT pg_advisory_lock(%s::int, (%s::bigint %% 2147483648)::int)",
                               (LOCK_NAMESPACE, worker_id))
        except BaseException:
            await conn.close()
            raise
        self._conn, self._locked_id = conn, worker_id

    async def _release(self) -> None:
        conn, self._conn, self._locked_id = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # closing the session frees the lock


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="retry_stalled_jobs", pass_context=True, queueing_lock="retry_stalled_jobs")
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: recover jobs of dead workers (a backstop; running workers also sweep every few seconds)."""
    return await retry_stalled_jobs(context.app)
