"""`archon ingest --folder-source DIR`: a folder as one refreshable source, followed with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.ingest.cli import follow
from archon.knowledge.local.service import LocalSourceService


async def run_folder_ingest(settings: Settings, folders: list[Path], *, knowledge_type: str, tags: list[str],
                            extract_code_examples: bool) -> int:
    """Index each folder as a `folder` source (re-running re-indexes only changed files); an exit code."""
    from archon.runtime import Runtime

    runtime = await Runtime.start(settings)
    failed = 0
    try:
        service, jobs = LocalSourceService(runtime), JobService(runtime.db)
        for folder in folders:
            request = CrawlRequest(url=str(folder), crawl_type="folder", knowledge_type=knowledge_type,
                                   tags=tags, extract_code_examples=extract_code_examples, max_pages=100_000)
            started = await service.start(request, trusted_path=True)
            with typer.progressbar(length=100, label=f"indexing {folder}") as bar:
                done = [0]

                def show(job: JobView, bar: typer.progressbar = bar, done: list[int] = done) -> None:  # type: ignore[valid-type]
                    step = int(job.percentage) - done[0]
                    if step > 0:
                        bar.update(step)  # type: ignore[attr-defined]
                        done[0] += step

                try:
                    final = await follow(jobs, started.progressId, show)
                except asyncio.CancelledError:
                    await jobs.request_cancel(started.progressId)
                    raise
            data = final.progress_data()
            if final.status != "completed":
                typer.echo(f"{folder}: {final.status}: {final.error or ''}", err=True)
                failed += 1
                continue
            typer.echo(f"{folder}: source {started.sourceId}: {data.get('pagesUpdated', 0)} file(s) indexed, "
                       f"{data.get('pagesUnchanged', 0)} unchanged, {data.get('pagesDeleted', 0)} removed, "
                       f"{data.get('pagesFailed', 0)} failed; {data['chunksStored']} chunks stored")
            failed += int(data.get("pagesFailed", 0) or 0)
    finally:
        await runtime.stop()
    return 1 if failed else 0
