"""Plain-SQL migrations from `migration/`: numbered, each applied once in a transaction, checksummed."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from archon.errors import ArchonError

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
# Any stable 64-bit number; every Archon process migrating the same database takes this lock.
_LOCK_KEY = 0x41524348_4F4E0001

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS archon_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(ArchonError):
    """The migrations on disk and in the database disagree, or one failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    applied_at: datetime | None
    checksum_ok: bool


def default_migrations_dir() -> Path:
    """`archon/migration` inside an installed wheel, else the repository's `migration/`."""
    here = Path(__file__).resolve()
    packaged = here.parent.parent / "migration"
    if packaged.is_dir():
        return packaged
    for parent in here.parents:
        candidate = parent / "migration"
        if candidate.is_dir() and any(candidate.glob("001_*.sql")):
            return candidate
    raise MigrationError("migration files not found (expected a migration/ folder)")


def discover(directory: Path | None = None) -> list[Migration]:
    """The migration files in version order; duplicate numbers are an error."""
    directory = directory or default_migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share number {version}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, path.stem, path)
    return [found[v] for v in sorted(found)]


def _bootstrap(conn: psycopg.Connection[dict[str, object]]) -> None:
    # Under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide on the type name.
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(_BOOTSTRAP)


def _applied(conn: psycopg.Connection[dict[str, object]]) -> dict[int, dict[str, object]]:
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM archon_schema_migrations").fetchall()
    return {int(str(row["version"])): row for row in rows}


def _verify(migrations: list[Migration], applied: dict[int, dict[str, object]]) -> None:
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(
                f"migration {migration.path.name} was changed after it was applied; "
                "add a new numbered migration instead of editing an applied one"
            )


def apply(conninfo: str, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations; return those applied now. Safe to run from many processes at once."""
    migrations = discover(directory)
    done: list[Migration] = []
    with psycopg.connect(conninfo, row_factory=dict_row, autocommit=True) as conn:
        _bootstrap(conn)
        _verify(migrations, _applied(conn))
        for migration in migrations:
            # A transaction-scoped lock works through transaction-mode poolers (Supabase) too.
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if migration.version in _applied(conn):
                    continue
                log.info("applying migration %s", migration.path.name)
                try:
                    conn.execute(migration.sql.encode())
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
                conn.execute(
                    "INSERT INTO archon_schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                done.append(migration)
    return done


def status(conninfo: str, directory: Path | None = None) -> list[MigrationStatus]:
    """Each migration on disk with when it was applied (None if pending) and whether its checksum matches."""
    migrations = discover(directory)
    with psycopg.connect(conninfo, row_factory=dict_row, autocommit=True) as conn:
        _bootstrap(conn)
        applied = _applied(conn)
    result = []
    for migration in migrations:
        row = applied.get(migration.version)
        applied_at = row["applied_at"] if row else None
        assert applied_at is None or isinstance(applied_at, datetime)
        result.append(MigrationStatus(migration, applied_at, row is None or row["checksum"] == migration.checksum))
    return result
