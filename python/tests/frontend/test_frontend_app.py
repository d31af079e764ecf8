"""The dashboard's static server: runtime config, SPA fallback, security headers."""

from __future__ import annotations

from pathlib import Path

import httpx

from archon.config import Settings
from archon.frontend.app import build_frontend_app


def _client(tmp_path: Path, **env: object) -> httpx.AsyncClient:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "app.js").write_text("console.log(1)")
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    app = build_frontend_app(settings, dist)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:3737")


async def test_config_json_names_the_api_port(tmp_path: Path) -> None:
    async with _client(tmp_path, backend_port=18080) as client:
        res = await client.get("/config.json")
    assert res.status_code == 200
    assert res.json() == {"apiPort": 18080}
    assert res.headers["cache-control"] == "no-store"
    assert "connect-src" in res.headers["content-security-policy"]


async def test_deep_links_fall_back_to_the_app_and_files_are_served(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        deep = await client.get("/projects/123")
        asset = await client.get("/app.js")
        escape = await client.get("/..%2F..%2Fetc%2Fpasswd")
    assert deep.status_code == 200 and "id=root" in deep.text
    assert asset.text == "console.log(1)"
    assert "id=root" in escape.text  # never a file outside dist
    assert "script-src 'self'" in deep.headers["content-security-policy"]


async def test_csp_lets_the_dashboard_reach_the_api_on_the_host_it_was_loaded_from(tmp_path: Path) -> None:
    async with _client(tmp_path, backend_port=18080) as client:
        lan = await client.get("/", headers={"host": "archon.lan:3737"})
        v6 = await client.get("/", headers={"host": "[fd00::1]:3737"})
        evil = await client.get("/", headers={"host": "x;script-src *"})
    assert "http://archon.lan:18080 ws://archon.lan:18080" in lan.headers["content-security-policy"]
    assert "ws://[fd00::1]:18080" in v6.headers["content-security-policy"]
    bad = evil.headers["content-security-policy"]
    assert "script-src *" not in bad and bad.count("script-src") == 1  # a hostile Host header adds nothing
