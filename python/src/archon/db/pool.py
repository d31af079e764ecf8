"""The async connection pool (psycopg 3 + psycopg_pool)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

Connection = AsyncConnection[DictRow]


async def _configure(conn: Connection) -> None:
    """Teach each new connection the vector and halfvec types (binary COPY of embeddings)."""
    await register_vector_async(conn)


class Database:
    """Owns the pool; repositories borrow connections through `connection()` or `transaction()`."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0) -> None:
        self.conninfo = conninfo
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
            configure=_configure,
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[Connection]:
        async with self.pool.connection(timeout=timeout) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise if the database cannot answer `SELECT 1` within `timeout` seconds."""
        async with self.pool.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")
