from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from archon.config import Settings
from archon.jobs.runner import acquire_slot
from tests.conftest import LiveServer, make_settings
from tests.knowledge.docgen import make_pdf_bomb

DOC = "# Guide\n\n" + "\n\n".join(f"## Part {i}\n\n" + f"Some words about part {i}. " * 30 for i in range(40))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, concurrent_crawl_limit=1,
                         convert_timeout_seconds=20)


def ws_url(server: LiveServer, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def receive(ws: Any, timeout: float = 30) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def upload(server: LiveServer, name: str, data: bytes) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        resp = await client.post("/api/documents/upload", files={"file": (name, data)})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["progressId"])


async def test_unknown_id_is_waiting(live_api: LiveServer) -> None:
    async with websockets.connect(ws_url(live_api, "/api/crawl-progress/not-yet")) as ws:
        assert await receive(ws) == {"type": "connection_established",
                                     "data": {"progressId": "not-yet", "status": "waiting"}}


async def test_progress_streams_from_queued_to_completed(live_api: LiveServer, settings: Settings) -> None:
    # Hold the only slot so the job stays queued while two clients connect.
    slot = await acquire_slot(settings.database_url.get_secret_value(), 1, give_up=_never)  # type: ignore[union-attr]
    assert slot is not None
    progress_id = await upload(live_api, "guide.md", DOC.encode())
    clients = [websockets.connect(ws_url(live_api, f"/api/crawl-progress/{progress_id}")) for _ in range(2)]
    async with clients[0] as ws1, clients[1] as ws2:
        for ws in (ws1, ws2):
            hello = await receive(ws)
            assert hello == {"type": "connection_established", "data": {"progressId": progress_id, "status": "queued"}}
            state = await receive(ws)
            assert state["type"] == "crawl_progress" and state["data"]["status"] == "queued"
        await slot.close()
        for ws in (ws1, ws2):
            messages = []
            while True:
                msg = await receive(ws)
                messages.append(msg)
                if msg["type"] != "crawl_progress":
                    break
            final = messages[-1]
            assert final["type"] == "crawl_completed", messages[-3:]
            data = final["data"]
            assert data["status"] == "completed" and data["percentage"] == 100 and data["chunksStored"] > 5
            assert data["sourceId"].startswith("file_") and data["progressId"] == progress_id
            assert {"currentUrl", "totalPages", "processedPages", "log"} <= set(data)
            percentages = [m["data"]["percentage"] for m in messages]
            assert percentages == sorted(percentages) and len(set(percentages)) >= 3
            assert any(m["data"]["status"] == "running" for m in messages)
            await asyncio.wait_for(ws.wait_closed(), 5)
    # A client that (re)connects after the end gets the final state at once.
    async with websockets.connect(ws_url(live_api, f"/api/crawl-progress/{progress_id}")) as ws:
        assert (await receive(ws))["data"]["status"] == "completed"
        assert (await receive(ws))["type"] == "crawl_completed"


async def _never() -> bool:
    return False


async def test_cancel_queued_and_running_jobs(live_api: LiveServer, settings: Settings) -> None:
    slot = await acquire_slot(settings.database_url.get_secret_value(), 1, give_up=_never)  # type: ignore[union-attr]
    assert slot is not None
    queued = await upload(live_api, "q.md", b"# Q\n\nqueued")
    async with httpx.AsyncClient(base_url=live_api.url) as client, \
            websockets.connect(ws_url(live_api, f"/api/crawl-progress/{queued}")) as ws:
        await receive(ws)
        await receive(ws)
        stop = await client.post(f"/api/knowledge-items/stop/{queued}")
        assert stop.status_code == 200 and stop.json()["status"] == "cancelled"
        msg = await receive(ws)
        while msg["type"] == "crawl_progress":
            msg = await receive(ws)
        assert msg["type"] == "crawl_cancelled"
        await slot.close()
        # A running job (converting a PDF bomb for up to 20 s of CPU) stops within seconds.
        running = await upload(live_api, "slow.pdf", make_pdf_bomb())
        async with asyncio.timeout(30):
            while (await client.get(f"/api/progress/{running}")).json()["stage"] != "converting":
                await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await client.post(f"/api/knowledge-items/stop/{running}")
        async with asyncio.timeout(10):
            while (data := (await client.get(f"/api/progress/{running}")).json())["status"] != "cancelled":
                await asyncio.sleep(0.1)
        assert loop.time() - asked < 5
        item = (await client.get(f"/api/knowledge-items/{data['sourceId']}")).json()
        assert item["chunk_count"] == 0 and item["status"] == "cancelled"


async def test_knowledge_stream_reports_changes(live_api: LiveServer) -> None:
    async with websockets.connect(ws_url(live_api, "/api/knowledge-items/stream")) as ws:
        assert (await receive(ws))["type"] == "connection_established"
        progress_id = await upload(live_api, "s.md", b"# S\n\nstream me")
        seen: dict[str, dict[str, Any]] = {}
        while "job_finished" not in seen:
            msg = await receive(ws)
            seen.setdefault(msg["type"], msg["data"])
        assert seen["job_finished"]["progressId"] == progress_id and seen["job_finished"]["status"] == "completed"
        source_id = seen["source_added"]["sourceId"]
        async with httpx.AsyncClient(base_url=live_api.url) as client:
            assert (await client.delete(f"/api/knowledge-items/{source_id}")).status_code == 200
        while (msg := await receive(ws))["type"] != "source_deleted":
            pass
        assert msg["data"]["sourceId"] == source_id
