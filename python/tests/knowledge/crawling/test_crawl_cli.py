"""`archon crawl` in a subprocess: progress bar, summary line, exit codes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.knowledge.crawling.site import Site, build_docs


async def _archon(database_url: str, data_dir: Path, site: Site, *args: str) -> tuple[int, str]:
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url, "ARCHON_DATA_DIR": str(data_dir),
           "EMBEDDING_PROVIDER": "hash", "ARCHON_CRAWL_ALLOWED_HOSTS": site.hostport, "LOG_LEVEL": "WARNING",
           "CRAWL4_AI_BASE_DIRECTORY": os.environ.get("CRAWL4_AI_BASE_DIRECTORY", str(data_dir))}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "archon", "crawl", *args, env=env,
                                                cwd=data_dir.parent, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_archon_crawl_command(database_url: str, tmp_path: Path, site: Site, canary: Site) -> None:
    build_docs(site)
    code, out = await _archon(database_url, tmp_path / "data", site, site.url("/docs/"), "--type", "recursive",
                              "--depth", "1", "--tag", "cli")
    assert code == 0, out
    assert "crawled 3 page(s)" in out and "src_" in out

    code, out = await _archon(database_url, tmp_path / "data", site, canary.url("/x"))
    assert code == 1 and "url:" in out and canary.hits == []

    code, out = await _archon(database_url, tmp_path / "data", site, site.url("/docs/"), "--type", "deep")
    assert code == 2 and "crawl_type" in out
