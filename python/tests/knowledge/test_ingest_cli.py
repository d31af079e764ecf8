from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg


def test_archon_ingest_indexes_files_and_folders(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    (folder / "guide.md").write_text("# CLI guide\n\nIngested from the command line.\n")
    (folder / "nested" / "notes.txt").write_text("Nested plain text notes.\n")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")  # not a document: skipped by folder expansion
    env = {**os.environ, "COLUMNS": "300", "DATABASE_URL": database_url, "EMBEDDING_PROVIDER": "hash",
           "ARCHON_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "-m", "archon", "ingest", str(folder), "--tag", "cli", "-k", "general"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 files: " in result.stdout and "chunks stored" in result.stdout
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT title, knowledge_type, tags, status FROM archon_sources ORDER BY title").fetchall()
    assert rows == [("CLI guide", "general", ["cli"], "ready"), ("notes.txt", "general", ["cli"], "ready")]
    missing = subprocess.run([sys.executable, "-m", "archon", "ingest", str(tmp_path / "nope.md")], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such file" in missing.stderr
