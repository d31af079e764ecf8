"""S11 (long form): schemathesis with every phase including stateful, more examples, authenticated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon.app import create_app
from tests.conftest import LiveServer
from tests.reliability.conftest import env_int
from tests.security.conftest import (
    API_KEY,
    secured_settings,
)
from tests.security.schemathesis_run import run_schemathesis


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> Any:
    application = create_app(secured_settings(database_url, tmp_path, ARCHON_RATE_LIMIT_ENABLED=False))
    async with application.router.lifespan_context(application), LiveServer(application) as server:
        yield server


async def test_schemathesis_all_phases(live: LiveServer, tmp_path: Path) -> None:
    result = await run_schemathesis(live.url, tmp_path / "st", max_examples=env_int("ARCHON_ST_EXAMPLES", 25),
                                    phases="examples,coverage,fuzzing,stateful",
                                    max_time=env_int("ARCHON_ST_SECONDS", 240),
                                    headers={"Authorization": f"Bearer {API_KEY}"})
    assert result.exit_code == 0, result.output[-6000:]
