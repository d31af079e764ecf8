"""Per-job progress fan-out for one API process, on top of the process's NotifyHub.

One subscription to the progress channel; when a watched job changes, its row is read once and the
snapshot is handed to every watcher. Watchers keep only the latest snapshot (progress messages are
full states), so a slow WebSocket client never makes the server buffer without bound and still ends
with the final state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from archon.db.cancel import cancel_and_wait
from archon.db.notify import NotifyHub
from archon.jobs.events import PROGRESS_CHANNEL
from archon.jobs.service import JobService, JobView

log = logging.getLogger(__name__)


class Watcher:
    """The latest state of one job for one consumer."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._latest: JobView | None = None
        self._changed = asyncio.Event()

    def offer(self, view: JobView | None) -> None:
        if view is not None:
            self._latest = view
            self._changed.set()

    async def next(self) -> JobView:
        """Wait for the next state (the latest one if several arrived meanwhile)."""
        await self._changed.wait()
        self._changed.clear()
        assert self._latest is not None
        return self._latest


class ProgressFeed:
    def __init__(self, hub: NotifyHub, jobs: JobService) -> None:
        self.hub = hub
        self.jobs = jobs
        self._watchers: dict[str, set[Watcher]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.create_task(self._run(), name="archon-progress-feed")
        async with asyncio.timeout(10):
            await self._ready.wait()

    async def _run(self) -> None:
        async with self.hub.subscribe(PROGRESS_CHANNEL) as subscription:
            self._ready.set()
            async for note in subscription:
                ids = list(self._watchers) if note.gap else [note.payload]
                for job_id in ids:
                    watchers = self._watchers.get(job_id)
                    if not watchers:
                        continue
                    try:
                        view = await self.jobs.find(job_id)
                    except Exception:  # the database blipped: the next notification or gap resyncs
                        log.warning("could not read job %s for progress fan-out", job_id, exc_info=True)
                        continue
                    for watcher in list(watchers):
                        watcher.offer(view)

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[Watcher]:
        """Receive job `job_id`'s states while inside the block (LISTEN is active on entry)."""
        watcher = Watcher(job_id)
        self._watchers.setdefault(job_id, set()).add(watcher)
        try:
            await self._ensure_running()
            yield watcher
        finally:
            watchers = self._watchers.get(job_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    self._watchers.pop(job_id, None)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task, name="job progress feed")
