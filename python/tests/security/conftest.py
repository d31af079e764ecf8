"""Security suite fixtures: planted canary secrets, a secured app, and a guard that scans every output.

Canaries: the API key (`ARCHON_API_KEY`), a read-only key, the database password (a Postgres role created for the suite)
and a provider key stored as a credential. Every test here runs under `leak_guard`: after the test, no
HTTP response seen through `Recorder`, no log record (as Archon's handlers write it), no log file in the
data directory and no recorded WebSocket/MCP output may contain any canary (raw, base64, URL-encoded).
"""

from __future__ import annotations

import base64
import logging
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from archon.app import create_app
from archon.observability.logging import configure_logging, redactor
from tests.conftest import PgServer, make_settings

API_KEY = f"ak-canary-{uuid.uuid4().hex}"
DB_PASSWORD = f"pw-canary-{uuid.uuid4().hex}"
PROVIDER_KEY = f"sk-canary-{uuid.uuid4().hex}"
READONLY_KEY = f"ro-canary-{uuid.uuid4().hex}"  # an ARCHON_READONLY_API_KEYS entry (S13)
CANARIES = (API_KEY, DB_PASSWORD, PROVIDER_KEY, READONLY_KEY)
AUTH = {"Authorization": f"Bearer {API_KEY}"}
LEAKS: list[str] = []  # session-wide: every leak any test found (reported at the end as well)


def canary_forms() -> list[str]:
    """Each canary as it could leak: raw, base64, URL-encoded."""
    forms: list[str] = []
    for secret in CANARIES:
        forms += [secret, base64.b64encode(secret.encode()).decode(), urllib.parse.quote(secret, safe="")]
    return forms


def find_canary(text: str) -> str | None:
    return next((form for form in canary_forms() if form in text), None)


class Recorder:
    """Every output a test saw: HTTP responses (headers + body), WebSocket frames, MCP results."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.add(f"{response.request.method} {response.request.url.path} -> {response.status_code}",
                 f"{dict(response.headers)}\n{response.text}")

    def add(self, where: str, text: str) -> None:
        self.seen.append((where, text))


class WrittenLog(logging.Handler):
    """What Archon's handlers write: each record passed through the same redacting filter first."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.addFilter(redactor)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + (f" {record.exc_text}" if record.exc_text else ""))


@pytest.fixture(scope="session")
def canary_db_role(pg_server: PgServer) -> str:
    """A login role whose password is the DB canary (the embedded server trusts local logins, so the
    password is never checked, but it is in every DATABASE_URL the suite hands to Archon)."""
    role = f"canary_{uuid.uuid4().hex[:8]}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'")
    return role


@pytest.fixture
def canary_database_url(database_url: str, canary_db_role: str) -> str:
    """The test's fresh database, reached as the canary role with the canary password."""
    parts = urllib.parse.urlsplit(database_url)
    host = parts.netloc.split("@", 1)[1]  # empty for a Unix socket (then `?host=<dir>` carries it)
    netloc = f"{canary_db_role}:{DB_PASSWORD}@{host}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(autouse=True)
def leak_guard(tmp_path: Path, recorder: Recorder) -> Iterator[None]:
    """Archon's real logging at DEBUG into the test's data dir; afterwards scan every output for canaries."""
    log_dir = tmp_path / "data" / "logs"
    configure_logging("DEBUG", log_dir, stream=None, secrets=[API_KEY, READONLY_KEY])
    written = WrittenLog()
    root = logging.getLogger()
    root.addHandler(written)
    yield
    root.removeHandler(written)
    for handler in list(root.handlers):
        if getattr(handler, "_archon", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.WARNING)
    found: list[str] = []
    for where, text in recorder.seen:
        if (form := find_canary(text)) is not None:
            found.append(f"{where}: {form[:12]}...")
    for line in written.lines:
        if (form := find_canary(line)) is not None:
            found.append(f"log line {line[:80]!r}")
    for path in tmp_path.rglob("*.log*"):
        if path.is_file() and (form := find_canary(path.read_text(errors="replace"))) is not None:
            found.append(f"file {path.name}")
    LEAKS.extend(found)
    assert not found, f"canary secrets leaked: {found}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEAKS:  # pragma: no cover - a failing test already reported each one
        print(f"\nsecurity suite: {len(LEAKS)} canary leak(s): {LEAKS}")


def secured_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    """Settings with the canary API key, the canary DB URL and the test's data dir."""
    return make_settings(database_url, tmp_path / "data", ARCHON_API_KEY=API_KEY, **overrides)


@pytest.fixture
async def secured_app(canary_database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The real app with ARCHON_API_KEY set, reached through the canary database role."""
    application = create_app(secured_settings(canary_database_url, tmp_path))
    async with application.router.lifespan_context(application):
        yield application


def asgi_client(app: Any, recorder: Recorder, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An in-process client whose every response is recorded for the leak guard."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://127.0.0.1:8080", headers=headers or {},
                             event_hooks={"response": [recorder.hook]}, timeout=30)
