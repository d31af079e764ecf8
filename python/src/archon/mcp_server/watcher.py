"""Tells connected MCP sessions when their resource list changed, whichever process changed it.

Jobs and the knowledge service NOTIFY `archon_knowledge` (source added/updated/deleted, job finished), the
projects domain NOTIFYs `archon_projects` (document created/deleted, ...), from any process; this LISTENs
on both and turns a burst of events into one `notifications/resources/list_changed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg

from archon.runtime import RuntimeHolder

log = logging.getLogger(__name__)

KNOWLEDGE_CHANNEL = "archon_knowledge"  # archon.jobs.events: every event changes the source list
PROJECTS_CHANNEL = "archon_projects"  # archon.projects: only these events change the document list
DOCUMENT_LIST_EVENTS = frozenset(
    {"document_created", "document_updated", "document_restored", "document_deleted", "project_deleted"}
)
_COALESCE_SECONDS = 0.2
_RETRY_SECONDS = 2.0


class KnowledgeWatcher:
    """LISTENs on the knowledge channel while `running()` is entered and calls `on_change` (coalesced)."""

    def __init__(self, holder: RuntimeHolder, on_change: Callable[[], Awaitable[object]]) -> None:
        self.holder = holder
        self.on_change = on_change
        self.listening = asyncio.Event()
        self._changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[KnowledgeWatcher]:
        tasks = [
            asyncio.create_task(self._listen(), name="archon-mcp-knowledge-listen"),
            asyncio.create_task(self._send(), name="archon-mcp-knowledge-send"),
        ]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _listen(self) -> None:
        while True:
            runtime = self.holder.runtime
            if runtime is None:  # the API lifespan has not opened the database yet
                await asyncio.sleep(0.1)
                continue
            try:
                async with await psycopg.AsyncConnection.connect(runtime.db.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {KNOWLEDGE_CHANNEL}")
                    await conn.execute(f"LISTEN {PROJECTS_CHANNEL}")
                    self.listening.set()
                    async for note in conn.notifies():
                        if _changes_resources(note.channel, note.payload):
                            self._changed.set()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.listening.clear()
                log.warning("MCP knowledge listener lost its connection (%s); retrying", type(exc).__name__)
                await asyncio.sleep(_RETRY_SECONDS)

    async def _send(self) -> None:
        while True:
            await self._changed.wait()
            await asyncio.sleep(_COALESCE_SECONDS)  # a finished crawl sends several events at once
            self._changed.clear()
            await self.on_change()


def _changes_resources(channel: str, payload: str) -> bool:
    if channel == KNOWLEDGE_CHANNEL:
        return True
    try:
        event = json.loads(payload).get("type")
    except (ValueError, AttributeError):
        return False
    return event in DOCUMENT_LIST_EVENTS
