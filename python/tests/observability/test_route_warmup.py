"""FastAPI builds each router's routes at the first request matched through it (~0.7 s of loop time on this
machine); the app's lifespan does it before readiness, so the first API requests do not stall the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon.api.warmup import warm_up_routes
from archon.app import create_app
from tests.conftest import make_settings


async def test_the_lifespan_builds_the_routes_before_the_first_request(database_url: str, tmp_path: Path) -> None:
    cold_app = create_app(make_settings(database_url, tmp_path / "cold"))
    cold = warm_up_routes(cold_app)  # the work a first request would otherwise do on the loop
    warm = warm_up_routes(cold_app)
    assert warm < cold / 4, (cold, warm)

    app: Any = create_app(make_settings(database_url, tmp_path / "data"))
    async with app.router.lifespan_context(app):
        after_startup = warm_up_routes(app)
    assert after_startup < cold / 4, (cold, after_startup)
