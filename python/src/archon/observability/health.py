"""Health: /livez (process alive), /readyz (can serve now) and /health (the documented component report).

The database state comes from `DatabaseMonitor`: checks on its own connection (never the request pool, so
probes do not queue behind busy requests), refreshed in the background every second. /readyz reads that
cached state; /health runs a fresh check, shared by concurrent callers (single flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from archon.db.cancel import cancel_and_wait
from archon.db.pool import Database
from archon.runtime import Runtime, RuntimeHolder

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0  # seconds between database checks
DOWN_CHECK_INTERVAL = 0.25  # while the database is down: requests answer 503 until a check sees it back
CHECK_TIMEOUT = 2.0  # a check slower than this counts as a failure
STALE_AFTER = 10.0  # no finished check for this long (event loop starved or check stuck): not healthy


class DatabaseMonitor:
    """Pings the database every CHECK_INTERVAL on a dedicated connection and keeps the last result."""

    def __init__(self, conninfo: str, *, interval: float = CHECK_INTERVAL, timeout: float = CHECK_TIMEOUT,
                 database: Database | None = None) -> None:
        self.conninfo = conninfo
        self.interval = interval
        self.timeout = timeout
        self.database = database  # told when the database refuses connections and when it is back
        self._poked = asyncio.Event()
        self.status = "unknown"
        self.checked_at = 0.0  # monotonic time of the last finished check
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[str] | None = None

    async def start(self) -> None:
        """Run one check now (so the first probe has an answer), then keep checking in the background."""
        await self.check()
        self._task = asyncio.create_task(self._loop(), name="archon-db-monitor")

    async def stop(self) -> None:
        """Stop the background checks and close the dedicated connection."""
        if self._inflight is not None and not self._inflight.done():
            await cancel_and_wait(self._inflight, name="database check")
        if self._task is not None:
            await cancel_and_wait(self._task, name="database monitor")
            self._task = None
        await self._close()

    def current(self) -> str:
        """"healthy" or "unavailable: <reason>"; a result older than STALE_AFTER is not trusted."""
        if self.status == "healthy" and time.monotonic() - self.checked_at > STALE_AFTER:
            return "unavailable: check stale"
        return self.status

    async def fresh(self) -> str:
        """A check that starts now, or the one already running (concurrent callers share it)."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._check())
        return await asyncio.shield(self._inflight)

    async def check(self) -> str:
        """One `SELECT 1` (reconnecting if needed); records and returns the status."""
        return await self.fresh()

    def poke(self) -> None:
        """Check now rather than at the next interval (a request just lost its connection)."""
        self._poked.set()

    async def _check(self) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    await self._select_one()
                except psycopg.OperationalError:
                    # The kept connection may just have been cut (a restart, a terminated backend): only a
                    # fresh connection that fails says the database is down.
                    await self._close()
                    await self._select_one()
            status = "healthy"
            if self.database is not None:
                self.database.mark_up()
        except Exception as exc:  # any failure is the thing we report
            status = f"unavailable: {type(exc).__name__}"
            await self._close()
            if self.database is not None and refuses_connections(exc):
                self.database.mark_down(f"{type(exc).__name__}: {str(exc).strip()[:120]}")
        if status != self.status and self.status != "unknown":
            log.warning("database %s", status)
        self.status, self.checked_at = status, time.monotonic()
        return status

    async def check_once(self) -> str:
        """A single check that leaves no connection open (when no monitor runs in this process)."""
        try:
            return await self.check()
        finally:
            await self._close()

    async def _select_one(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=max(1, int(self.timeout)))
        await self._conn.execute("SELECT 1")

    async def _loop(self) -> None:
        while True:
            down = self.database is not None and self.database.down_since is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DOWN_CHECK_INTERVAL if down else self.interval):
                    await self._poked.wait()
            self._poked.clear()
            await self.check()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def refuses_connections(exc: BaseException) -> bool:
    """A connection error that means "down" (refused, shut down, not accepting connections).

    A timeout (a saturated server or a starved loop) or "too many clients" (SQLSTATE 53xxx) is not: the
    pooled connections may still work, and failing requests fast then would turn slowness into errors.
    """
    if not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return not sqlstate.startswith("53")


def _monitor(runtime: Runtime) -> DatabaseMonitor | None:
    monitor = runtime.state.get("health.monitor")
    return monitor if isinstance(monitor, DatabaseMonitor) else None


async def start_monitor(runtime: Runtime) -> DatabaseMonitor:
    """Start the database monitor of this process (kept in `runtime.state`)."""
    monitor = DatabaseMonitor(runtime.db.conninfo, database=runtime.db)
    await monitor.start()
    runtime.state["health.monitor"] = monitor
    return monitor


def suspect_database(runtime: Runtime | None) -> None:
    """A request just lost the database: have the monitor check now, so the outage is known in milliseconds."""
    monitor = _monitor(runtime) if runtime is not None else None
    if monitor is not None:
        monitor.poke()


async def database_status(runtime: Runtime, *, fresh: bool = False) -> str:
    """The monitor's cached (or, with `fresh`, a new) result; a one-off check when no monitor runs."""
    monitor = _monitor(runtime)
    if monitor is not None:
        return await monitor.fresh() if fresh else monitor.current()
    return await DatabaseMonitor(runtime.db.conninfo).check_once()


def liveness() -> tuple[int, dict[str, Any]]:
    """Always 200 while the process can run a handler: no I/O, no locks."""
    return 200, {"status": "alive"}


async def readiness(holder: RuntimeHolder) -> tuple[int, dict[str, Any]]:
    """503 while starting, from the moment shutdown begins, or when the database is unreachable."""
    runtime = holder.runtime
    if runtime is None:
        return 503, {"status": "starting"}
    if runtime.shutting_down:
        return 503, {"status": "shutting_down"}
    database = await database_status(runtime)
    if database != "healthy":
        return 503, {"status": "unavailable", "failing": ["database"], "database": database}
    return 200, {"status": "ready"}


async def report(holder: RuntimeHolder) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body). 503 names the failing component; `shutting_down` drops readiness at once."""
    now = datetime.now(UTC).isoformat()
    runtime = holder.runtime
    if runtime is None:
        return 503, {"status": "starting", "timestamp": now, "services": {}}
    services = {
        "database": await database_status(runtime, fresh=True),
        "embeddings": f"{runtime.embedder.provider}/{runtime.embedder.model}: {runtime.embedder.status()}",
        "mcp_server": "running" if holder.mcp_running else "stopped",
        "worker": runtime.queue.worker_state,  # running | restarting (database lost) | off
    }
    if runtime.shutting_down:
        return 503, {"status": "shutting_down", "timestamp": now, "services": services}
    if services["database"] != "healthy":
        return 503, {"status": "unhealthy", "timestamp": now, "services": services, "failing": ["database"]}
    return 200, {"status": "healthy", "timestamp": now, "services": services,
                 "uptime_seconds": round(datetime.now(UTC).timestamp() - runtime.started_at, 1)}
