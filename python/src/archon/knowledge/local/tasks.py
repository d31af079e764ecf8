"""Queue task for folder and git sources: a thin adapter over LocalSourceService."""

from __future__ import annotations

import procrastinate

from archon.jobs.tasks import blueprint
from archon.knowledge.local.service import LOCAL_TASK, LocalSourceService

# A retry after a worker shutdown re-walks the files; unchanged ones are skipped by their hash.
RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=2)


@blueprint.task(name=LOCAL_TASK, pass_context=True, retry=RETRY)
async def index_local(context: procrastinate.JobContext, job_id: str) -> None:
    """Index (or refresh) the folder or git source of job `job_id`."""
    await LocalSourceService(context.additional_context["runtime"]).run(job_id)


@blueprint.periodic(cron="*/5 * * * *", periodic_id="refresh_local")
@blueprint.task(name="refresh_due_local_sources", pass_context=True, queueing_lock="refresh_due_local_sources")
async def refresh_due_local_sources(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 5 minutes: refresh the folder and git sources whose update_frequency_days has elapsed."""
    await LocalSourceService(context.additional_context["runtime"]).refresh_due_sources()
