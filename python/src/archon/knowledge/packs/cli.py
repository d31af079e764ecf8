"""`archon export` and `archon import`: the same PackService as the REST API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.knowledge.ingest.cli import follow
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
        with typer.progressbar(length=100, label=f"importing {filename}") as bar:
            done = [0]

            def show(job: JobView, bar: typer.progressbar = bar, done: list[int] = done) -> None:  # type: ignore[valid-type]
                step = int(job.percentage) - done[0]
                if step > 0:
                    bar.update(step)  # type: ignore[attr-defined]
                    done[0] += step

            try:
                final = await follow(jobs, job_id, show)
            except asyncio.CancelledError:
                await jobs.request_cancel(job_id)
                raise
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
