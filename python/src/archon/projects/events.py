"""Project change events: NOTIFY payloads in, `{type, data}` events per project out.

Writers (any process) NOTIFY `archon_projects` with `{project_id, type, id}`. Each API process runs
one `ProjectEvents`: it reads the hub subscription, loads the changed entity once and hands the
event to every subscriber of that project. Events carry the entity's state when it is delivered.
Framework-free: the WebSocket route is a thin adapter over `subscribe()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import psycopg

from archon.db.cancel import cancel_and_wait
from archon.db.notify import NotifyHub
from archon.db.pool import Database
from archon.errors import ArchonError
from archon.projects.repository import CHANNEL
from archon.projects.service import DocumentService, ProjectService, TaskService

log = logging.getLogger(__name__)

Event = dict[str, Any]


class Outbox:
    """One subscriber's bounded queue; when it overflows the subscriber gets a `resync` event."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._lost = False

    def offer(self, event: Event | None) -> None:
        if event is None:
            while self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        if self._lost and not self.queue.full():
            self._lost = False
            self.queue.put_nowait({"type": "resync", "data": {"reason": "events were dropped"}})
        if self.queue.full():
            self._lost = True
            return
        self.queue.put_nowait(event)

    async def get(self) -> Event | None:
        """The next event, or None when the stream has ended (server shutting down)."""
        return await self.queue.get()


class ProjectEvents:
    """Per-process fan-out of project change events to subscribers of one project each."""

    def __init__(self, hub: NotifyHub, db: Database) -> None:
        self.hub = hub
        self.projects = ProjectService(db)
        self.tasks = TaskService(db)
        self.documents = DocumentService(db)
        self._subscribers: dict[UUID, set[Outbox]] = {}
        self._pump_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._start_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self, project_id: UUID, *, maxsize: int = 256) -> AsyncIterator[Outbox]:
        """Receive the project's events while inside the block; changes committed after entry are seen."""
        await self._ensure_pump()
        outbox = Outbox(maxsize)
        self._subscribers.setdefault(project_id, set()).add(outbox)
        try:
            yield outbox
        finally:
            subs = self._subscribers.get(project_id)
            if subs is not None:
                subs.discard(outbox)
                if not subs:
                    del self._subscribers[project_id]

    async def stop(self) -> None:
        """End the pump and every subscriber's stream."""
        if self._pump_task is not None:
            await cancel_and_wait(self._pump_task, name="project event pump")
            self._pump_task = None
        self._close_all()

    async def load(self, project_id: UUID, event_type: str, entity_id: str) -> Event | None:
        """Build the `{type, data}` event for a notification; None when the entity is already gone."""
        try:
            data = await self._data(project_id, event_type, entity_id)
        except ArchonError:
            return None  # created then deleted before delivery: its delete event follows
        return None if data is None else {"type": event_type, "data": data}

    async def _data(self, project_id: UUID, event_type: str, entity_id: str) -> dict[str, Any] | None:
        if event_type in ("task_deleted", "document_deleted"):
            return {"id": entity_id, "project_id": str(project_id)}
        if event_type == "project_deleted":
            return {"id": entity_id}
        if event_type.startswith("task_"):
            task = (await self.tasks.get(entity_id)).model_dump(mode="json")
            if event_type == "task_moved":
                columns = await self.tasks.columns(project_id)
                task["columns"] = {k: [str(i) for i in v] for k, v in columns.items()}
            return task
        if event_type.startswith("document_"):
            return (await self.documents.get(project_id, entity_id)).model_dump(mode="json")
        if event_type in ("project_created", "project_updated"):
            return (await self.projects.get(project_id)).model_dump(mode="json")
        if event_type == "sources_changed":
            sources = await self.projects.list_sources(project_id)
            return {"project_id": str(project_id), "sources": [s.model_dump(mode="json") for s in sources]}
        log.warning("unknown project event type %r", event_type)
        return None

    async def _ensure_pump(self) -> None:
        async with self._start_lock:
            if self._pump_task is None or self._pump_task.done():
                self._ready.clear()
                self._pump_task = asyncio.create_task(self._pump(), name="archon-project-events")
            async with asyncio.timeout(10):
                await self._ready.wait()

    def _broadcast(self, project_id: UUID | None, event: Event | None) -> None:
        targets = self._subscribers.values() if project_id is None else [self._subscribers.get(project_id, set())]
        for subs in list(targets):
            for outbox in list(subs):
                outbox.offer(event)

    def _close_all(self) -> None:
        self._broadcast(None, None)

    async def _pump(self) -> None:
        async with self.hub.subscribe(CHANNEL, maxsize=10_000) as subscription:
            self._ready.set()
            async for note in subscription:
                if note.gap:
                    self._broadcast(None, {"type": "resync", "data": {"reason": "event stream interrupted"}})
                    continue
                try:
                    message = json.loads(note.payload)
                    project_id = UUID(message["project_id"])
                    event_type, entity_id = str(message["type"]), str(message["id"])
                except (ValueError, KeyError, TypeError):
                    log.warning("ignoring malformed %s payload %.200r", CHANNEL, note.payload)
                    continue
                if project_id not in self._subscribers:
                    continue
                try:
                    event = await self.load(project_id, event_type, entity_id)
                except (psycopg.Error, TimeoutError) as exc:  # the database hiccupped: clients must refetch
                    log.warning("could not load %s %s: %s", event_type, entity_id, type(exc).__name__)
                    event = {"type": "resync", "data": {"reason": "could not load a change"}}
                except Exception:  # top-level loop: one bad event must not end every stream
                    log.exception("could not build event %s for %s", event_type, entity_id)
                    event = {"type": "resync", "data": {"reason": "could not load a change"}}
                if event is not None:
                    self._broadcast(project_id, event)
        self._close_all()  # the hub stopped
