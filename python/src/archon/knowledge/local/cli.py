"""`archon ingest --folder-source DIR`: a folder as one refreshable source, followed with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer

from archon.config import Settings
from archon.jobs.cli_progress import follow_with_bar
from archon.jobs.service import JobService
from archon.knowledge.crawling.schemas import CrawlRequest
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
            final = await follow_with_bar(jobs, started.progressId, f"indexing {folder}")
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
