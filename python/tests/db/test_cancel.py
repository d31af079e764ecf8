"""cancel_and_wait and raise_if_cancelled end tasks whose cancellation something swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from archon.db.cancel import cancel_and_wait, raise_if_cancelled


async def _swallows_once(log: list[str]) -> None:
    """What psycopg_pool under Python 3.11 can do: the first CancelledError never reaches the loop."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        log.append("swallowed")
    while True:
        await asyncio.sleep(0.05)


async def test_a_swallowed_cancel_is_repeated_until_the_task_ends() -> None:
    log: list[str] = []
    task = asyncio.create_task(_swallows_once(log))
    await asyncio.sleep(0.01)
    assert await cancel_and_wait(task, name="swallower", timeout=5)
    assert task.cancelled() and log == ["swallowed"]


async def test_patience_lets_a_graceful_shutdown_finish_without_a_second_cancel() -> None:
    events: list[str] = []

    async def graceful() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # a second cancel here would cut the clean-up short
            events.append("cleaned up")
            raise

    task = asyncio.create_task(graceful())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait(task, name="graceful", patience=2, timeout=1)
    assert events == ["cleaned up"]


async def test_a_task_that_never_stops_is_left_behind_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="archon.db.cancel"):
        assert not await cancel_and_wait(task, name="stubborn loop", timeout=0.5)
    assert "stubborn loop did not stop" in caplog.text
    release.set()
    await task


async def test_raise_if_cancelled_sees_a_request_that_was_turned_into_an_error() -> None:
    rounds: list[int] = []

    async def retry_loop() -> None:
        while True:
            try:
                try:
                    await asyncio.sleep(60)
                except asyncio.CancelledError:
                    raise ConnectionError("query cancelled") from None  # what a driver may raise instead
            except ConnectionError:
                rounds.append(1)
                raise_if_cancelled()

    task = asyncio.create_task(retry_loop())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2)
    assert rounds == [1]
    assert raise_if_cancelled() is None  # outside a cancelled task it does nothing
