"""The in-process worker is supervised: when its database connections die (outage, failover) procrastinate
stops the worker with a ConnectorException; the supervisor starts it again and re-queues the jobs it held."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from archon.jobs import queue as queue_module
from archon.jobs.service import JobService
from archon.knowledge.ingest.uploads import IncomingFile, UploadService
from archon.runtime import Runtime
from tests.conftest import database_down, make_settings

DOC = b"# Supervised\n\n" + b"A worker that lost its database comes back by itself. " * 30


async def test_the_worker_restarts_after_its_connections_die(database_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_module, "RESTART_BACKOFF_MIN", 0.2)
    runtime = await Runtime.start(make_settings(database_url, tmp_path / "data", run_worker=True,
                                                shutdown_grace_seconds=0.5))
    try:
        assert runtime.queue.worker_running
        first = await UploadService(runtime).upload([IncomingFile("before.md", DOC)])
        jobs = JobService(runtime.db)
        async with asyncio.timeout(30):
            while not (await jobs.get(first)).finished:
                await asyncio.sleep(0.1)
        async with database_down(database_url), asyncio.timeout(60):
            # The listener cannot reconnect: procrastinate stops the worker (ConnectorException).
            while runtime.queue.worker_state != "restarting":
                await asyncio.sleep(0.1)
        async with asyncio.timeout(30):  # the supervisor starts it again once the database is back
            while not runtime.queue.worker_running:
                await asyncio.sleep(0.1)
        assert runtime.queue.worker_restarts >= 1
        second = await UploadService(runtime).upload([IncomingFile("after.md", DOC)])
        async with asyncio.timeout(30):
            while not (job := await jobs.get(second)).finished:
                await asyncio.sleep(0.1)
        assert job.status == "completed", job.error
        assert (await jobs.get(first)).status == "completed"
    finally:
        await runtime.stop()
    assert runtime.queue.worker_state == "off"
