"""Queue task for pack imports: a thin adapter over PackService."""

from __future__ import annotations

import procrastinate

from archon.jobs.tasks import blueprint
from archon.knowledge.packs.service import IMPORT_TASK, PackService

# A worker shutdown mid-import retries the job; the half-written staging source was discarded.
RETRY = procrastinate.RetryStrategy(max_attempts=3, wait=2)


@blueprint.task(name=IMPORT_TASK, pass_context=True, retry=RETRY)
async def import_pack(context: procrastinate.JobContext, job_id: str) -> None:
    """Import the pack staged for job `job_id`."""
    await PackService(context.additional_context["runtime"]).run(job_id)
