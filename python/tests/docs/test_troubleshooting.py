"""docs/troubleshooting.md quotes the messages Archon really prints; docs name only real settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from archon.config import all_env_names
from tests.deploy.compose_files import ROOT

TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"
SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "python" / "src" / "archon").rglob("*.py")))

# Fragments of messages quoted on the page, each literal in the code that raises or logs it.
MESSAGES = [
    "would expose Archon without authentication",
    "are set but DATABASE_URL is not: Archon connects to Postgres",
    "pgvector self-check failed",
    "Is the pgvector extension (>= 0.5) installed?",
    "did not start",
    "dropped handles of dead processes",
    "the local embedding model is not installed: pip install 'archon[local]'",
    "send Authorization: Bearer <ARCHON_API_KEY>",
    "upload exceeds MAX_UPLOAD_SIZE",
    "unsupported file type; upload PDF, DOCX, Markdown, plain text, HTML or",
    "send multipart/form-data with one or more `file` fields",
    "is internal (loopback, private, link-local or reserved)",
    "the embedding provider's quota is exhausted",
    "the embedding provider rejected the API key",
    "cannot listen on",
]

# Variables that are not Archon settings: the compose file's own (docs/deployment.md) and the dashboard's
# Vite dev server's (docs/dashboard.md).
# Compose-file, benchmark and reliability-suite knobs: documented, but not read by Archon itself.
NOT_SETTINGS = {"ARCHON_PUBLISH_ADDRESS", "ARCHON_API_URL", "ARCHON_BENCH_INGEST_MODEL_PAGES", "ARCHON_CHAOS_RUNS",
                "ARCHON_LOAD_SECONDS", "ARCHON_LOAD_USERS", "ARCHON_OUTAGE_SECONDS", "ARCHON_RELIABILITY",
                "ARCHON_ST_EXAMPLES", "ARCHON_ST_SECONDS", "ARCHON_WS_DROPS", "ARCHON_EMBED_OUTAGE_SECONDS"}


@pytest.mark.parametrize("message", MESSAGES)
def test_quoted_message_is_in_the_page_and_in_the_code(message: str) -> None:
    assert message in TROUBLESHOOTING.read_text(), f"docs/troubleshooting.md no longer explains {message!r}"
    assert message in SOURCE, f"the code no longer says {message!r}: update docs/troubleshooting.md"


def test_docs_mention_only_settings_that_exist() -> None:
    known = set(all_env_names()) | NOT_SETTINGS
    unknown = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        names = set(re.findall(r"\bARCHON_[A-Z0-9_]*[A-Z0-9]\b", page.read_text())) - known
        names = {n for n in names if not n.startswith("ARCHON_BENCH_")}  # bench/run_all.sh's knobs
        if names:
            unknown[page.name] = sorted(names)
    assert unknown == {}, f"docs mention settings Archon does not read: {unknown}"


def _quoted_block(heading: str) -> str:
    """The first fenced block under a `### heading` of the page."""
    section = TROUBLESHOOTING.read_text().split(f"### {heading}\n", 1)[1]
    return section.split("```", 2)[1].split("\n", 1)[1].strip()


def _serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARCHON_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "archon", "serve"], env={**base, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def test_non_loopback_bind_prints_the_documented_message(tmp_path: Path) -> None:
    result = _serve({"ARCHON_HOST": "0.0.0.0"}, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == _quoted_block("Archon refuses to listen on a non-loopback address")


def test_supabase_without_database_url_prints_the_documented_message(tmp_path: Path) -> None:
    secret = "service-role-secret-4f9a"
    result = _serve({"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_KEY": secret}, tmp_path)
    documented = _quoted_block("Supabase settings without DATABASE_URL").removesuffix("...").strip()
    assert result.returncode != 0 and result.stderr.startswith(documented), result.stderr
    assert "Session pooler" in result.stderr and secret not in result.stderr
