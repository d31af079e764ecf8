"""Stalled-job recovery: a job whose worker died (SIGKILL, lost host) is queued again."""

from __future__ import annotations

import logging

import procrastinate

from archon.jobs.tasks import blueprint

log = logging.getLogger(__name__)

STALLED_AFTER_SECONDS = 30.0  # procrastinate workers heartbeat every 10 s


async def retry_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS) -> int:
    """Re-queue every `doing` job whose worker stopped heartbeating; returns how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning("job %s (%s) lost its worker; queueing it again", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="retry_stalled_jobs", pass_context=True, queueing_lock="retry_stalled_jobs")
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: recover jobs of dead workers (their archon_jobs rows resume where they stopped)."""
    return await retry_stalled_jobs(context.app)
