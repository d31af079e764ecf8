"""The job queue: a procrastinate app on the same database, and the in-process worker."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import procrastinate
from procrastinate.worker import Worker

from archon.db.cancel import cancel_and_wait, raise_if_cancelled
from archon.jobs.recovery import HEARTBEAT_SECONDS, WorkerLiveness
from archon.jobs.tasks import blueprint

log = logging.getLogger(__name__)


_namespaced = False

# Supervisor backoff after the worker died (database gone): 1, 2, 4 ... 10 s, reset after a minute of health.
RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 10.0
HEALTHY_RUN_SECONDS = 60.0
POOL_TIMEOUT = 5.0


def _load_tasks(app: procrastinate.App) -> None:
    """Register the blueprint's tasks on `app`.

    procrastinate's add_tasks_from renames the blueprint's tasks in place, so a second JobQueue in one
    process (tests, or a CLI command after a server) would get `archon:archon:...`; later apps reuse
    the already-namespaced tasks instead.
    """
    global _namespaced
    if not _namespaced:
        app.add_tasks_from(blueprint, namespace="archon")
        _namespaced = True
        return
    app.tasks.update(blueprint.tasks)
    for task in set(blueprint.tasks.values()):
        task.blueprint = app  # deferring through a task object uses the newest queue
    for periodic in blueprint.periodic_registry.periodic_tasks.values():
        app.periodic_registry.register_task(task=periodic.task, cron=periodic.cron, periodic_id=periodic.periodic_id,
                                            configure_kwargs=periodic.configure_kwargs)


class JobQueue:
    """Defers jobs and, when asked, runs a worker inside this process."""

    def __init__(self, conninfo: str, *, pool_max: int = 4) -> None:
        # procrastinate checks connections on checkout; reconnect_timeout=0 keeps the pool reconnecting through
        # a long outage, so deferring works again as soon as the database is back. A short checkout timeout
        # lets a worker that lost its database stop (and be restarted) in seconds, not after the default 30 s.
        connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_max,
                                                   reconnect_timeout=0, timeout=POOL_TIMEOUT)
        self.app = procrastinate.App(connector=connector)
        self.conninfo = conninfo
        _load_tasks(self.app)
        self._worker: asyncio.Task[None] | None = None
        self.worker_state = "off"  # off | running | restarting
        self.worker_restarts = 0
        self._grace = 0.0

    async def open(self) -> None:
        await self.app.open_async()

    async def close(self) -> None:
        await self.stop_worker()
        await self.app.close_async()

    async def defer(self, task: str, *, queueing_lock: str | None = None, **kwargs: Any) -> int:
        """Queue `archon:<task>` with `kwargs`; returns the queue's job id."""
        job = self.app.configure_task(f"archon:{task}", queueing_lock=queueing_lock)
        return int(await job.defer_async(**kwargs))

    def start_worker(self, runtime: object, *, concurrency: int, grace_seconds: float) -> None:
        """Run a supervised worker in the background of this event loop (restarted when it dies)."""
        if self._worker is not None:
            return
        name = f"{socket.gethostname()}-{id(self):x}"
        options: dict[str, Any] = {
            "concurrency": concurrency, "install_signal_handlers": False,
            "additional_context": {"runtime": runtime}, "shutdown_graceful_timeout": grace_seconds,
            "listen_notify": True, "name": name,
            # Frequent heartbeats let a restarted process tell a dead predecessor within seconds (jobs/recovery.py).
            "update_heartbeat_interval": HEARTBEAT_SECONDS,
        }
        self.worker_state, self._grace = "running", grace_seconds
        self._worker = asyncio.create_task(self._supervise(options), name="archon-worker")
        log.info("job worker %s started (concurrency %d)", name, concurrency)

    async def _supervise(self, options: dict[str, Any]) -> None:
        """Run the procrastinate worker forever; when it ends by itself (its database connection died,
        procrastinate raises ConnectorException) wait with backoff and start it again.

        Jobs it was running stay `doing` in the queue; they are queued again below (or, if this process
        died, by another worker's liveness sweep, jobs/recovery.py), and resume from their checkpoints.
        """
        delay = RESTART_BACKOFF_MIN
        while True:
            started = time.monotonic()
            self.worker_state = "running"
            worker = Worker(app=self.app, **{**self.app.worker_defaults, **options})
            # Holds the worker's liveness lock and recovers dead workers' jobs (a predecessor's at once).
            watch = WorkerLiveness(self.app, self.conninfo).run(partial(getattr, worker, "worker_id"))
            liveness = asyncio.create_task(watch, name="archon-worker-liveness")
            try:
                await worker.run()  # type: ignore[no-untyped-call]
                log.warning("job worker stopped by itself; restarting in %.0f s", delay)
            except asyncio.CancelledError:
                self.worker_state = "off"
                raise
            except Exception as exc:  # the worker must outlive any outage: log and restart
                raise_if_cancelled()  # a stop that the database driver turned into an error
                log.warning("job worker died (%s: %s); restarting in %.0f s", type(exc).__name__,
                            str(exc)[:200], delay)
            finally:
                await cancel_and_wait(liveness, name="job worker liveness check", timeout=5)
            self.worker_state = "restarting"
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                delay = RESTART_BACKOFF_MIN
            try:
                await asyncio.sleep(delay)
                if worker.worker_id is not None:
                    await self._release_dead_worker(worker.worker_id)
            except asyncio.CancelledError:
                self.worker_state = "off"
                raise
            except Exception as exc:  # database still away: try again after the next backoff
                raise_if_cancelled()
                log.info("job worker restart deferred: %s", type(exc).__name__)
                delay = min(delay * 2, RESTART_BACKOFF_MAX)
                self.worker_restarts += 1
                continue
            delay = min(delay * 2, RESTART_BACKOFF_MAX)
            self.worker_restarts += 1

    async def _release_dead_worker(self, worker_id: int) -> None:
        """Queue again the jobs our dead worker held and unregister it.

        When `Worker.run` has returned, none of its jobs runs any more in this process, so they can be
        retried at once instead of waiting for the stalled-job sweep (heartbeat timeout + cron minute).
        """
        rows = await self.app.connector.execute_query_all_async(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %(worker_id)s",
            worker_id=worker_id)
        for row in rows:
            log.warning("job %s was running when the worker died; queueing it again", row["id"])
            await self.app.job_manager.retry_job_by_id_async(row["id"], retry_at=datetime.now(UTC))
        await self.app.job_manager.unregister_worker(worker_id)

    @property
    def worker_running(self) -> bool:
        return self._worker is not None and not self._worker.done() and self.worker_state == "running"

    async def stop_worker(self) -> None:
        """Stop taking jobs; running jobs get the grace period, then are cancelled (and retried later)."""
        if self._worker is None:
            return
        # Patience first: procrastinate shuts down gracefully inside the cancelled task (grace period,
        # then it cancels the jobs); only a worker stuck past that is cancelled again, then abandoned.
        stopped = await cancel_and_wait(self._worker, name="job worker", patience=self._grace + 10, timeout=10)
        self._worker, self.worker_state = None, "off"
        if stopped:
            log.info("job worker stopped")
