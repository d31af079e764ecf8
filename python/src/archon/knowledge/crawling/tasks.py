"""Queue tasks for crawling: thin adapters over CrawlService."""

from __future__ import annotations

import procrastinate

from archon.jobs.tasks import blueprint
from archon.knowledge.crawling.service import CrawlService


def _service(context: procrastinate.JobContext) -> CrawlService:
    return CrawlService(context.additional_context["runtime"])


# A crawl interrupted by a worker shutdown is retried (stalled workers are handled by jobs.recovery);
# the retry resumes from the frontier.
RETRY = procrastinate.RetryStrategy(max_attempts=10, wait=2)


@blueprint.task(name="crawl", pass_context=True, retry=RETRY)
async def crawl(context: procrastinate.JobContext, job_id: str) -> None:
    """Run or resume one crawl/refresh job (its state lives in archon_jobs and archon_crawl_urls)."""
    await _service(context).run(job_id)


@blueprint.task(name="crawl_helper", pass_context=True)
async def crawl_helper(context: procrastinate.JobContext, job_id: str) -> None:
    """Join a running crawl queued by the crawl itself, so idle workers share its pages (scale-out)."""
    await _service(context).join(job_id)


@blueprint.periodic(cron="*/5 * * * *", periodic_id="refresh")
@blueprint.task(name="refresh_due_sources", pass_context=True, queueing_lock="refresh_due_sources")
async def refresh_due_sources(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 5 minutes: refresh the web sources whose update_frequency_days has elapsed."""
    await _service(context).refresh_due_sources()
