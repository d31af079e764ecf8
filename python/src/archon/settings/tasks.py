"""Background task of this domain: the re-embed job (a thin adapter over ReembedService.run)."""

from __future__ import annotations

import procrastinate

from archon.jobs.tasks import blueprint

# Like crawls: a job interrupted by a worker shutdown is retried and resumes (items with a vector are skipped).
RETRY = procrastinate.RetryStrategy(max_attempts=10, wait=2)


@blueprint.task(name="reembed", pass_context=True, retry=RETRY)
async def reembed(context: procrastinate.JobContext, job_id: str) -> None:
    """Write the new embedding model's vectors, then switch search to it."""
    from archon.jobs.runner import run_job
    from archon.settings.reembed import ReembedService

    runtime = context.additional_context["runtime"]
    service = ReembedService(runtime)
    await run_job(runtime, job_id, lambda reporter: service.run(job_id, reporter))
