"""Cancellation that cannot be lost in a database call.

A cancellation that reaches a task inside psycopg or psycopg_pool is sometimes not delivered as
`CancelledError`: psycopg turns an interrupted query into its own error on some paths, and Python
3.11's `asyncio.wait_for` (which psycopg_pool uses to wait for a connection) swallows a cancel that
arrives as the awaited future completes. A background loop that catches errors and tries again then
runs forever, and whoever awaits it after `cancel()` hangs. CI saw exactly that: `archon serve`
ignoring SIGTERM and `archon import` never exiting, both stuck stopping the job worker's liveness loop.

asyncio has no primitive for either half, so the two helpers are written here: loops call
`raise_if_cancelled()` after catching an error (the task still remembers the request in
`Task.cancelling()`), and stop paths use `cancel_and_wait()`, which repeats the cancel and never
waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_EVERY = 0.5  # seconds between repeated cancels once patience has run out


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if the current task was asked to stop and something swallowed it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(task: asyncio.Task[Any], *, name: str, patience: float = 0.0,
                          timeout: float = 10.0) -> bool:
    """Cancel `task` and wait for it to end; True when it ended.

    After the first cancel the task gets `patience` seconds to finish on its own (a graceful shutdown
    inside it), then it is cancelled again every `RECANCEL_EVERY` s until `timeout` more seconds have
    passed. A task still running then is abandoned with a warning rather than blocking shutdown.
    """
    if task.done():
        return _reap(task, name)
    loop = asyncio.get_running_loop()
    task.cancel()
    await asyncio.wait({task}, timeout=patience)
    deadline = loop.time() + timeout
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("%s did not stop %.0f s after it was cancelled; leaving it behind", name,
                        patience + timeout)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_EVERY, remaining))
    return _reap(task, name)


def _reap(task: asyncio.Task[Any], name: str) -> bool:
    """Consume the task's outcome (so asyncio never logs it as unretrieved); log a real failure."""
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.warning("%s ended with %s: %s", name, type(exc).__name__, str(exc)[:200])
    return True
