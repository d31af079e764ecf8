"""`archon ingest FILE...`: the same upload job as the REST API, followed with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer

from archon.config import Settings
from archon.jobs.cli_progress import follow_with_bar
from archon.jobs.service import JobService
from archon.knowledge.ingest.formats import EXTENSIONS
from archon.knowledge.ingest.uploads import IncomingFile, UploadService


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, plus every supported file under the given folders (sorted, hidden ones skipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in EXTENSIONS
                         and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise typer.BadParameter(f"{raw}: no such file or folder")
    return found




async def run_ingest(settings: Settings, paths: list[str], *, knowledge_type: str, tags: list[str],
                     extract_code_examples: bool) -> int:
    """Upload the files as jobs (batches of ARCHON_UPLOAD_MAX_FILES), show progress, return an exit code."""
    from archon.runtime import Runtime

    files = expand_paths(paths)
    if not files:
        typer.echo("archon: nothing to ingest", err=True)
        return 2
    runtime = await Runtime.start(settings)  # runs the worker in this process unless ARCHON_RUN_WORKER=false
    failed = 0
    try:
        service, jobs = UploadService(runtime), JobService(runtime.db)
        batch_size = settings.upload_max_files
        for start in range(0, len(files), batch_size):
            batch = files[start:start + batch_size]
            incoming = [IncomingFile(p.name, p.read_bytes()) for p in batch]
            job_id = await service.upload(incoming, knowledge_type=knowledge_type, tags=tags,
                                          extract_code_examples=extract_code_examples)
            label = batch[0].name if len(batch) == 1 else f"{len(batch)} files"
            final = await follow_with_bar(jobs, job_id, f"ingesting {label}")
            data = final.progress_data()
            if final.status == "completed":
                typer.echo(f"{label}: {data['chunksStored']} chunks stored (progressId {job_id})")
                failed += int(data.get("failedFiles", 0) or 0)
            else:
                typer.echo(f"{label}: {final.status}: {final.error or ''}", err=True)
                failed += len(batch)
            for line in final.log:
                if line.startswith("failed: "):
                    typer.echo(f"  {line}", err=True)
    finally:
        await runtime.stop()
    return 1 if failed else 0
