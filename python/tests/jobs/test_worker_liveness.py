"""Dead-worker detection (jobs/recovery.py): a worker whose liveness lock is gone is recovered within
seconds; a live one (lock held) is left alone until its heartbeat is 30 s old; a just-registered one
(no lock yet, fresh heartbeat) is never touched."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from archon.jobs.recovery import DEAD_AFTER_SECONDS, LOCK_NAMESPACE, recover_dead_workers
from archon.runtime import Runtime


async def _worker_with_job(runtime: Runtime, heartbeat_age: float) -> tuple[int, int]:
    """A registered worker whose heartbeat is `heartbeat_age` s old, running one queued job."""
    job_id = await runtime.queue.defer("ping")
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - make_interval(secs => %s)) "
            "RETURNING id", (heartbeat_age,))).fetchone()
        assert row is not None
        await conn.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
                           (row["id"], job_id))
    return int(row["id"]), job_id


async def _lock(runtime: Runtime, worker_id: int) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(runtime.db.conninfo, autocommit=True)
    await conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, worker_id))
    return conn


async def _state(runtime: Runtime, job_id: int) -> tuple[str, int | None]:
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT status, worker_id FROM procrastinate_jobs WHERE id = %s",
                                        (job_id,))).fetchone()
    assert row is not None
    return str(row["status"]), row["worker_id"]


async def test_a_worker_is_dead_as_soon_as_its_lock_session_ends(runtime: Runtime) -> None:
    worker_id, job_id = await _worker_with_job(runtime, heartbeat_age=DEAD_AFTER_SECONDS + 4)
    session = await _lock(runtime, worker_id)
    assert await recover_dead_workers(runtime.queue.app) == 0  # lock held: alive, although 10 s silent
    assert await _state(runtime, job_id) == ("doing", worker_id)
    await session.close()  # what SIGKILL does to the worker's connection
    await asyncio.sleep(0.2)
    assert await recover_dead_workers(runtime.queue.app) == 1
    assert (await _state(runtime, job_id))[0] == "todo"
    async with runtime.db.connection() as conn:
        gone = await (await conn.execute("SELECT count(*) AS n FROM procrastinate_workers WHERE id = %s",
                                         (worker_id,))).fetchone()
    assert gone is not None and gone["n"] == 0
    assert await recover_dead_workers(runtime.queue.app) == 0  # handled once


async def test_a_just_registered_worker_without_its_lock_yet_is_left_alone(runtime: Runtime) -> None:
    worker_id, job_id = await _worker_with_job(runtime, heartbeat_age=0.5)
    assert await recover_dead_workers(runtime.queue.app) == 0
    assert await _state(runtime, job_id) == ("doing", worker_id)


async def test_a_worker_silent_for_30_s_is_dead_even_with_its_lock(runtime: Runtime) -> None:
    worker_id, job_id = await _worker_with_job(runtime, heartbeat_age=31)
    session = await _lock(runtime, worker_id)  # a vanished host whose TCP session Postgres still keeps
    try:
        assert await recover_dead_workers(runtime.queue.app) == 1
        assert (await _state(runtime, job_id))[0] == "todo"
    finally:
        await session.close()


async def test_a_running_worker_holds_its_lock_and_recovers_a_dead_ones_jobs(runtime: Runtime) -> None:
    dead_id, job_id = await _worker_with_job(runtime, heartbeat_age=DEAD_AFTER_SECONDS + 1)
    runtime.queue.start_worker(runtime, concurrency=2, grace_seconds=0.5)
    async with asyncio.timeout(30):  # recovered by the live worker's sweep, then run by it
        while (await _state(runtime, job_id))[0] != "succeeded":
            await asyncio.sleep(0.1)
    async with asyncio.timeout(10):  # it takes its lock right after registering
        while [r["locked"] for r in await _workers(runtime)] != [True]:
            await asyncio.sleep(0.1)
    rows = await _workers(runtime)
    assert dead_id not in [r["id"] for r in rows]  # only the live worker is left, holding its lock


async def _workers(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        return list(await (await conn.execute(
            "SELECT w.id, EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::bigint = %s AND l.objid::bigint = w.id AND l.objsubid = 2) AS locked "
            "FROM procrastinate_workers w", (LOCK_NAMESPACE,))).fetchall())
