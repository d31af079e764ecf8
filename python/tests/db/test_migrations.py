from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from archon.db import migrations
from archon.db.migrations import MigrationError
from tests.conftest import PgServer


@pytest.fixture
def empty_db(pg_server: PgServer) -> Iterator[str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    with pg_server.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.embedded.server_uri(name)
    pg_server.drop_database(name)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_fresh_database_gets_every_migration_once(empty_db: str) -> None:
    applied = migrations.apply(empty_db)
    assert [m.version for m in applied] == [m.version for m in migrations.discover()]
    tables = _tables(empty_db)
    for table in ("archon_sources", "archon_pages", "archon_chunks", "archon_chunk_embeddings", "archon_projects",
                  "archon_tasks", "archon_credentials", "archon_jobs", "procrastinate_jobs"):
        assert table in tables
    assert migrations.apply(empty_db) == []  # re-run: nothing to do
    assert all(s.applied_at is not None and s.checksum_ok for s in migrations.status(empty_db))


def test_a_changed_applied_migration_is_an_error(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migration"
    shutil.copytree(migrations.default_migrations_dir(), folder)
    migrations.apply(empty_db, folder)
    first = sorted(folder.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrations.apply(empty_db, folder)
    assert migrations.status(empty_db, folder)[0].checksum_ok is False


def test_a_new_migration_is_applied_on_top(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migration"
    shutil.copytree(migrations.default_migrations_dir(), folder)
    migrations.apply(empty_db, folder)
    (folder / "900_extra.sql").write_text("CREATE TABLE archon_extra_probe (id int);")
    assert [m.name for m in migrations.apply(empty_db, folder)] == ["900_extra"]
    assert "archon_extra_probe" in _tables(empty_db)


def test_a_failing_migration_rolls_back_and_is_not_recorded(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migration"
    shutil.copytree(migrations.default_migrations_dir(), folder)
    migrations.apply(empty_db, folder)
    (folder / "901_broken.sql").write_text("CREATE TABLE archon_half (id int); SELECT no_such_function();")
    with pytest.raises(MigrationError, match=r"901_broken\.sql failed"):
        migrations.apply(empty_db, folder)
    assert "archon_half" not in _tables(empty_db)
    assert [s.applied_at for s in migrations.status(empty_db, folder)][-1] is None


def test_concurrent_appliers_apply_each_migration_once(empty_db: str) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(len(migrations.apply(empty_db)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == len(migrations.discover())


def test_job_queue_schema_matches_the_pinned_procrastinate() -> None:
    import procrastinate

    packaged = (Path(procrastinate.__file__).parent / "sql" / "schema.sql").read_text()
    ours = next(migrations.default_migrations_dir().glob("002_*.sql")).read_text()
    assert packaged in ours, "procrastinate's schema changed: add a migration with its upgrade SQL"
