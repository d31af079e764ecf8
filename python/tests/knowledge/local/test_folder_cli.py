from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg


def test_archon_ingest_folder_source_then_rerun_only_changed(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / ".gitignore").write_text("private/\n")
    (folder / "private").mkdir()
    (folder / "private" / "keys.md").write_text("# Keys\n\nnever indexed\n")
    (folder / "a.md").write_text("# Alpha\n\nFirst note.\n")
    (folder / "b.txt").write_text("Second note.\n")
    env = {**os.environ, "DATABASE_URL": database_url, "EMBEDDING_PROVIDER": "hash",
           "ARCHON_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}  # no ARCHON_LOCAL_SOURCE_ROOTS
    command = [sys.executable, "-m", "archon", "ingest", "--folder-source", str(folder)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "2 file(s) indexed, 0 unchanged" in first.stdout
    (folder / "b.txt").write_text("Second note, edited.\n")
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert "1 file(s) indexed, 1 unchanged" in second.stdout
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT s.source_type, count(p.id) FROM archon_sources s JOIN archon_pages p "
                            "ON p.source_id = s.id GROUP BY 1").fetchall()
    assert rows == [("folder", 2)]
    refused = subprocess.run([*command[:-1], str(folder / "a.md")], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "folders only" in refused.stderr
