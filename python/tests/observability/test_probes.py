"""/livez and /readyz: liveness without I/O, readiness that drops at once on shutdown and database loss,
and probes that do not queue behind an exhausted request pool. R8: readiness drops at once on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from archon.app import create_app
from archon.config import Settings
from tests.conftest import database_down, make_settings
from tests.test_serve_lifecycle import Serve, _postgres_for


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://127.0.0.1",
            timeout=30) as client:
        yield app, client


async def _until(client: httpx.AsyncClient, path: str, status: int, timeout: float) -> float:
    """Seconds until `path` answers `status`."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while (await client.get(path)).status_code != status:
            await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_probes_answer_and_readiness_drops_at_once_when_shutting_down(settings: Settings) -> None:
    async with app_client(settings) as (app, client):
        live, ready = await client.get("/livez"), await client.get("/readyz")
        assert (live.status_code, live.json()) == (200, {"status": "alive"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        app.state.runtime.shutting_down = True  # what the SIGTERM handler of `archon serve` does first
        ready, health = await client.get("/readyz"), await client.get("/health")
        assert (ready.status_code, ready.json()["status"]) == (503, "shutting_down")
        assert (health.status_code, health.json()["status"]) == (503, "shutting_down")
        assert (await client.get("/livez")).status_code == 200  # alive: an orchestrator must not kill it
        app.state.runtime.shutting_down = False


async def test_readiness_follows_the_database_and_liveness_does_not(database_url: str, tmp_path: Path) -> None:
    async with app_client(make_settings(database_url, tmp_path / "data")) as (_, client):
        assert (await client.get("/readyz")).status_code == 200
        async with database_down(database_url):
            down_after = await _until(client, "/readyz", 503, timeout=5)
            body = (await client.get("/readyz")).json()
            assert body["failing"] == ["database"] and body["database"].startswith("unavailable")
            live_started = time.monotonic()
            assert (await client.get("/livez")).status_code == 200
            assert time.monotonic() - live_started < 0.5
            assert (await client.get("/health")).status_code == 503
        up_after = await _until(client, "/readyz", 200, timeout=10)
    assert down_after < 3, down_after  # scorecard R9: <= 5 s
    assert up_after < 5, up_after  # scorecard R9: ready again <= 10 s after the restore


async def test_probes_do_not_wait_for_an_exhausted_pool(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", db_pool_min=1, db_pool_max=2)
    async with app_client(settings) as (app, client), AsyncExitStack() as held:
        for _ in range(2):  # every pooled connection is busy (a saturated API)
            await held.enter_async_context(app.state.runtime.db.connection())
        listing = asyncio.create_task(client.get("/api/knowledge-items"))
        timings = {}
        for path in ("/livez", "/readyz", "/health"):
            started = time.monotonic()
            response = await client.get(path)
            timings[path] = time.monotonic() - started
            assert response.status_code == 200, (path, response.text)
        assert not listing.done(), "the listing should be waiting for a pooled connection"
        assert max(timings.values()) < 1.0, timings
    await listing


class _Poller(threading.Thread):
    """Polls /readyz every 20 ms on fresh connections and records (time, status or 'refused')."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, str]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                result = str(httpx.get(self.url, timeout=2).status_code)
            except httpx.HTTPError:
                result = "refused"
            self.samples.append((time.monotonic(), result))
            time.sleep(0.02)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "data")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
    for proc in _postgres_for(server.data_dir / "postgres"):
        proc.kill()


def test_sigterm_drops_readiness_at_once_and_exits_within_the_grace_period(serve: Serve) -> None:
    serve.start(ARCHON_SHUTDOWN_GRACE="5")
    serve.wait_healthy()
    poller = _Poller(f"{serve.base}/readyz")
    poller.start()
    time.sleep(0.5)
    assert serve.proc is not None
    sigterm_at = time.monotonic()
    serve.proc.send_signal(signal.SIGTERM)
    exit_code = serve.proc.wait(timeout=30)
    exited_after = time.monotonic() - sigterm_at
    time.sleep(0.1)
    poller.stopped.set()
    poller.join()
    before = [s for t, s in poller.samples if t < sigterm_at]
    after = [(t - sigterm_at, s) for t, s in poller.samples if t >= sigterm_at]
    assert before and set(before) == {"200"}, before
    not_ready = [t for t, s in after if s != "200"]
    assert not_ready, after
    dropped_after = not_ready[0]
    assert dropped_after < 1.0, after  # scorecard R8: /readyz 503 <= 1 s
    assert all(s != "200" for t, s in after if t >= dropped_after), after  # never ready again
    assert exit_code == 0 and exited_after < 5 + 10, (exit_code, exited_after)
    print(f"\nR8: readiness dropped {dropped_after * 1000:.0f} ms after SIGTERM; exit after {exited_after:.1f} s")
