from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from archon.config import Settings
from archon.jobs.service import JobService, JobView
from archon.runtime import Runtime
from tests.conftest import make_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, pack_max_bytes=8 * 1024 * 1024,
                         local_source_roots=[str(tmp_path)])


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    yield rt
    await rt.stop()


async def wait_job(runtime: Runtime, job_id: str, timeout: float = 60) -> JobView:
    """Poll the job until it finishes (the in-process worker runs it)."""
    jobs = JobService(runtime.db)
    async with asyncio.timeout(timeout):
        while True:
            job = await jobs.get(job_id)
            if job.finished:
                return job
            await asyncio.sleep(0.05)
