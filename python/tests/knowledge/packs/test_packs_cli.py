from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg


def _archon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archon", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def test_archon_export_and_import_round_trip(database_url: str, tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text("# Pack guide\n\nKnowledge packs move indexed sources between machines.\n")
    env = {**os.environ, "DATABASE_URL": database_url, "EMBEDDING_PROVIDER": "hash",
           "ARCHON_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}
    assert _archon(env, "ingest", str(doc)).returncode == 0
    with psycopg.connect(database_url) as conn:
        source_id, chunks = conn.execute(
            "SELECT s.id, count(c.id) FROM archon_sources s JOIN archon_chunks c ON c.source_id = s.id "
            "GROUP BY s.id").fetchone()  # type: ignore[misc]
    pack = tmp_path / "out.archon"
    exported = _archon(env, "export", source_id, "-o", str(pack))
    assert exported.returncode == 0, exported.stderr
    assert pack.is_file() and "wrote" in exported.stdout
    kept = _archon(env, "import", str(pack), "--on-conflict", "keep")
    assert kept.returncode == 1 and "already exist" in kept.stderr
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM archon_sources WHERE id = %s", (source_id,))
    imported = _archon(env, "import", str(pack))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {source_id}" in imported.stdout and "vectors reused" in imported.stdout
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM archon_chunks WHERE source_id = %s", (source_id,)).fetchone()
    assert row is not None and row[0] == chunks > 0
    broken = tmp_path / "broken.archon"
    broken.write_bytes(pack.read_bytes()[:100])
    refused = _archon(env, "import", str(broken))
    assert refused.returncode == 1 and "invalid knowledge pack" in refused.stderr
