"""Scheduled work runs once per tick however many workers (each with its own periodic deferrer) run."""

from __future__ import annotations

import time

from procrastinate.periodic import PeriodicDeferrer

from archon.jobs.queue import JobQueue
from archon.runtime import Runtime


async def test_each_tick_is_deferred_by_one_worker_only(runtime: Runtime) -> None:
    queues = [JobQueue(runtime.db.conninfo) for _ in range(3)]  # three workers' queue connections
    try:
        for queue in queues:
            await queue.open()
        now = time.time()
        for queue in queues:  # every worker's deferrer sees the same due ticks
            deferrer = PeriodicDeferrer(queue.app.periodic_registry, max_delay=3600)
            await deferrer.defer_jobs(list(deferrer.get_previous_tasks(at=now)))
        async with runtime.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT task_name, count(*) AS n FROM procrastinate_jobs GROUP BY task_name")).fetchall()
    finally:
        for queue in queues:
            await queue.close()
    counts = {r["task_name"]: r["n"] for r in rows}
    assert counts.get("archon:refresh_due_sources") == 1, counts
    assert counts.get("archon:retry_stalled_jobs") == 1, counts
