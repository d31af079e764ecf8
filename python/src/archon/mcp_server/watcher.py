"""Tells connected MCP sessions when their resource list changed, whichever process changed it.

Jobs and the knowledge service NOTIFY `archon_knowledge` (source added/updated/deleted, job finished), the
projects domain NOTIFYs `archon_projects` (document created/deleted, ...), from any process; this LISTENs
on both through a `NotifyHub` and turns a burst of events into one `notifications/resources/list_changed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from archon.db.notify import Notification, NotifyHub, Subscription
from archon.runtime import RuntimeHolder

log = logging.getLogger(__name__)

KNOWLEDGE_CHANNEL = "archon_knowledge"  # archon.jobs.events: every event changes the source list
PROJECTS_CHANNEL = "archon_projects"  # archon.projects: only these events change the document list
DOCUMENT_LIST_EVENTS = frozenset(
    {"document_created", "document_updated", "document_restored", "document_deleted", "project_deleted"}
)
_COALESCE_SECONDS = 0.2


def changes_resources(note: Notification) -> bool:
    """Whether a notification can change what resources/list returns."""
    if note.gap or note.channel == KNOWLEDGE_CHANNEL:
        return True  # after missed events the list may have changed in any way
    try:
        event = json.loads(note.payload).get("type")
    except (ValueError, AttributeError):
        return False
    return event in DOCUMENT_LIST_EVENTS


class KnowledgeWatcher:
    """LISTENs on the knowledge and projects channels while `running()` is entered; calls `on_change` coalesced."""

    def __init__(self, holder: RuntimeHolder, on_change: Callable[[], Awaitable[object]]) -> None:
        self.holder = holder
        self.on_change = on_change
        self.listening = asyncio.Event()
        self._changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[KnowledgeWatcher]:
        tasks = [
            asyncio.create_task(self._listen(), name="archon-mcp-resources-listen"),
            asyncio.create_task(self._send(), name="archon-mcp-resources-send"),
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
        while self.holder.runtime is None:  # the API lifespan has not opened the database yet
            await asyncio.sleep(0.05)
        hub = NotifyHub(self.holder.runtime.db.conninfo)
        await hub.start()
        try:
            while True:
                try:
                    async with (
                        hub.subscribe(KNOWLEDGE_CHANNEL) as knowledge,
                        hub.subscribe(PROJECTS_CHANNEL) as projects,
                    ):
                        self.listening.set()
                        await asyncio.gather(self._consume(knowledge), self._consume(projects))
                        return  # the hub stopped
                except TimeoutError:
                    # The database is unreachable; the hub keeps reconnecting, we keep asking.
                    log.warning("MCP resource watcher could not LISTEN yet; retrying")
        finally:
            self.listening.clear()
            await hub.stop()

    async def _consume(self, subscription: Subscription) -> None:
        async for note in subscription:
            if changes_resources(note):
                self._changed.set()

    async def _send(self) -> None:
        while True:
            await self._changed.wait()
            await asyncio.sleep(_COALESCE_SECONDS)  # a finished crawl sends several events at once
            self._changed.clear()
            await self.on_change()
