"""concurrent_crawl_limit is the job cap across processes and follows PUT /api/settings without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psycopg

from archon.jobs.progress import ProgressReporter
from archon.jobs.runner import acquire_slot, run_job
from archon.jobs.service import JobService
from archon.runtime import Runtime
from archon.settings.service import CACHE_TTL_SECONDS, RuntimeSettingsService

JOB_SECONDS = 0.6


async def _never() -> bool:
    return False


async def _wait_seen(runtime: Runtime, limit: int) -> None:
    """Until `runtime` (another process's settings cache) sees the new limit."""
    service = RuntimeSettingsService(runtime)
    async with asyncio.timeout(CACHE_TTL_SECONDS + 5):
        while (await service.current()).concurrent_crawl_limit != limit:
            await asyncio.sleep(0.1)


async def _run_pair(first: Runtime, second: Runtime) -> list[tuple[float, float]]:
    """One job run by each runtime, started together; returns their (start, end) times."""
    jobs = JobService(first.db)
    spans: list[tuple[float, float]] = []

    async def body(reporter: ProgressReporter) -> dict[str, object]:
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(JOB_SECONDS)
        spans.append((started, asyncio.get_running_loop().time()))
        return {}

    ids = [await jobs.create("test", {}) for _ in range(2)]
    await asyncio.gather(run_job(first, ids[0], body), run_job(second, ids[1], body))
    assert [(await jobs.get(i)).status for i in ids] == ["completed", "completed"]
    return sorted(spans)


async def test_limit_applies_across_runtimes_without_restart(app: object, api: httpx.AsyncClient,
                                                             settings: object) -> None:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    other = await Runtime.start(settings)  # type: ignore[arg-type]  # a second process on the same database
    try:
        assert (await RuntimeSettingsService(other).current()).concurrent_crawl_limit == 3  # cached there
        assert (await api.put("/api/settings", json={"concurrent_crawl_limit": 1})).status_code == 200
        await _wait_seen(other, 1)
        (_, a_end), (b_start, _) = await _run_pair(runtime, other)
        assert b_start >= a_end - 0.01, "two jobs ran at once with concurrent_crawl_limit=1"

        assert (await api.put("/api/settings", json={"concurrent_crawl_limit": 2})).status_code == 200
        await _wait_seen(other, 2)
        (_, a_end), (b_start, _) = await _run_pair(runtime, other)
        assert b_start < a_end, "with a limit of 2 both jobs run together"
    finally:
        await other.stop()


async def test_lowered_limit_counts_slots_taken_under_the_old_one(database_url: str, tmp_path: Path) -> None:
    limit = 3

    async def current() -> int:
        return limit

    held = [await acquire_slot(database_url, current, give_up=_never) for _ in range(3)]  # slots 0, 1, 2
    assert all(isinstance(c, psycopg.AsyncConnection) for c in held)
    limit = 1
    await held[0].close()  # slot 0 is free, but slots 1 and 2 still run jobs started under the old limit
    tries = 0

    async def give_up_after_three() -> bool:
        nonlocal tries
        tries += 1
        return tries >= 3

    assert await acquire_slot(database_url, current, give_up=give_up_after_three, poll=0.05) is None
    await held[1].close()
    await held[2].close()
    slot = await acquire_slot(database_url, current, give_up=_never, poll=0.05)
    assert slot is not None  # nothing else runs: the next job starts
    await slot.close()
