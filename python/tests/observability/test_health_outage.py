"""/health answers 503 while the database is down and returns to 200 by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from archon.app import create_app
from archon.db import migrations
from archon.db.embedded import EmbeddedPostgres
from tests.conftest import make_settings


async def _status(client: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    response = await client.get("/health")
    return response.status_code, response.json()


async def test_health_reports_a_database_outage_and_recovers(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path / "outage")
    url = await asyncio.to_thread(embedded.start)
    await asyncio.to_thread(migrations.apply, url)
    app = create_app(make_settings(url, tmp_path / "data"))
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            assert (await _status(client))[0] == 200
            await asyncio.to_thread(embedded.stop)
            status, body = await _status(client)
            assert status == 503
            assert body["status"] == "unhealthy" and body["failing"] == ["database"]
            assert str(body["services"]["database"]).startswith("unavailable")  # type: ignore[index]
            await asyncio.to_thread(embedded.start)
            async with asyncio.timeout(30):
                while (await _status(client))[0] != 200:
                    await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(embedded.stop)
