"""docs/deployment.md's scaling recipe: `archon serve --no-worker` plus `archon worker` on one external database.

The API process runs no jobs; a separate worker process does, and the API still reports its progress
(REST and the progress WebSocket, fed through LISTEN/NOTIFY).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import websockets

from tests.deploy.compose_files import ROOT
from tests.docs.live import BIN, ArchonProcess

DEPLOYMENT = ROOT / "docs" / "deployment.md"


def test_deployment_doc_shows_the_commands_tested_here() -> None:
    text = DEPLOYMENT.read_text()
    assert "archon serve --no-worker" in text and "archon worker" in text


async def test_api_without_worker_and_a_separate_worker_share_the_database(database_url: str) -> None:
    api = ArchonProcess(extra_env={"DATABASE_URL": database_url})
    worker_log = api.home / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        api.start(args=("--no-worker",))
        health = httpx.get(f"{api.api}/health", timeout=5).json()
        assert health["services"].get("worker") != "running", health

        upload = httpx.post(f"{api.api}/api/documents/upload", timeout=30,
                            files={"file": ("scaling.md", b"# Scaling\n\nRun more workers with archon worker.\n")},
                            data={"knowledge_type": "technical", "tags": '["ops"]'})
        assert upload.status_code == 200, upload.text
        progress_id = upload.json()["progressId"]
        time.sleep(1)  # nobody processes it yet: the API runs no worker
        assert httpx.get(f"{api.api}/api/progress/{progress_id}", timeout=5).json()["status"] == "queued"

        ws_url = api.api.replace("http://", "ws://") + f"/api/crawl-progress/{progress_id}"
        async with websockets.connect(ws_url, open_timeout=10) as ws:
            with worker_log.open("wb") as log:
                worker = subprocess.Popen([str(BIN / "archon"), "worker"], env=api.env, cwd=api.workdir,
                                          stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 120
            status = None
            while status not in ("completed", "error", "cancelled"):
                assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
                message = json.loads(await ws.recv())
                status = (message.get("data") or {}).get("status")
        assert status == "completed", worker_log.read_text()[-3000:]
        assert httpx.get(f"{api.api}/api/progress/{progress_id}", timeout=5).json()["status"] == "completed"
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        api.stop()
