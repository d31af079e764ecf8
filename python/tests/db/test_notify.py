"""NotifyHub: LISTEN/NOTIFY fan-out, reconnect after a lost connection, overflow markers."""

from __future__ import annotations

import asyncio

import psycopg

from archon.db.notify import Notification, NotifyHub


async def _notify(url: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def _next(sub: object) -> Notification | None:
    async with asyncio.timeout(10):
        return await sub.get()  # type: ignore[attr-defined,no-any-return]


async def test_notify_hub_fans_out_to_every_subscriber(database_url: str) -> None:
    hub = NotifyHub(database_url)
    await hub.start()
    try:
        async with hub.subscribe("chan_a") as one, hub.subscribe("chan_a") as two, hub.subscribe("chan_b") as other:
            await _notify(database_url, "chan_a", "hello")
            assert await _next(one) == Notification("chan_a", "hello")
            assert await _next(two) == Notification("chan_a", "hello")
            await _notify(database_url, "chan_b", "bye")
            assert await _next(other) == Notification("chan_b", "bye")
            assert other.queue.empty()
        assert hub.subscriber_count("chan_a") == 0
    finally:
        await hub.stop()


async def test_notify_hub_reconnects_and_reports_a_gap(database_url: str) -> None:
    hub = NotifyHub(database_url, reconnect_delay=0.1)
    await hub.start()
    try:
        async with hub.subscribe("chan_r") as sub:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
                # Kill the hub's LISTEN backend as a database restart or network cut would.
                await admin.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                       WHERE query ILIKE 'LISTEN%%' AND datname = current_database()""")
            assert await _next(sub) == Notification("chan_r", gap=True)
            await _notify(database_url, "chan_r", "after")
            assert await _next(sub) == Notification("chan_r", "after")
    finally:
        await hub.stop()


async def test_notify_hub_overflow_marks_a_gap_and_stop_ends_streams(database_url: str) -> None:
    hub = NotifyHub(database_url)
    await hub.start()
    try:
        async with hub.subscribe("chan_o", maxsize=2) as sub, hub.subscribe("chan_mark") as mark:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                for i in range(5):
                    await conn.execute("SELECT pg_notify('chan_o', %s)", (str(i),))
                await conn.execute("SELECT pg_notify('chan_mark', 'done')")
            # The hub dispatches in arrival order: once the marker is here, all five were offered.
            assert await _next(mark) == Notification("chan_mark", "done")
            assert await _next(sub) == Notification("chan_o", "0")
            assert await _next(sub) == Notification("chan_o", "1")
            await _notify(database_url, "chan_o", "later")
            assert await _next(sub) == Notification("chan_o", gap=True)
            assert await _next(sub) == Notification("chan_o", "later")
            await hub.stop()
            assert await _next(sub) is None
    finally:
        await hub.stop()
