"""The MCP server's activity log: a bounded in-memory buffer the dashboard reads and streams live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from archon.observability.logging import redactor

log = logging.getLogger("archon.mcp_server")

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
_LEVELS: dict[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


class LogEntry(BaseModel):
    """One line of MCP activity, as `/api/mcp/logs` and the log stream send it."""

    timestamp: str
    level: Level
    message: str


class McpLog:
    """Keeps the last `capacity` entries and fans new ones out to live subscribers (WebSockets)."""

    def __init__(self, capacity: int = 1000, *, subscriber_queue: int = 500) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._subscribers: set[asyncio.Queue[LogEntry]] = set()
        self._subscriber_queue = subscriber_queue

    def add(self, level: Level, message: str) -> LogEntry:
        """Record `message` (secrets redacted), mirror it to the process log and notify subscribers."""
        entry = LogEntry(
            timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            level=level,
            message=redactor.redact(message),
        )
        self._entries.append(entry)
        log.log(_LEVELS[level], "%s", entry.message)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(entry)
            except asyncio.QueueFull:
                # A reader that stopped reading loses old lines rather than holding the server's memory.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(entry)
        return entry

    def recent(self, limit: int = 50) -> list[LogEntry]:
        """The newest `limit` entries, oldest first."""
        if limit <= 0:
            return []
        return list(self._entries)[-limit:]

    def subscribe(self) -> asyncio.Queue[LogEntry]:
        """A queue that receives every entry added from now on; pass it to `unsubscribe` when done."""
        queue: asyncio.Queue[LogEntry] = asyncio.Queue(maxsize=self._subscriber_queue)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LogEntry]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
