"""`archon crawl URL`: the same crawl job as the REST API, followed with a progress bar."""

from __future__ import annotations

import typer

from archon.config import Settings
from archon.jobs.cli_progress import follow_with_bar
from archon.jobs.service import JobService
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService


async def run_crawl(settings: Settings, request: CrawlRequest, *, detach: bool = False) -> int:
    """Queue the crawl; unless `detach`, run the worker here and show progress; return an exit code."""
    from archon.runtime import Runtime

    runtime = await Runtime.start(settings, run_worker=None if not detach else False)
    try:
        jobs = JobService(runtime.db)
        started = await CrawlService(runtime).start_crawl(request)
        typer.echo(f"source {started.sourceId}, progressId {started.progressId}", err=True)
        if detach:
            typer.echo(started.progressId)
            return 0
        final = await follow_with_bar(jobs, started.progressId, f"crawling {request.url}")
        data = final.progress_data()
        if final.status != "completed":
            typer.echo(f"archon: crawl {final.status}: {final.error or data.get('log', '')}", err=True)
            return 1
        typer.echo(f"crawled {data['processedPages']} page(s) of {request.url} into {started.sourceId}: "
                   f"{data['chunksStored']} chunks, {data.get('pagesFailed', 0)} failed, "
                   f"{data.get('pagesSkipped', 0)} skipped")
        return 0
    finally:
        await runtime.stop()
