"""The process's resources, framework-free: database, queue, embedder, services.

`create_app` (API), `archon worker` and `archon mcp` (stdio) all build one `Runtime` and talk to the
services it holds; nothing else opens pools or starts servers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from archon.config import Settings
from archon.db import migrations, selfcheck
from archon.db.embedded import EmbeddedPostgres
from archon.db.pool import Database
from archon.errors import ConfigurationError
from archon.jobs.queue import JobQueue
from archon.knowledge.embeddings import Embedder, create_embedder

log = logging.getLogger(__name__)

WORKER_MIN_TASKS = 8  # queue tasks one worker process runs at once, at least (jobs beyond the cap wait for a slot)

SUPABASE_HINT = (
    "SUPABASE_URL/SUPABASE_SERVICE_KEY are set but DATABASE_URL is not: Archon connects to Postgres "
    "directly. Set DATABASE_URL to your Supabase project's Session pooler connection string "
    "(Dashboard > Connect > Session pooler, port 5432: "
    "postgresql://postgres.<project-ref>:<db-password>@aws-0-<region>.pooler.supabase.com:5432/postgres). "
    "See docs/supabase.md."
)


def resolve_database(settings: Settings) -> tuple[str | None, EmbeddedPostgres | None]:
    """The configured database URL, or an embedded server to start when none is configured."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
    if settings.supabase_url or settings.supabase_service_key:
        raise ConfigurationError(SUPABASE_HINT)
    return None, EmbeddedPostgres(settings.data_dir)


def prepare_database(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """Start the embedded server if needed, apply migrations, run the pgvector self-check (blocking)."""
    url, embedded = resolve_database(settings)
    if embedded is not None:
        url = embedded.start()
        log.info("embedded PostgreSQL running under %s", embedded.pgdata)
    assert url is not None
    try:
        applied = migrations.apply(url)
        for migration in applied:
            log.info("migration %s applied", migration.path.name)
        selfcheck.check_pgvector(url)
    except Exception:
        if embedded is not None:
            embedded.stop()
        raise
    return url, embedded


@dataclass
class Runtime:
    settings: Settings
    db: Database
    queue: JobQueue
    embedder: Embedder
    embedded: EmbeddedPostgres | None = None
    started_at: float = field(default_factory=time.time)
    shutting_down: bool = False
    # Process-wide state a domain keeps between calls (settings cache, embedders by model id), keyed by domain.
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, *, run_worker: bool | None = None) -> Runtime:
        """Prepare the database and open every resource; `run_worker` defaults to ARCHON_RUN_WORKER."""
        url, embedded = await asyncio.to_thread(prepare_database, settings)
        db = Database(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        queue = JobQueue(url)
        try:
            await db.open()
            await queue.open()
        except Exception:
            await db.close()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        runtime = cls(settings=settings, db=db, queue=queue, embedder=create_embedder(settings), embedded=embedded)
        # After a model switch the active model may differ from the environment's: embed with the active one.
        from archon.settings.embedders import sync_active_embedder

        await sync_active_embedder(runtime)
        if settings.run_worker if run_worker is None else run_worker:
            # Task slots of this worker: the job cap itself is the concurrent_crawl_limit runtime setting
            # (advisory-lock slots, jobs/runner.py), so leave room for raising it without a restart.
            queue.start_worker(runtime, concurrency=max(settings.concurrent_crawl_limit, WORKER_MIN_TASKS),
                               grace_seconds=settings.shutdown_grace_seconds)
        return runtime

    async def stop(self) -> None:
        """Close everything this runtime opened, the embedded server last."""
        self.shutting_down = True
        await self.queue.close()
        await self.db.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            log.info("embedded PostgreSQL stopped")


class RuntimeHolder:
    """Late-bound access to the runtime for objects built before start-up (the MCP server, routers)."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.mcp_running = False  # the HTTP MCP listener (port MCP_PORT) is serving

    def get(self) -> Runtime:
        if self.runtime is None:
            from archon.errors import Unavailable

            raise Unavailable("Archon is starting up; retry in a moment")
        return self.runtime
