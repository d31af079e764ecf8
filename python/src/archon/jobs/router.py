"""Progress over REST (polling), WebSockets (push) and cancellation: thin adapters over JobService."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from archon.api.deps import RuntimeDep
from archon.db.notify import NotifyHub
from archon.jobs.events import KNOWLEDGE_CHANNEL
from archon.jobs.feed import ProgressFeed
from archon.jobs.service import JobService, JobView

log = logging.getLogger(__name__)

router = APIRouter(tags=["progress"])


async def _hub(conn: HTTPConnection) -> NotifyHub:
    """The process's NotifyHub (started by the app lifespan; created here if the lifespan did not)."""
    state = conn.app.state
    hub: NotifyHub | None = getattr(state, "notify_hub", None)
    if hub is None:
        hub = NotifyHub(state.runtime.db.conninfo)
        await hub.start()
        state.notify_hub = hub
    return hub


async def _feed(conn: HTTPConnection) -> ProgressFeed:
    state = conn.app.state
    feed: ProgressFeed | None = getattr(state, "progress_feed", None)
    if feed is None:
        feed = ProgressFeed(await _hub(conn), JobService(state.runtime.db))
        state.progress_feed = feed
    return feed


@router.get("/progress/{progress_id}")
async def get_progress(progress_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """The job's current progress (the same data the WebSocket pushes); 404 for an unknown id."""
    return (await JobService(runtime.db).get(progress_id)).progress_data()


@router.post("/knowledge-items/stop/{progress_id}")
async def stop_job(progress_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """Cancel a crawl or upload: a queued job stops at once, a running one at its next page or batch."""
    job = await JobService(runtime.db).request_cancel(progress_id)
    return {"success": True, "progressId": job.id, "status": job.status, "message": "cancellation requested"}


async def _send_state(ws: WebSocket, view: JobView) -> bool:
    """Send one state; True when it was final."""
    await ws.send_json(view.message())
    return view.finished


@router.websocket("/crawl-progress/{progress_id}")
async def crawl_progress(ws: WebSocket, progress_id: str) -> None:
    """connection_established, the current state, then every change until the job ends (then close 1000)."""
    await ws.accept()
    feed = await _feed(ws)
    jobs = feed.jobs
    receiver = asyncio.create_task(_drain(ws))
    try:
        async with feed.watch(progress_id) as watcher:
            job = await jobs.find(progress_id)
            await ws.send_json({"type": "connection_established",
                                "data": {"progressId": progress_id, "status": job.status if job else "waiting"}})
            last_sent = None
            if job is not None:
                last_sent = job.updated_at
                if await _send_state(ws, job):
                    await ws.close(1000)
                    return
            while True:
                waiter = asyncio.ensure_future(watcher.next())
                done, _ = await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    waiter.cancel()
                    return
                view = waiter.result()
                if view.updated_at == last_sent:
                    continue
                last_sent = view.updated_at
                if await _send_state(ws, view):
                    await ws.close(1000)
                    return
    except (WebSocketDisconnect, RuntimeError):
        return  # the client went away mid-send
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects; answer "ping" with "pong"."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "ping":
            await ws.send_text("pong")


@router.websocket("/knowledge-items/stream")
async def knowledge_stream(ws: WebSocket) -> None:
    """Knowledge-base changes for the dashboard: source_added/updated/deleted and job_finished events."""
    await ws.accept()
    hub = await _hub(ws)
    receiver = asyncio.create_task(_drain(ws))
    try:
        async with hub.subscribe(KNOWLEDGE_CHANNEL, maxsize=500) as subscription:
            await ws.send_json({"type": "connection_established", "data": {}})
            while True:
                getter = asyncio.ensure_future(subscription.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    getter.cancel()
                    return
                note = getter.result()
                if note is None:  # the server is shutting down
                    await ws.close(1001)
                    return
                if note.gap:
                    await ws.send_json({"type": "resync", "data": {}})
                    continue
                try:
                    await ws.send_json(json.loads(note.payload))
                except ValueError:
                    log.warning("ignoring a malformed knowledge event")
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
