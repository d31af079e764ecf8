"""`archon export` and `archon import`: the same PackService as the REST API."""

from __future__ import annotations

from pathlib import Path

import typer

from archon.config import Settings
from archon.jobs.cli_progress import follow_with_bar
from archon.jobs.service import JobService
from archon.knowledge.packs.service import PackService


async def export_bytes(settings: Settings, source_ids: list[str]) -> bytes:
    """The pack of `source_ids`."""
    from archon.runtime import Runtime

    runtime = await Runtime.start(settings, run_worker=False)
    try:
        return await PackService(runtime).export(source_ids)
    finally:
        await runtime.stop()


def write_pack(output: Path, data: bytes) -> None:
    """Write atomically: a partial file never has the final name."""
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)


async def run_import(settings: Settings, data: bytes, filename: str, *, on_conflict: str) -> int:
    """Queue the import job, run it here with a progress bar, return an exit code."""
    from archon.runtime import Runtime

    runtime = await Runtime.start(settings)
    try:
        jobs = JobService(runtime.db)
        job_id, source_ids = await PackService(runtime).start_import(data, filename=filename,
                                                                    on_conflict=on_conflict)
        final = await follow_with_bar(jobs, job_id, f"importing {filename}")
        if final.status != "completed":
            typer.echo(f"archon: import {final.status}: {final.error or ''}", err=True)
            return 1
        result = final.progress_data()
        how = "reused" if result.get("vectorsReused") else "re-embedded"
        typer.echo(f"imported {', '.join(result.get('importedSources', source_ids))}: "
                   f"{result['chunksStored']} chunks, vectors {how}")
        return 0
    finally:
        await runtime.stop()
