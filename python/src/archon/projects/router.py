"""REST routes for projects and their source links, the project event stream, and the sub-routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from archon.errors import ArchonError
from archon.projects.deps import ProjectServiceDep
from archon.projects.document_router import router as document_router
from archon.projects.events import Outbox, ProjectEvents
from archon.projects.schemas import (
    LinkedSource,
    Project,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectUpdate,
    SourceLinkRequest,
    parse_id,
)
from archon.projects.service import ProjectService
from archon.projects.task_router import router as task_router

log = logging.getLogger(__name__)
router = APIRouter(tags=["projects"])

_PING_SECONDS = 20.0


@router.get("/projects", response_model=ProjectList)
async def list_projects(service: ProjectServiceDep, include_archived: bool = False,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0)] = 0) -> ProjectList:
    """Projects (pinned first) with per-status task counts; `include_archived` counts archived tasks too."""
    return await service.list_projects(include_archived=include_archived, limit=limit, offset=offset)


@router.post("/projects", response_model=Project, status_code=201)
async def create_project(body: ProjectCreate, service: ProjectServiceDep) -> Project:
    return await service.create(body)


@router.get("/projects/{project_id}", response_model=Project)
async def get_project(project_id: UUID, service: ProjectServiceDep, include_archived: bool = False) -> Project:
    return await service.get(project_id, include_archived=include_archived)


@router.patch("/projects/{project_id}", response_model=Project)
@router.put("/projects/{project_id}", response_model=Project)
async def update_project(project_id: UUID, body: ProjectUpdate, service: ProjectServiceDep) -> Project:
    """Change the fields given (PUT and PATCH both update partially)."""
    return await service.update(project_id, body.model_dump(include=body.model_fields_set))


@router.delete("/projects/{project_id}", response_model=ProjectDeleted)
async def delete_project(project_id: UUID, service: ProjectServiceDep, confirm: bool = False) -> ProjectDeleted:
    """Delete with `?confirm=true`; without it, 409 reports what would be deleted."""
    return await service.delete(project_id, confirm=confirm)


@router.get("/projects/{project_id}/features")
async def get_features(project_id: UUID, service: ProjectServiceDep) -> dict[str, Any]:
    """The project's `features` list (Archon v1 path)."""
    features = (await service.get(project_id)).features
    return {"features": features, "count": len(features)}


@router.get("/projects/{project_id}/sources", response_model=list[LinkedSource])
async def list_sources(project_id: UUID, service: ProjectServiceDep) -> list[LinkedSource]:
    return await service.list_sources(project_id)


@router.post("/projects/{project_id}/sources", response_model=list[LinkedSource], status_code=201)
async def link_source(project_id: UUID, body: SourceLinkRequest, service: ProjectServiceDep) -> list[LinkedSource]:
    """Link a knowledge source as `technical` or `business` (linking again changes the relation)."""
    return await service.link_source(project_id, body)


@router.delete("/projects/{project_id}/sources/{source_id}", response_model=list[LinkedSource])
async def unlink_source(project_id: UUID, source_id: str, service: ProjectServiceDep) -> list[LinkedSource]:
    return await service.unlink_source(project_id, source_id)


@router.websocket("/projects/{project_id}/stream")
async def project_stream(websocket: WebSocket, project_id: str) -> None:
    """Every task, document and project change of the project as `{type, data}` JSON messages."""
    runtime = websocket.app.state.runtime
    events: ProjectEvents = websocket.app.state.project_events
    await websocket.accept()
    try:
        pid = parse_id(project_id, "project_id")
        await ProjectService(runtime.db).get(pid)
    except ArchonError as exc:
        await websocket.send_json({"type": "error", "data": {"error": exc.message}})
        await websocket.close(code=4404 if exc.status == 404 else 4422, reason=exc.message[:120])
        return
    try:
        async with events.subscribe(pid) as outbox:
            await websocket.send_json({"type": "subscribed", "data": {"project_id": str(pid)}})
            await _stream(websocket, outbox)
    except TimeoutError:  # the LISTEN connection is not up (database unreachable)
        log.warning("project stream for %s refused: event listener unavailable", pid)
        await websocket.send_json({"type": "error", "data": {"error": "event stream unavailable; retry shortly"}})
        await websocket.close(code=1011, reason="event stream unavailable")
        return
    if websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=1000)


async def _stream(websocket: WebSocket, outbox: Outbox) -> None:
    """Send events until the client leaves or the stream ends; whichever side ends first stops the other."""
    sender = asyncio.create_task(_send_events(websocket, outbox))
    receiver = asyncio.create_task(_drain(websocket))
    await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    for task in (sender, receiver):
        task.cancel()
        # A send to a client that just went away fails; that is the normal end of a stream.
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            await task


async def _send_events(websocket: WebSocket, outbox: Outbox) -> None:
    while True:
        try:
            async with asyncio.timeout(_PING_SECONDS):
                event = await outbox.get()
        except TimeoutError:
            event = {"type": "ping", "data": {}}
        if event is None:  # server shutting down
            await websocket.close(code=1001, reason="server shutting down")
            return
        await websocket.send_json(event)
        if event["type"] == "project_deleted":
            await websocket.close(code=1000, reason="project deleted")
            return


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


router.include_router(task_router)
router.include_router(document_router)
