"""Fixtures of the settings tests: a planted canary secret and an HTTP client that records every response.

The canary is stored as a credential by the tests; no response, log record or log file may ever
contain it (nor its base64 or URL-encoded forms).
"""

from __future__ import annotations

import base64
import logging
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from archon.observability.logging import configure_logging

CANARY = f"sk-canary-{uuid.uuid4().hex}"


def canary_forms(secret: str = CANARY) -> list[str]:
    """The secret as it could leak: raw, base64, URL-encoded."""
    return [secret, base64.b64encode(secret.encode()).decode(), urllib.parse.quote(secret, safe="")]


def assert_no_canary(text: str, where: str) -> None:
    for form in canary_forms():
        assert form not in text, f"the canary secret leaked into {where}"


class Recorder:
    """Every response body and header seen by the test client."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.seen.append(f"{response.request.method} {response.request.url} {response.status_code}\n"
                         f"{dict(response.headers)}\n{response.text}")

    def check(self) -> None:
        for text in self.seen:
            assert_no_canary(text, "an HTTP response")


class RawCapture(logging.Handler):
    """Every log line as our code wrote it, before Archon's redaction (which is only a safety net)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        self.lines.append(text)


@pytest.fixture(autouse=True)
def canary_guard(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """Archon's real logging (stream + rotating file in the test's data dir, with redaction) at DEBUG; afterwards
    neither what our code logged (before redaction), nor caplog's records, nor the log file hold the canary."""
    log_dir = tmp_path / "data" / "logs"  # the `settings` fixture's data dir
    configure_logging("DEBUG", log_dir, stream=None)
    caplog.set_level(logging.DEBUG)
    raw = RawCapture()
    root = logging.getLogger()
    root.handlers.insert(0, raw)  # first: sees each record before the redacting filter edits it
    yield log_dir / "archon.log"
    root.removeHandler(raw)
    for handler in list(root.handlers):
        if getattr(handler, "_archon", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.WARNING)
    # caplog keeps records per phase; the test body's are under "call" (this teardown's list is empty).
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = "\n".join(r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in records)
    assert_no_canary(logged, "a log record")
    assert_no_canary("\n".join(raw.lines), "a log record (before redaction)")
    log_file = log_dir / "archon.log"
    if log_file.exists():
        assert_no_canary(log_file.read_text(encoding="utf-8", errors="replace"), "the log file")


@pytest.fixture
async def api(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client over the real app; at teardown no response body or header held the canary."""
    recorder = Recorder()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080",
                                 event_hooks={"response": [recorder.hook]}) as client:
        yield client
    recorder.check()
    assert recorder.seen, "the test made no request"
