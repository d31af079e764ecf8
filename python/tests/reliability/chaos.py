"""Shared machinery of the SIGKILL chaos tests: the process under test (a separate `archon worker` or a
whole `archon serve`), the kill loop, the reference chunk sets and the invariants that must be 0."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from archon.jobs.service import JobService, JobView
from archon.runtime import Runtime
from tests.knowledge.crawling.site import Site, prose
from tests.knowledge.crawling.test_crash_resume import Worker
from tests.test_serve_lifecycle import Serve

Progress = Callable[[], Awaitable[float]]
FINAL = ("completed", "error", "cancelled")


class Victim(Protocol):
    """A process that runs jobs and can be started, SIGKILLed and stopped."""

    def start(self) -> None: ...
    def kill(self) -> None: ...
    def stop(self) -> None: ...
    async def ready(self) -> None: ...
    async def final_status(self, job_id: str) -> str: ...


class WorkerVictim:
    """A separate `python -m archon worker`; job state is read from the database."""

    def __init__(self, workers: Worker, runtime: Runtime) -> None:
        self.workers, self.jobs = workers, JobService(runtime.db)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = self.workers.start()

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)

    async def ready(self) -> None:
        return None  # the worker needs no readiness: it polls the queue when it is up

    async def final_status(self, job_id: str) -> str:
        while not (job := await self.jobs.get(job_id)).finished:
            await asyncio.sleep(0.1)
        return job.status


class ServeVictim:
    """A whole `archon serve` (API + MCP + dashboard + in-process worker) on fixed ports; jobs via REST."""

    def __init__(self, serve: Serve, env: dict[str, str]) -> None:
        self.serve, self.env = serve, env
        self.api = httpx.AsyncClient(base_url=serve.base + "/api", timeout=30)

    def start(self) -> None:
        self.serve.start(**self.env)

    def kill(self) -> None:
        assert self.serve.proc is not None
        os.killpg(self.serve.proc.pid, signal.SIGKILL)  # the server, its converter pool, any browser
        self.serve.proc.wait()

    def stop(self) -> None:
        if self.serve.proc is not None and self.serve.proc.poll() is None:
            assert self.serve.stop(signal.SIGTERM, timeout=60) == 0, self.serve.output()[-3000:]

    async def ready(self) -> None:
        await asyncio.to_thread(self.serve.wait_healthy)

    async def final_status(self, job_id: str) -> str:
        while (status := (await self.progress(job_id))["status"]) not in FINAL:
            await asyncio.sleep(0.2)
        return str(status)

    async def progress(self, job_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/progress/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


@dataclass
class Tally:
    """Kills and how long each interrupted job took to move again after its process was back."""

    kills: int = 0
    resume_seconds: list[float] = field(default_factory=list)

    def summary(self) -> str:
        waits = sorted(self.resume_seconds) or [0.0]
        return (f"{self.kills} SIGKILLs, progress moved again {waits[len(waits) // 2]:.1f} s (median), "
                f"{waits[-1]:.1f} s (max) after the restarted process was up")


async def finish(victim: Victim, job_id: str, jobs: JobService, kills: int, progress: Progress,
                 rng: random.Random, tally: Tally) -> JobView:
    """SIGKILL the running victim up to `kills` times at random progress (10-80 %), restart it each time,
    then wait for the job to end. Nothing in the test recovers the job: the restarted process must."""
    done = 0
    while done < kills:
        current = await progress()
        # Each kill interrupts real work: at a random point, and never before the job moved since the restart.
        target = max(rng.uniform(0.1, 0.8), current + 1e-6)
        if target > 0.8:
            break
        async with asyncio.timeout(180):
            while (await progress()) < target and not (await jobs.get(job_id)).finished:
                await asyncio.sleep(0.02)
        if (await jobs.get(job_id)).finished:
            break
        victim.kill()
        done += 1
        tally.kills += 1
        victim.start()
        await victim.ready()
        restarted, before = time.monotonic(), await progress()
        async with asyncio.timeout(180):
            while (await progress()) <= before and not (await jobs.get(job_id)).finished:
                await asyncio.sleep(0.05)
        tally.resume_seconds.append(time.monotonic() - restarted)
    async with asyncio.timeout(300):
        status = await victim.final_status(job_id)
    job = await jobs.get(job_id)
    assert job.status == status, (job.status, status)
    # The same job went on after every kill (picked up again by the restarted process, not started anew).
    assert job.attempts >= 1 + done, (job.attempts, done)
    return job


async def invariants(runtime: Runtime) -> dict[str, int]:
    """Counts that must all be 0 after every run."""
    async with runtime.db.connection() as conn:
        async def one(sql: str) -> int:
            return int((await (await conn.execute(sql)).fetchone())["n"])  # type: ignore[index]
        return {
            "duplicate_chunks": await one("SELECT count(*) AS n FROM (SELECT page_id, chunk_index FROM archon_chunks "
                                          "GROUP BY 1, 2 HAVING count(*) > 1) d"),
            "orphan_chunks": await one("SELECT count(*) AS n FROM archon_chunks c LEFT JOIN archon_pages p "
                                       "ON p.id = c.page_id WHERE p.id IS NULL"),
            "orphan_vectors": await one("SELECT count(*) AS n FROM archon_chunk_embeddings e LEFT JOIN archon_chunks c "
                                        "ON c.id = e.chunk_id WHERE c.id IS NULL"),
            "duplicate_vectors": await one("SELECT count(*) AS n FROM (SELECT model_id, chunk_id FROM "
                                           "archon_chunk_embeddings GROUP BY 1, 2 HAVING count(*) > 1) d"),
            "chunks_without_vector": await one(
                "SELECT count(*) AS n FROM archon_chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM archon_chunk_embeddings e WHERE e.chunk_id = c.id)"),
            "ready_but_empty_sources": await one(
                "SELECT count(*) AS n FROM archon_sources s WHERE s.status IN ('ready', 'completed') AND NOT EXISTS "
                "(SELECT 1 FROM archon_chunks c WHERE c.source_id = s.id)"),
            "unfinished_jobs": await one("SELECT count(*) AS n FROM archon_jobs WHERE status IN ('queued', 'running')"),
        }


async def assert_clean(runtime: Runtime) -> None:
    counts = await invariants(runtime)
    assert counts == dict.fromkeys(counts, 0), counts


async def crawl_chunks(runtime: Runtime, source_id: str) -> list[tuple[str, int, str]]:
    """(url, chunk_index, content) of a crawled source, in order."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT p.url, c.chunk_index, c.content FROM archon_chunks c JOIN archon_pages p ON p.id = c.page_id "
            "WHERE c.source_id = %s ORDER BY p.url, c.chunk_index", (source_id,))).fetchall()
    return [(r["url"], r["chunk_index"], r["content"]) for r in rows]


async def upload_chunks(runtime: Runtime) -> list[tuple[str, int, str]]:
    """(source title, chunk_index, content) of every stored chunk, in order."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT s.title, c.chunk_index, c.content FROM archon_chunks c JOIN archon_sources s "
            "ON s.id = c.source_id ORDER BY 1, 2")).fetchall()
    return [(r["title"], r["chunk_index"], r["content"]) for r in rows]


async def delete_all_sources(runtime: Runtime) -> None:
    async with runtime.db.connection() as conn:
        await conn.execute("DELETE FROM archon_sources")


def upload_files(batch: int) -> list[tuple[str, bytes, str]]:
    """The 12 markdown files of one upload batch: (name, bytes, content type)."""
    return [(f"doc{batch}-{i}.md", (f"# Doc {batch}-{i}\n\n" + prose(f"upload-{i}", n=40)).encode(), "text/markdown")
            for i in range(12)]


def serve_env(worker: Worker) -> dict[str, str]:
    """The environment of `archon serve` for a chaos run: the test's database, the hash embedder, the test
    site allowed (the same as the separate worker's)."""
    return {k: v for k, v in worker.env.items() if k not in ("PATH", "ARCHON_DATA_DIR")}


def make_serve(tmp_path: Path, database_url: str, site: Site) -> ServeVictim:
    """A ServeVictim with its own ports and data directory."""
    return ServeVictim(Serve(tmp_path / "serve-data"), serve_env(Worker(database_url, tmp_path / "serve-data", site)))
