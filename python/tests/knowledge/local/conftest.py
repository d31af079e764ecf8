from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from archon.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    root.mkdir()
    return root


@pytest.fixture
def settings(database_url: str, tmp_path: Path, roots: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, local_source_roots=[str(roots)])


@pytest.fixture
async def api(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def wait_done(client: httpx.AsyncClient, progress_id: str, timeout: float = 90) -> dict:
    import asyncio

    async with asyncio.timeout(timeout):
        while True:
            data = (await client.get(f"/api/progress/{progress_id}")).json()
            if data["status"] in ("completed", "error", "cancelled"):
                return data
            await asyncio.sleep(0.05)
