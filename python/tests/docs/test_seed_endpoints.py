"""The seed's `Testing Endpoints` curl commands, exactly as the seed writes them, against `archon serve`.

Only the host and port are rewritten (to the test server). `test.pdf` is a real one-page PDF.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.deploy.compose_files import ROOT
from tests.docs.live import ArchonProcess, minimal_pdf, run_bash
from tests.docs.markdown_blocks import code_blocks

SEED = ROOT.parent / "shared" / "seed" / "server-architecture.md"

# The seed's block (server-architecture.md, "### Testing Endpoints"), kept here so the test runs where
# the seed is not checked out; test_vendored_copy_matches_the_seed compares them when it is.
SEED_COMMANDS = '''# Test health endpoint
curl http://localhost:8080/health

# Test document upload
curl -X POST "http://localhost:8080/api/documents/upload" \\
  -F "file=@test.pdf" \\
  -F "knowledge_type=technical" \\
  -F "tags=[\\"test\\"]"

# Test RAG query
curl -X POST "http://localhost:8080/api/rag/query" \\
  -H "Content-Type: application/json" \\
  -d '{"query": "How to install Python?", "limit": 5}'
'''


def _commands() -> list[str]:
    """One string per command (comments dropped, continuations kept)."""
    return [c.strip() for c in re.split(r"^# .*$", SEED_COMMANDS, flags=re.M) if c.strip()]


def test_vendored_copy_matches_the_seed() -> None:
    if not SEED.exists():
        pytest.skip(f"{SEED} is not checked out here")
    section = SEED.read_text().split("### Testing Endpoints", 1)[1]
    assert code_blocks(section)[0].body == SEED_COMMANDS


def test_seed_commands_succeed_as_written(archon_server: ArchonProcess) -> None:
    (archon_server.workdir / "test.pdf").write_bytes(
        minimal_pdf("How to install Python: run apt-get install python3 on Debian."))
    health, upload, query = (archon_server.rewrite(c) for c in _commands())
    assert "localhost:8080" not in health + upload + query

    def run(command: str) -> dict[str, object]:
        # -w appends the status code: the seed's plain curl exits 0 on 4xx, so check it explicitly.
        result = run_bash(command + " -sS -w '\\n%{http_code}'", env=archon_server.env, cwd=archon_server.workdir,
                          timeout=60)
        assert result.returncode == 0, result.stderr
        body, status = result.stdout.rsplit("\n", 1)
        assert status == "200", f"{command}\n-> HTTP {status}: {body}\n{archon_server.output()}"
        return dict(httpx.Response(200, content=body.encode()).json())

    assert run(health)["status"] == "healthy"
    progress_id = run(upload)["progressId"]
    deadline = time.monotonic() + 90
    while True:
        job = httpx.get(f"{archon_server.api}/api/progress/{progress_id}", timeout=10).json()
        if job["status"] in ("completed", "error", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["status"] == "completed", job
    results = run(query)
    text = str(results)
    assert "apt-get install python3" in text, results
    sources = httpx.get(f"{archon_server.api}/api/knowledge-items", timeout=10).json()
    assert "test" in str(sources) and "test.pdf" in str(sources)
