"""Queue tasks for ingestion: thin adapters from a procrastinate job to UploadService."""

from __future__ import annotations

import procrastinate

from archon.jobs.progress import ProgressReporter
from archon.jobs.runner import run_job
from archon.jobs.tasks import blueprint
from archon.knowledge.ingest.uploads import UPLOAD_TASK, UploadService

# A job interrupted by a worker shutdown (or a stalled worker) is retried; the body skips finished files.
RETRY = procrastinate.RetryStrategy(max_attempts=10, wait=2)


@blueprint.task(name=UPLOAD_TASK, pass_context=True, retry=RETRY)
async def ingest_upload(context: procrastinate.JobContext, job_id: str) -> None:
    """Convert and index the files of upload job `job_id`."""
    runtime = context.additional_context["runtime"]
    service = UploadService(runtime)

    async def body(reporter: ProgressReporter) -> dict[str, object]:
        return await service.process(job_id, reporter)

    await run_job(runtime, job_id, body)
