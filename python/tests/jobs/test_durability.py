"""Jobs survive a worker restart, a dead worker's job is re-queued, and the concurrency limit holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from archon.config import Settings
from archon.jobs.recovery import retry_stalled_jobs
from archon.jobs.runner import acquire_slot
from archon.jobs.service import JobService
from archon.knowledge.ingest.uploads import IncomingFile, UploadService
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from tests.conftest import make_settings

DOC = b"# Durable\n\n" + b"Jobs are rows in Postgres, so they outlive the process. " * 40


async def _never() -> bool:
    return False


async def _once() -> bool:
    return True


async def _queue_status(runtime: Runtime, queue_job_id: int) -> str:
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT status::text AS s FROM procrastinate_jobs WHERE id = %s",
                                        (queue_job_id,))).fetchone()
    assert row is not None
    return str(row["s"])


async def _wait_finished(runtime: Runtime, job_id: str, timeout: float = 30) -> str:
    jobs = JobService(runtime.db)
    async with asyncio.timeout(timeout):
        while not (job := await jobs.get(job_id)).finished:
            await asyncio.sleep(0.1)
    return job.status


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, concurrent_crawl_limit=1,
                         shutdown_grace_seconds=0.5)


async def test_a_job_interrupted_by_shutdown_completes_after_restart(database_url: str, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path)
    slot = await acquire_slot(database_url, 1, give_up=_never)  # keeps the job waiting inside the worker
    assert slot is not None
    first = await Runtime.start(settings)
    job_id = await UploadService(first).upload([IncomingFile("durable.md", DOC)])
    queue_job_id = (await JobService(first.db).get(job_id)).queue_job_id
    assert queue_job_id is not None
    async with asyncio.timeout(20):
        while await _queue_status(first, queue_job_id) != "doing":
            await asyncio.sleep(0.1)
    await first.stop()  # the worker aborts the running job for the shutdown; it is queued for retry
    second = await Runtime.start(settings)
    try:
        assert await _queue_status(second, queue_job_id) in ("todo", "doing")
        await slot.close()
        assert await _wait_finished(second, job_id) == "completed"
        job = await JobService(second.db).get(job_id)
        source = await KnowledgeService(second).get_source(str(job.source_id))
        assert source.status == "ready" and source.page_count == 1 and source.chunk_count >= 2
    finally:
        await second.stop()


async def test_a_dead_workers_job_is_requeued_and_completes(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", run_worker=False)
    runtime = await Runtime.start(settings)
    try:
        job_id = await UploadService(runtime).upload([IncomingFile("orphan.md", DOC)])
        queue_job_id = (await JobService(runtime.db).get(job_id)).queue_job_id
        async with runtime.db.connection() as conn:  # a worker that took the job, then died (no heartbeat)
            row = await (await conn.execute(
                "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id"
            )).fetchone()
            assert row is not None
            await conn.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
                               (row["id"], queue_job_id))
        await JobService(runtime.db).start(job_id)  # it had marked the job running
        assert await retry_stalled_jobs(runtime.queue.app) == 1
        assert await _queue_status(runtime, int(queue_job_id or 0)) == "todo"
        runtime.queue.start_worker(runtime, concurrency=2, grace_seconds=0.5)
        assert await _wait_finished(runtime, job_id) == "completed"
        assert (await JobService(runtime.db).get(job_id)).attempts == 2
    finally:
        await runtime.stop()


async def test_slots_enforce_the_concurrency_limit_across_connections(database_url: str) -> None:
    held = [await acquire_slot(database_url, 2, give_up=_never) for _ in range(2)]
    assert all(held)
    assert await acquire_slot(database_url, 2, give_up=_once, poll=0.05) is None  # a third job would wait
    await held[0].close()  # type: ignore[union-attr]
    third = await acquire_slot(database_url, 2, give_up=_once, poll=0.05)
    assert third is not None
    await third.close()
    await held[1].close()  # type: ignore[union-attr]


async def test_queued_jobs_wait_while_the_limit_is_reached(database_url: str, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path)
    slot = await acquire_slot(database_url, 1, give_up=_never)
    assert slot is not None
    runtime = await Runtime.start(settings)
    try:
        ids = [await UploadService(runtime).upload([IncomingFile(f"w{i}.md", DOC)]) for i in range(2)]
        await asyncio.sleep(1.0)
        jobs = JobService(runtime.db)
        assert [(await jobs.get(i)).status for i in ids] == ["queued", "queued"]
        await slot.close()
        for job_id in ids:
            assert await _wait_finished(runtime, job_id) == "completed"
    finally:
        await runtime.stop()
