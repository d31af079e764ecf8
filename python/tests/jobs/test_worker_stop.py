"""Stopping a runtime whose worker has only just started always ends.

CI hung twice here (`archon serve` ignoring SIGTERM, `archon import` never exiting): a stop that reached
the worker's liveness loop inside psycopg came out as a database error or not at all, and the loop went on
forever. Before the fix the first iteration below hung in two runs out of two.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from archon.runtime import Runtime
from tests.conftest import make_settings

# Stops at the moments that matter: before the worker registered, while it registers and takes its
# liveness lock, during the first sweep, and once it is settled.
DELAYS = [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0, 0.001, 0.01, 0.05, 0.5, 1.0]


async def test_stop_right_after_start_never_hangs(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", run_worker=True, shutdown_grace_seconds=0.5)
    for delay in DELAYS:
        runtime = await Runtime.start(settings)
        assert runtime.queue.worker_running
        await asyncio.sleep(delay)
        stopping = asyncio.create_task(runtime.stop())
        done, _ = await asyncio.wait({stopping}, timeout=30)
        assert done, f"Runtime.stop() still running 30 s after a stop {delay} s into the worker's start"
        stopping.result()
        assert runtime.queue.worker_state == "off"
