"""Shared fixtures: one embedded Postgres per test session, a fresh database per test.

Each test gets its own database cloned from a migrated template (CREATE DATABASE ... TEMPLATE takes
tens of milliseconds), so tests are isolated without mocking anything and the app under test uses
its own pool exactly as in production.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from psycopg.conninfo import conninfo_to_dict, make_conninfo

os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from archon.config import Settings
from archon.db import migrations
from archon.db.embedded import EmbeddedPostgres
from archon.runtime import Runtime

TEMPLATE = "archon_template"


def pytest_configure(config: pytest.Config) -> None:
    """Give each pytest run its own temp root: pytest prunes all but the newest three runs' folders under
    the shared default root, which would delete the embedded Postgres of a run still going."""
    if not config.option.basetemp:
        config.option.basetemp = f"/tmp/archon-pytest-{os.getpid()}"


def pytest_unconfigure(config: pytest.Config) -> None:
    base = str(config.option.basetemp or "")
    if base.startswith("/tmp/archon-pytest-") and not os.environ.get("ARCHON_KEEP_TEST_TMP"):
        shutil.rmtree(base, ignore_errors=True)


class PgServer:
    """The session's embedded server and a factory of fresh, migrated databases."""

    def __init__(self, embedded: EmbeddedPostgres) -> None:
        self.embedded = embedded

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.embedded.server_uri("postgres"), autocommit=True)

    def create_database(self) -> tuple[str, str]:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return name, self.embedded.server_uri(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    data_dir = tmp_path_factory.mktemp("pg")
    embedded = EmbeddedPostgres(data_dir)
    embedded.start()
    server = PgServer(embedded)
    with server.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrations.apply(embedded.server_uri(TEMPLATE))
    yield server
    embedded.stop()


@pytest.fixture
def database_url(pg_server: PgServer) -> Iterator[str]:
    name, url = pg_server.create_database()
    yield url
    pg_server.drop_database(name)


def make_settings(database_url: str | None, data_dir: Path, **overrides: object) -> Settings:
    """Test settings: no .env file, the deterministic embedder, no background worker unless asked."""
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "embedding_provider": "hash",
        "embedding_onnx": False,  # no background ONNX export in tests that use the local model (own test)
        "run_worker": False,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 2.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    yield rt
    await rt.stop()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    """The real FastAPI app with its lifespan running."""
    from archon.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client driving the ASGI app in-process (no server socket)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn server on a free loopback port, for WebSocket and MCP HTTP clients."""

    def __init__(self, asgi_app: object, *, lifespan: str = "off") -> None:
        self.port = free_port()
        config = uvicorn.Config(asgi_app, host="127.0.0.1", port=self.port, lifespan=lifespan,  # type: ignore[arg-type]
                                log_config=None, ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        async with asyncio.timeout(20):
            while not self.server.started:
                if self.task.done():
                    await self.task
                    raise RuntimeError("server did not start")
                await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@pytest.fixture
async def live_api(app: object) -> AsyncIterator[LiveServer]:
    """The app (lifespan already running via `app`) served on a real socket."""
    async with LiveServer(app) as server:
        yield server


@asynccontextmanager
async def database_down(database_url: str) -> AsyncIterator[None]:
    """An outage of this test's database: new connections are refused and existing ones are terminated."""
    params = conninfo_to_dict(database_url)
    name = params["dbname"]
    params["dbname"] = "postgres"
    async with await psycopg.AsyncConnection.connect(make_conninfo("", **params), autocommit=True) as admin:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
