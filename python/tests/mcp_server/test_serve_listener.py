"""`archon serve` in a subprocess: the MCP listener stops and starts through /api/mcp while the API keeps running."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_serve_lifecycle import Serve, _postgres_for

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "data")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
    for proc in _postgres_for(server.data_dir / "postgres"):
        proc.kill()


def _mcp_answers(serve: Serve) -> bool:
    try:
        response = httpx.post(
            f"http://127.0.0.1:{serve.ports['MCP_PORT']}/mcp",
            json=INIT,
            timeout=5,
            headers={"Accept": "application/json, text/event-stream"},
        )
    except httpx.ConnectError:
        return False
    return response.status_code == 200 and '"serverInfo"' in response.text


def test_stop_and_start_mcp_inside_archon_serve(serve: Serve) -> None:
    serve.start()
    serve.wait_healthy()
    # The API answers first; the MCP listener starts right after it.
    deadline = time.monotonic() + 30
    while httpx.get(f"{serve.base}/health").json()["services"]["mcp_server"] != "running":
        assert time.monotonic() < deadline, "the MCP listener did not start"
        time.sleep(0.1)
    assert _mcp_answers(serve)

    stopped = httpx.post(f"{serve.base}/api/mcp/stop", timeout=30)
    assert stopped.status_code == 200 and stopped.json()["running"] is False
    assert not _mcp_answers(serve)
    health = httpx.get(f"{serve.base}/health").json()
    assert health["status"] == "healthy" and health["services"]["mcp_server"] == "stopped"

    started = httpx.post(f"{serve.base}/api/mcp/start", timeout=30)
    assert started.status_code == 200 and started.json()["running"] is True
    assert _mcp_answers(serve)
    assert httpx.post(f"{serve.base}/api/mcp/start", timeout=30).status_code == 409

    began = time.monotonic()
    assert serve.stop(signal.SIGTERM) == 0
    assert time.monotonic() - began < 15
    assert _postgres_for(serve.data_dir / "postgres") == []
    log = (serve.data_dir / "logs" / "archon.log").read_text()
    assert "MCP listener stopped" in log and "MCP listener started" in log
