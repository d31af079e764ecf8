from __future__ import annotations

import pytest

from archon.errors import NotFound
from archon.jobs.progress import JobCancelled
from archon.jobs.runner import run_job
from archon.jobs.service import LOG_TAIL, JobService
from archon.runtime import Runtime


async def test_progress_is_monotonic_and_log_is_a_bounded_tail(runtime: Runtime) -> None:
    jobs = JobService(runtime.db)
    job_id = await jobs.create("upload", {"files": 1})
    assert (await jobs.get(job_id)).status == "queued"
    assert await jobs.start(job_id)
    reporter = jobs.reporter(job_id)
    await reporter.update(status="embedding", percentage=40, processed_pages=2, log="line 0")
    await reporter.update(percentage=10, current_url="file://a.md")  # never backwards
    for i in range(1, LOG_TAIL + 10):
        await reporter.update(log=f"line {i}")
    job = await jobs.get(job_id)
    assert job.percentage == 40
    assert job.status == "running"
    data = job.progress_data()
    assert data["stage"] == "embedding" and data["processedPages"] == 2 and data["currentUrl"] == "file://a.md"
    assert len(job.log) == LOG_TAIL and job.log[-1] == f"line {LOG_TAIL + 9}"
    await jobs.complete(job_id, chunksStored=7)
    done = await jobs.get(job_id)
    assert done.message()["type"] == "crawl_completed"
    assert done.percentage == 100 and done.progress_data()["chunksStored"] == 7
    await reporter.update(percentage=50, log="late")  # a finished job ignores late updates
    assert (await jobs.get(job_id)).log[-1] == f"line {LOG_TAIL + 9}"


async def test_unknown_job_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        await JobService(runtime.db).get("nope")


async def test_cancel_of_a_queued_job_is_immediate(runtime: Runtime) -> None:
    jobs = JobService(runtime.db)
    job_id = await jobs.create("upload", {})
    view = await jobs.request_cancel(job_id)
    assert view.status == "cancelled" and view.cancel_requested
    assert view.message()["type"] == "crawl_cancelled"
    assert not await jobs.start(job_id)


async def test_run_job_records_each_outcome(runtime: Runtime) -> None:
    jobs = JobService(runtime.db)

    async def ok(reporter) -> dict:  # type: ignore[no-untyped-def]
        await reporter.update(percentage=50)
        return {"chunksStored": 3}

    async def cancelled(reporter) -> dict:  # type: ignore[no-untyped-def]
        await jobs.request_cancel(reporter.job_id)
        reporter._cancel_checked_at = 0.0
        await reporter.raise_if_cancelled()
        return {}

    async def boom(reporter) -> dict:  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    ids = [await jobs.create("upload", {}) for _ in range(3)]
    for job_id, body in zip(ids, (ok, cancelled, boom), strict=True):
        await run_job(runtime, job_id, body)
    states = [(await jobs.get(i)).status for i in ids]
    assert states == ["completed", "cancelled", "error"]
    assert "disk on fire" in ((await jobs.get(ids[2])).error or "")
    assert JobCancelled("x").status == 409
