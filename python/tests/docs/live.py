"""A real `archon serve` subprocess (the container's CMD) and a local documentation site to crawl."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.deploy.dockerfiles import BACKEND, final_stage, parse

BIN = Path(sys.executable).parent


def serve_command() -> list[str]:
    """The backend image's CMD (`archon serve`), with `archon` resolved to this virtualenv's script."""
    cmd = [i for i in final_stage(parse(BACKEND)) if i.keyword == "CMD"][-1].exec_form()
    return [str(BIN / cmd[0]), *cmd[1:]]


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica (valid xref, readable by pypdf)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class DocsSite:
    """A small documentation site on 127.0.0.1 (the public web is off limits in tests)."""

    PAGES = {
        "index.html": "<h1>Example docs</h1><p>Start with <a href='install.html'>installing Python</a> "
                      "or read the <a href='guide/usage.html'>usage guide</a>.</p>",
        "install.html": "<h1>How to install Python</h1><p>To install Python on Debian run "
                        "<code>apt-get install python3</code>, then create a virtual environment with "
                        "<code>python3 -m venv .venv</code>.</p><pre><code>python3 -m venv .venv\n"
                        "source .venv/bin/activate\npip install archon</code></pre>",
        "guide/usage.html": "<h1>Usage guide</h1><p>Run the server, open the dashboard and search the "
                            "knowledge base. Back to <a href='../index.html'>the start</a>.</p>",
    }

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="archon-docs-site-"))
        for name, body in self.PAGES.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"<!doctype html><html><head><title>{name}</title></head><body><main>{body}"
                            "</main></body></html>")
        handler = partial(_QuietHandler, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.root, ignore_errors=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class ArchonProcess:
    """`archon serve` on free loopback ports with a data directory of its own (embedded PostgreSQL)."""

    def __init__(self, *, extra_env: dict[str, str] | None = None) -> None:
        # Outside pytest's basetemp: a concurrent pytest run resets it to 0700, and the embedded server
        # (its own user when we run as root) must traverse every folder above its data directory.
        self.home = Path(tempfile.mkdtemp(prefix="archon-docs-"))
        self.workdir = self.home / "work"
        self.workdir.mkdir()
        self.ports = {"BACKEND_PORT": free_port(), "MCP_PORT": free_port(), "FRONTEND_PORT": free_port()}
        self.env = {
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "ARCHON_DATA_DIR": str(self.home / "data"),
            "EMBEDDING_PROVIDER": "hash",
            "LOG_LEVEL": "INFO",
            "ARCHON_SHUTDOWN_GRACE": "2",
            "HF_HUB_OFFLINE": "1",
            "CRAWL4AI_NO_CLOUD_NOTICE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **{k: str(v) for k, v in self.ports.items()},
            **(extra_env or {}),
        }
        self.log = self.home / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['BACKEND_PORT']}"

    def start(self, timeout: float = 120, *, args: tuple[str, ...] = ()) -> None:
        """Start (`archon serve` plus `args`) and wait until /health answers 200."""
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([*serve_command(), *args], env=self.env, cwd=self.workdir, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"archon serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("archon serve did not become healthy:\n" + self.output())

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def rewrite(self, text: str, site: DocsSite | None = None) -> str:
        """Point a documented command at this server (and the example site at the local one)."""
        ports = {"8080": self.ports["BACKEND_PORT"], "8051": self.ports["MCP_PORT"],
                 "3737": self.ports["FRONTEND_PORT"]}
        text = re.sub(r"http://(?:127\.0\.0\.1|localhost):(8080|8051|3737)\b",
                      lambda m: f"http://127.0.0.1:{ports[m.group(1)]}", text)
        if site is not None:
            text = text.replace("https://docs.example.com/", site.url)
        return text

    def stop(self) -> None:
        """SIGTERM, as `docker stop` sends; the embedded PostgreSQL stops with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def run_bash(script: str, *, env: dict[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run `script` with bash -euo pipefail, as a user pasting the commands would (plus fail-fast)."""
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
