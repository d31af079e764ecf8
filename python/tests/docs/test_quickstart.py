"""docs/quickstart.md: its shell commands, as written, against a real `archon serve`."""

from __future__ import annotations

import re

import httpx

from tests.deploy.compose_files import ROOT
from tests.docs.live import ArchonProcess, DocsSite, run_bash
from tests.docs.markdown_blocks import code_blocks

QUICKSTART = ROOT / "docs" / "quickstart.md"


def test_quickstart_marks_every_command_it_does_not_run() -> None:
    blocks = code_blocks(QUICKSTART.read_text())
    skipped = [b for b in blocks if b.skip_reason is not None]
    assert all(b.skip_reason for b in skipped), "a not-run marker must say why"
    assert any("make run" in b.body for b in skipped) and any("docker compose up" in b.body for b in skipped)
    runnable = "\n".join(b.body for b in blocks if b.skip_reason is None)
    for needed in ("/health", "/api/knowledge-items/crawl", "/api/rag/query", "/api/documents/upload",
                   "/api/mcp/config", "archon search"):
        assert needed in runnable, f"the quickstart's runnable commands no longer cover {needed}"


def test_quickstart_commands_run_against_a_real_server(archon_server: ArchonProcess, docs_site: DocsSite) -> None:
    blocks = [b for b in code_blocks(QUICKSTART.read_text()) if b.skip_reason is None]
    script = "\n".join(archon_server.rewrite(b.body, docs_site) for b in blocks)
    assert "8080" not in script and "docs.example.com" not in script
    result = run_bash(script, env=archon_server.env, cwd=archon_server.workdir)
    report = f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}" \
             f"\n--- server log\n{archon_server.output()}"
    assert result.returncode == 0, report
    out = result.stdout
    assert re.search(r'"status": ?"healthy"', out), report
    assert "crawl started: " in out, report
    assert re.search(r'"kind": ?"crawl", ?"status": ?"completed"', out), "the crawl did not complete\n" + report
    assert "apt-get install python3" in out, "the search found nothing from the crawled site\n" + report
    assert "progressId" in out, report
    # What the commands did is visible through the API: the crawled site and the uploaded file.
    items = httpx.get(f"{archon_server.api}/api/knowledge-items", timeout=10).json()
    urls = " ".join(str(item) for item in items.get("items", items if isinstance(items, list) else []))
    assert docs_site.url.rstrip("/") in urls and "checklist.md" in urls, items
