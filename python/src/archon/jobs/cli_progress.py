"""Following a job from the command line: the one progress bar `crawl`, `ingest` and `import` share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import typer

from archon.jobs.service import JobService, JobView

_POLL_SECONDS = 0.3


async def follow(jobs: JobService, job_id: str, on_change: Callable[[JobView], None]) -> JobView:
    """Poll the job until it finishes, calling `on_change` with each new state."""
    last = None
    while True:
        job = await jobs.get(job_id)
        if job.updated_at != last:
            last = job.updated_at
            on_change(job)
        if job.finished:
            return job
        await asyncio.sleep(_POLL_SECONDS)


async def follow_with_bar(jobs: JobService, job_id: str, label: str) -> JobView:
    """Show a progress bar until the job finishes; Ctrl-C cancels the job, not just the command."""
    with typer.progressbar(length=100, label=label) as bar:
        shown = 0

        def show(job: JobView) -> None:
            nonlocal shown
            step = int(job.percentage) - shown
            if step > 0:
                bar.update(step)
                shown += step

        try:
            return await follow(jobs, job_id, show)
        except asyncio.CancelledError:
            await jobs.request_cancel(job_id)
            raise
