"""Postgres LISTEN/NOTIFY fan-out: one listening connection per process, many in-process subscribers.

Writers publish with `SELECT pg_notify(channel, payload)` inside their own transaction (delivered on
commit, from any process: the API, an MCP stdio process, a worker). Each API process runs one
`NotifyHub`; WebSocket handlers and other consumers `subscribe(channel)` and read `Notification`s
from a bounded queue. After a lost connection or a full queue the subscriber receives a
`gap=True` notification: events may have been missed and the consumer should resynchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from archon.db.cancel import cancel_and_wait

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.2  # how long one notifies() wait lasts: bounds the delay before a new channel is LISTENed
_KEEPALIVE_SECONDS = 30.0


@dataclass(frozen=True)
class Notification:
    """One NOTIFY, or a gap marker (`gap=True`, empty payload) after missed notifications."""

    channel: str
    payload: str = ""
    gap: bool = False


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded queue; iterate it or call `get()`."""

    channel: str
    maxsize: int = 1000
    queue: asyncio.Queue[Notification | None] = field(init=False)
    overflowed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    def _offer(self, item: Notification | None) -> None:
        if item is None:  # hub stopping: make room for the end marker
            while self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        if self.overflowed and not self.queue.full():
            # A slow consumer lost events: tell it once, then carry on.
            self.overflowed = False
            self.queue.put_nowait(Notification(self.channel, gap=True))
        if self.queue.full():
            self.overflowed = True
            return
        self.queue.put_nowait(item)

    async def get(self) -> Notification | None:
        """The next notification, or None once the hub has stopped."""
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Notification]:
        while (item := await self.queue.get()) is not None:
            yield item


class NotifyHub:
    """Owns one autocommit connection that LISTENs on every channel some subscriber wants."""

    def __init__(self, conninfo: str, *, reconnect_delay: float = 0.5, max_reconnect_delay: float = 10.0) -> None:
        self.conninfo = conninfo
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self._subscribers: dict[str, set[Subscription]] = {}
        self._listening: set[str] = set()
        self._wanted: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        """Start the listener task; returns once the first connection is up (or failed once)."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="archon-notify-hub")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.connected.wait()

    async def stop(self) -> None:
        """Stop listening and end every subscription."""
        self._stopping = True
        if self._task is not None:
            await cancel_and_wait(self._task, name="notification listener")
            self._task = None
        for subs in self._subscribers.values():
            for sub in subs:
                sub._offer(None)
        self._subscribers.clear()

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, *, maxsize: int = 1000, ready_timeout: float = 10.0
                        ) -> AsyncIterator[Subscription]:
        """Receive the channel's notifications while inside the block; LISTEN is active on entry."""
        sub = Subscription(channel, maxsize)
        self._subscribers.setdefault(channel, set()).add(sub)
        try:
            if channel not in self._listening:
                ready = self._wanted.setdefault(channel, asyncio.Event())
                async with asyncio.timeout(ready_timeout):
                    await ready.wait()
            yield sub
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions are open on `channel`."""
        return len(self._subscribers.get(channel, ()))

    def _dispatch(self, item: Notification) -> None:
        for sub in list(self._subscribers.get(item.channel, ())):
            sub._offer(item)

    async def _listen_pending(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        for channel in list(self._wanted):
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listening.add(channel)
            self._wanted.pop(channel).set()

    async def _run(self) -> None:
        delay = self.reconnect_delay
        first = True
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    # Re-LISTEN everything after a reconnect, then tell subscribers they may have missed events.
                    for channel in self._listening:
                        self._wanted.setdefault(channel, asyncio.Event())
                    await self._listen_pending(conn)
                    self.connected.set()
                    if not first:
                        log.info("notify hub reconnected")
                        for channel in list(self._subscribers):
                            self._dispatch(Notification(channel, gap=True))
                    first = False
                    delay = self.reconnect_delay
                    await self._pump(conn)
            except asyncio.CancelledError:
                raise
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.connected.set()  # start() must not wait forever when the database is down
                log.warning("notify hub connection lost (%s); retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_reconnect_delay)
            except Exception:  # top-level loop: never let one surprise end every subscriber's stream
                self.connected.set()
                log.exception("notify hub failed; restarting in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_reconnect_delay)

    async def _pump(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        loop = asyncio.get_running_loop()
        last_ping = loop.time()
        while True:
            async for notify in conn.notifies(timeout=_POLL_SECONDS):
                self._dispatch(Notification(notify.channel, notify.payload))
            if self._wanted:
                await self._listen_pending(conn)
            if loop.time() - last_ping > _KEEPALIVE_SECONDS:
                await conn.execute("SELECT 1")  # notice a dead server even when no one writes
                last_ping = loop.time()
