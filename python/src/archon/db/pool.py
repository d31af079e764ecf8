"""The async connection pool (psycopg 3 + psycopg_pool), and the "database is down" state requests fail fast on.

While the database is known to be down (the health monitor's fresh connection was refused, see
observability/health.py), code running under `failing_fast()` (API requests) gets `DatabaseUnavailable` at
once instead of waiting for the pool timeout; requests already waiting for a connection when the outage is
noticed are woken with the same error. Everything else (jobs, CLI) keeps waiting for the pool as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

log = logging.getLogger(__name__)

Connection = AsyncConnection[DictRow]

_fail_fast: ContextVar[bool] = ContextVar("archon_db_fail_fast", default=False)


class DatabaseUnavailable(PoolTimeout):
    """The database is known to be down; a PoolTimeout so every handler of an unreachable database applies."""


@contextlib.contextmanager
def failing_fast() -> Iterator[None]:
    """Within this block, connections fail at once with `DatabaseUnavailable` while the database is down."""
    token = _fail_fast.set(True)
    try:
        yield
    finally:
        _fail_fast.reset(token)


class Database:
    """Owns the pool; repositories borrow connections through `connection()` or `transaction()`."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0) -> None:
        self.conninfo = conninfo
        self.down_since: float | None = None  # monotonic time the outage was noticed; None while up
        self.down_reason = ""
        self._waiters: set[asyncio.Timeout] = set()  # failing-fast checkouts waiting for a connection
        self._refresh: asyncio.Task[None] | None = None
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            # Dead connections (database restarted) are detected on checkout and replaced,
            # so the API recovers by itself when the database comes back.
            check=AsyncConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "autocommit": True},
            connection_class=AsyncConnection[DictRow],
            reconnect_timeout=0,  # keep trying forever; health reports the outage meanwhile
            configure=self._configure,
        )

    async def _configure(self, conn: Connection) -> None:
        """Teach each new connection the vector and halfvec types (binary COPY of embeddings)."""
        await register_vector_async(conn)
        self.mark_up()  # a new connection was just made: whatever outage there was is over

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    def mark_down(self, reason: str) -> None:
        """Record that the database refuses connections; wake failing-fast requests waiting for one."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("database down (%s): API requests answer 503 at once until it is back", reason)
        self.down_reason = reason
        for waiting in list(self._waiters):
            waiting.reschedule(asyncio.get_running_loop().time())

    def mark_up(self) -> None:
        """Record that a connection succeeded; requests use the pool again."""
        if self.down_since is not None:
            log.warning("database back after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None
            # Dead pooled connections are replaced now rather than found by one failing check per request.
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_pool())

    async def _refresh_pool(self) -> None:
        with contextlib.suppress(Exception):
            await self.pool.check()

    def _unavailable(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"database unavailable: {self.down_reason or 'connection refused'}")

    async def _getconn(self, timeout: float | None) -> Connection:
        if not _fail_fast.get():
            return await self.pool.getconn(timeout)
        if self.down_since is not None:
            raise self._unavailable()
        try:
            async with asyncio.timeout(None) as waiting:  # rescheduled to "now" by mark_down()
                self._waiters.add(waiting)
                try:
                    return await self.pool.getconn(timeout)
                finally:
                    self._waiters.discard(waiting)
        except TimeoutError:
            raise self._unavailable() from None

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[Connection]:
        conn = await self._getconn(timeout)
        try:
            async with conn:  # ends a transaction left open; a pooled connection is not closed here
                yield conn
        finally:
            await self.pool.putconn(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise if the database cannot answer `SELECT 1` within `timeout` seconds."""
        async with self.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")
