"""Auth, CORS, error rendering and bind refusal on the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets
from fastapi import FastAPI, WebSocket

from archon.app import create_app
from archon.config import Settings
from archon.errors import ConfigurationError, NotFound
from tests.conftest import LiveServer, make_settings

KEY = "test-api-key-7f3a9c"


async def _probe_routes(app: FastAPI) -> None:
    """Routes added for these tests only: they exercise the error handlers through real requests."""

    async def missing() -> None:
        raise NotFound("no such thing")

    async def crash() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/api/_probe/missing", missing)
    app.add_api_route("/api/_probe/crash", crash)


@pytest.fixture
async def secured(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(database_url, tmp_path, ARCHON_API_KEY=KEY))
    await _probe_routes(app)
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://127.0.0.1:8080", **kwargs)  # type: ignore[arg-type]


async def test_api_routes_require_the_bearer_token(secured: FastAPI) -> None:
    async with _client(secured) as client:
        missing = await client.get("/api/_probe/missing")
        wrong = await client.get("/api/_probe/missing", headers={"Authorization": "Bearer nope"})
        right = await client.get("/api/_probe/missing", headers={"Authorization": f"Bearer {KEY}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert right.status_code == 404 and right.json() == {"error": "no such thing", "detail": None}


async def test_health_metrics_and_docs_stay_open_with_a_key(secured: FastAPI) -> None:
    async with _client(secured) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200


async def test_websockets_require_the_token(secured: FastAPI) -> None:
    async with LiveServer(secured) as server:
        ws_url = server.url.replace("http", "ws") + "/api/_probe/ws"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url):
                pass
        assert refused.value.response.status_code == 403
        # With the token the handshake reaches a real WebSocket route added for the test.

        async def echo(ws: WebSocket) -> None:
            await ws.accept()
            await ws.send_text("ok")
            await ws.close()

        secured.add_api_websocket_route("/api/_probe/ws", echo)
        async with websockets.connect(ws_url + f"?token={KEY}") as ws:
            assert await ws.recv() == "ok"
        async with websockets.connect(ws_url, subprotocols=[websockets.Subprotocol(f"bearer.{KEY}")]) as ws:
            assert await ws.recv() == "ok"
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url + "?token=wrong"):
                pass


async def test_auth_is_off_without_a_key(app: FastAPI) -> None:
    await _probe_routes(app)
    async with _client(app) as client:
        assert (await client.get("/api/_probe/missing")).status_code == 404


async def test_unexpected_errors_are_json_without_internals(app: FastAPI) -> None:
    await _probe_routes(app)
    async with _client(app) as client:
        response = await client.get("/api/_probe/crash")
    assert response.status_code == 500
    assert response.json()["error"] == "internal error"
    assert "passwd" not in response.text and "Traceback" not in response.text


async def test_unknown_routes_and_methods_are_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/definitely-not-here")
    assert response.status_code == 404 and response.json()["error"] == "Not Found"
    response = await client.delete("/health")
    assert response.status_code == 405 and "error" in response.json()


async def test_cors_allows_only_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = await client.options("/api/x", headers={"Origin": "http://localhost:3737", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:3737"
    evil = await client.options("/api/x", headers={"Origin": "http://evil.test", **preflight})
    assert "access-control-allow-origin" not in evil.headers
    simple = await client.get("/health", headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, ENABLE_CORS=False))
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.get("/health", headers={"Origin": "http://localhost:3737"})
    assert "access-control-allow-origin" not in response.headers


def test_non_loopback_bind_needs_a_key_or_an_explicit_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ARCHON_API_KEY"):
        create_app(make_settings(None, tmp_path, ARCHON_HOST="0.0.0.0"))
    create_app(make_settings(None, tmp_path, ARCHON_HOST="0.0.0.0", ARCHON_API_KEY=KEY))
    create_app(make_settings(None, tmp_path, ARCHON_HOST="0.0.0.0", ARCHON_ALLOW_INSECURE_BIND=True))


async def test_database_errors_become_503(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path))

    async def broken() -> None:
        raise psycopg.OperationalError("connection refused password=hunter2")

    app.add_api_route("/api/_probe/db", broken)
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.get("/api/_probe/db")
    assert response.status_code == 503
    assert response.json()["error"] == "database unavailable"
    assert "hunter2" not in response.text


def test_settings_type_for_tests_is_real(settings: Settings) -> None:
    assert settings.embedding_provider == "hash"
