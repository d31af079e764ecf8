"""The job queue: a procrastinate app on the same database, and the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import procrastinate

from archon.jobs.tasks import blueprint

log = logging.getLogger(__name__)


_namespaced = False


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
        connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_max)
        self.app = procrastinate.App(connector=connector)
        _load_tasks(self.app)
        self._worker: asyncio.Task[None] | None = None

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
        """Run a worker in the background of this event loop."""
        if self._worker is not None:
            return
        name = f"{socket.gethostname()}-{id(self):x}"
        self._worker = asyncio.create_task(
            self.app.run_worker_async(
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"runtime": runtime},
                shutdown_graceful_timeout=grace_seconds,
                listen_notify=True,
                name=name,
            ),
            name="archon-worker",
        )
        log.info("job worker %s started (concurrency %d)", name, concurrency)

    @property
    def worker_running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def stop_worker(self) -> None:
        """Stop taking jobs; running jobs get the grace period, then are cancelled (and retried later)."""
        if self._worker is None:
            return
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        log.info("job worker stopped")
