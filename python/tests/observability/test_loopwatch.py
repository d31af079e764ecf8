"""The event-loop watchdog reports a blocked loop with the blocking code's stack, and stays quiet otherwise."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from archon.observability.loopwatch import STALLS, LoopWatchdog


def _block_the_loop_for(seconds: float) -> None:
    time.sleep(seconds)  # synchronous work on the loop thread: what the watchdog must catch


async def test_a_blocked_loop_is_reported_with_its_stack(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(0.2, interval=0.05)
    before = STALLS._value.get()
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="archon.observability.loopwatch"):
            await asyncio.sleep(0.3)
            assert watchdog.stalls == []  # a loop that ticks is never reported
            _block_the_loop_for(0.6)
            await asyncio.sleep(0.3)  # the loop ticks again: the stall ends and is reported
    finally:
        watchdog.stop()
    assert len(watchdog.stalls) == 1, watchdog.stalls
    stall = watchdog.stalls[0]
    assert 0.2 < stall.seconds < 1.5, stall.seconds
    assert "_block_the_loop_for" in stall.stacks[0]
    assert STALLS._value.get() == before + 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("event loop blocked for" in m and "_block_the_loop_for" in m for m in messages), messages


async def test_stop_ends_the_thread_and_the_timer() -> None:
    watchdog = LoopWatchdog(0.2, interval=0.05)
    watchdog.start()
    thread = watchdog._thread
    watchdog.stop()
    assert thread is not None and not thread.is_alive()
    await asyncio.sleep(0.2)
    assert watchdog._handle is None


def _hold_the_gil_for_a_while() -> None:
    # One C call that never returns to the interpreter: no other Python thread (the watchdog's) can run.
    sorted(range(15_000_000, 0, -1))


async def test_a_process_wide_stall_is_reported_as_such() -> None:
    started = time.monotonic()
    _hold_the_gil_for_a_while()
    hold = time.monotonic() - started
    watchdog = LoopWatchdog(hold / 3, interval=0.02)
    watchdog.start()
    try:
        await asyncio.sleep(0.1)
        _hold_the_gil_for_a_while()
        await asyncio.sleep(0.2)
    finally:
        watchdog.stop()
    # The first report is the process-wide one (freeing the big list may add a shorter second one).
    assert watchdog.stalls and watchdog.stalls[0].kind == "process", (hold, watchdog.stalls)
    assert watchdog.stalls[0].seconds > hold / 3
    assert "thread MainThread" in watchdog.stalls[0].stacks[0]
