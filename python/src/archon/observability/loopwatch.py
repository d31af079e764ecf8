"""Event-loop stall watchdog: logs a warning with the loop thread's stack when the loop stops ticking.

The loop bumps a timestamp every `interval`; a daemon thread checks it and, when it is older than
`threshold`, samples the loop thread's stack with `sys._current_frames()` (the code that blocks the loop
is on that stack at that moment). When the loop ticks again one warning reports the stall's length and
the stack(s) seen. Cost: one timer callback per interval on the loop and one thread waking per interval.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

STALLS = Counter("archon_event_loop_stalls_total", "Event-loop stalls longer than the warning threshold")
STALL_SECONDS = Histogram("archon_event_loop_stall_seconds", "Length of event-loop stalls over the threshold",
                          buckets=(0.5, 1, 2, 3, 5, 10, 30, 60))
# Threads parked here are idle (pool workers waiting for work): leave them out of a process-stall report.
IDLE_FILES = ("threading.py", "queue.py", "selectors.py", "concurrent/futures/thread.py")
MAX_SAMPLES = 3  # distinct stacks kept per stall (the first usually names the culprit)


@dataclass
class Stall:
    """One stall: when it was first seen, how long it lasted and the distinct stacks sampled meanwhile."""

    started: float
    seconds: float = 0.0
    kind: str = "loop"  # "loop": the loop thread was busy; "process": no Python thread ran (GIL held, descheduled)
    stacks: list[str] = field(default_factory=list)


class LoopWatchdog:
    """Watch one running event loop from a daemon thread; `stalls` keeps the last few for tests and tools."""

    def __init__(self, threshold: float, *, interval: float = 0.1) -> None:
        self.threshold = threshold
        self.interval = interval
        self.stalls: list[Stall] = []
        self._last_tick = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop (call from a coroutine on that loop)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="archon-loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and the timer (idempotent)."""
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
            self._thread = None

    def _tick(self) -> None:
        self._last_tick = time.monotonic()
        if not self._stop.is_set() and self._loop is not None:
            self._handle = self._loop.call_later(self.interval, self._tick)

    def _watch(self) -> None:
        current: Stall | None = None
        expected = time.monotonic() + self.interval
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            if now - expected > self.threshold:
                # This thread overslept too: no Python thread could run (native code holding the GIL, or
                # the process was not scheduled); the loop-thread lag below cannot see such a stall.
                self._report_process_stall(now - expected)
                expected = now + self.interval
                continue  # the loop lag seen now is the same stall: report it once
            expected = now + self.interval
            lag = now - self._last_tick
            if lag > self.threshold:
                if current is None:
                    current = Stall(started=self._last_tick)
                stack = self._stack()
                if stack and stack not in current.stacks and len(current.stacks) < MAX_SAMPLES:
                    current.stacks.append(stack)
                current.seconds = lag
            elif current is not None:
                self._report(current)
                current = None

    def _stack(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return "".join(traceback.format_stack(frame)) if frame is not None else ""

    def _report_process_stall(self, seconds: float) -> None:
        names = {t.ident: t.name for t in threading.enumerate()}
        busy = [(ident, frame) for ident, frame in sys._current_frames().items()
                if ident != threading.get_ident() and not frame.f_code.co_filename.endswith(IDLE_FILES)]
        stacks = "\n".join(f"--- thread {names.get(ident, ident)}:\n{''.join(traceback.format_stack(frame))}"
                           for ident, frame in busy) or "(every other thread was idle: the process was not scheduled)"
        self._report(Stall(started=time.monotonic() - seconds, seconds=seconds, kind="process", stacks=[stacks]),
                     what="the whole process (GIL held by native code, or not scheduled)",
                     seen="the threads were running (right after the stall)")

    def _report(self, stall: Stall, what: str = "the event loop",
                seen: str = "the loop thread was running") -> None:
        self.stalls = [*self.stalls[-9:], stall]
        STALLS.inc()
        STALL_SECONDS.observe(stall.seconds)
        stacks = "\n".join(f"--- sample {i + 1}:\n{s}" for i, s in enumerate(stall.stacks)) or "(no stack)"
        log.warning("%s blocked for %.2f s (threshold %.2f s); %s:\n%s",
                    what, stall.seconds, self.threshold, seen, stacks)
