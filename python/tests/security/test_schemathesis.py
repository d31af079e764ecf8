"""S11: schemathesis (examples, coverage and fuzzing phases, bounded) against the live API's /openapi.json:
0 server errors, status codes, content types and bodies conform to the schema, bad input is rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon.app import create_app
from tests.conftest import LiveServer
from tests.security.conftest import API_KEY, secured_settings
from tests.security.schemathesis_run import run_schemathesis


@pytest.fixture
async def live(canary_database_url: str, tmp_path: Path) -> Any:
    application = create_app(secured_settings(canary_database_url, tmp_path, ARCHON_RATE_LIMIT_ENABLED=False))
    async with application.router.lifespan_context(application), LiveServer(application) as server:
        yield server


async def test_schemathesis_finds_no_server_errors_or_schema_violations(live: LiveServer, tmp_path: Path) -> None:
    result = await run_schemathesis(live.url, tmp_path / "st", max_examples=5, phases="examples,coverage,fuzzing",
                                    max_time=60, headers={"Authorization": f"Bearer {API_KEY}"})
    tail = result.output[-6000:]
    assert "operations" in result.output.lower() or result.cases, tail
    assert result.exit_code == 0, tail
