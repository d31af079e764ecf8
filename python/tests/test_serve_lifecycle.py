"""The real `archon serve` in a subprocess: start, SIGTERM, SIGKILL and restart, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import free_port


def _postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and str(pgdata.resolve()) in " ".join(cmdline):
            found.append(proc)
    return found


class Serve:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {"BACKEND_PORT": free_port(), "MCP_PORT": free_port(), "FRONTEND_PORT": free_port()}
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports['BACKEND_PORT']}"

    def start(self, **extra: str) -> None:
        env = {**extra, "PATH": os.environ["PATH"], "ARCHON_DATA_DIR": str(self.data_dir), "EMBEDDING_PROVIDER": "hash",
               "LOG_LEVEL": "INFO", "ARCHON_SHUTDOWN_GRACE": "2", **{k: str(v) for k, v in self.ports.items()}}
        # A file, not a pipe: nobody reads a pipe while the server runs, and a full pipe would block its logging.
        self.log = self.data_dir.parent / f"serve-{len(list(self.data_dir.parent.glob('serve-*.log')))}.log"
        with self.log.open("w") as out:
            # Its own process group, so a chaos test can SIGKILL the server with all its children at once.
            self.proc = subprocess.Popen([sys.executable, "-m", "archon", "serve"], env=env,
                                         cwd=self.data_dir.parent, stdout=out, stderr=subprocess.STDOUT, text=True,
                                         start_new_session=True)

    def wait_healthy(self, timeout: float = 120) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                response = httpx.get(f"{self.base}/health", timeout=2)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("archon serve did not become healthy:\n" + self.output())

    def output(self) -> str:
        if self.proc is None:
            return ""
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"archon serve did not exit {timeout:.0f} s after signal {sig}:\n"
                                 + self.output()[-6000:]) from None


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "data")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
    for proc in _postgres_for(server.data_dir / "postgres"):  # never leave a server behind, even on failure
        proc.kill()


def test_serve_starts_all_listeners_and_sigterm_stops_everything(serve: Serve) -> None:
    serve.start()
    health = serve.wait_healthy()
    assert health["status"] == "healthy"
    assert health["services"]["database"] == "healthy"  # type: ignore[index]
    assert httpx.get(f"{serve.base}/docs").status_code == 200
    dashboard = httpx.get(f"http://127.0.0.1:{serve.ports['FRONTEND_PORT']}/")
    assert dashboard.status_code == 200 and "content-security-policy" in dashboard.headers
    mcp = httpx.post(f"http://127.0.0.1:{serve.ports['MCP_PORT']}/mcp", json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        headers={"Accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200 and '"serverInfo"' in mcp.text
    assert _postgres_for(serve.data_dir / "postgres"), "the embedded server should be running"
    started = time.monotonic()
    assert serve.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 15
    assert _postgres_for(serve.data_dir / "postgres") == []
    assert (serve.data_dir / "logs" / "archon.log").read_text().count("embedded PostgreSQL stopped") == 1


def test_restart_after_sigkill_recovers_without_manual_cleanup(serve: Serve) -> None:
    serve.start()
    serve.wait_healthy()
    serve.stop(signal.SIGKILL)
    orphans = _postgres_for(serve.data_dir / "postgres")
    assert orphans, "after SIGKILL the embedded server outlives its parent (that is what we recover from)"
    serve.start()
    assert serve.wait_healthy()["status"] == "healthy"
    assert serve.stop(signal.SIGTERM) == 0
    assert _postgres_for(serve.data_dir / "postgres") == [], "the orphaned server must be stopped, not leaked"


def test_sigint_also_stops_cleanly_and_debug_starts_debugpy(serve: Serve) -> None:
    with socket.socket() as probe:
        debug_port_free = probe.connect_ex(("127.0.0.1", 5678)) != 0
    serve.start(DEBUG="true")
    serve.wait_healthy()
    if debug_port_free:
        with socket.create_connection(("127.0.0.1", 5678), timeout=5):
            pass  # debugpy is listening
    assert serve.stop(signal.SIGINT) == 0
    assert _postgres_for(serve.data_dir / "postgres") == []


def test_a_taken_port_is_reported_in_one_line(serve: Serve) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", serve.ports["MCP_PORT"]))
        taken.listen()
        serve.start()
        assert serve.proc is not None
        rc = serve.proc.wait(timeout=60)
        output = serve.output()
    assert rc == 2
    assert "MCP_PORT" in output and "Traceback" not in output
