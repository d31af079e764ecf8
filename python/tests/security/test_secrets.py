"""S17/S18: canary secrets (API key, database password, a stored provider key) never appear in any
response, log line or log file - on normal reads, on every credential route, and on error paths (a
provider that echoes the key back, a database that cannot be reached). The leak guard in conftest
scans everything each test saw; these tests add the error paths and the credential API contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from archon.app import create_app
from tests.conftest import LiveServer, free_port
from tests.security.conftest import (
    AUTH,
    DB_PASSWORD,
    PROVIDER_KEY,
    Recorder,
    asgi_client,
    find_canary,
    secured_settings,
)


def echoing_provider() -> Starlette:
    """An OpenAI-compatible stub that, like real providers, quotes the key it was given in its 401."""

    async def reject(request: Request) -> JSONResponse:
        key = request.headers.get("authorization", "")
        return JSONResponse({"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}, status_code=401)

    return Starlette(routes=[Route("/v1/models", reject), Route("/v1/embeddings", reject, methods=["POST"])])


async def test_credential_routes_never_return_the_secret(secured_app: FastAPI, recorder: Recorder) -> None:
    async with asgi_client(secured_app, recorder, AUTH) as client:
        created = await client.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": PROVIDER_KEY})
        assert created.status_code == 201, created.text
        view = created.json()
        assert view["has_value"] is True and view.get("last4") == PROVIDER_KEY[-4:]
        reads = [await client.get("/api/credentials"), await client.get("/api/credentials/OPENAI_API_KEY"),
                 await client.get("/api/settings"), await client.get("/api/mcp/config"),
                 await client.get("/api/mcp/status"), await client.get("/health"), await client.get("/metrics"),
                 await client.put("/api/credentials/OPENAI_API_KEY", json={"value": PROVIDER_KEY}),
                 await client.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": PROVIDER_KEY})]
        assert [r.status_code for r in reads][:7] == [200] * 7
        assert reads[-1].status_code == 409
        for response in reads:
            assert find_canary(response.text) is None and "encrypted_value" not in response.text
    async with secured_app.state.runtime.db.connection() as conn:
        stored = await (await conn.execute("SELECT * FROM archon_credentials")).fetchall()
    assert stored and all(find_canary(str(row)) is None for row in stored), "the secret is stored in plaintext"


async def test_provider_error_that_echoes_the_key_is_scrubbed(secured_app: FastAPI, recorder: Recorder) -> None:
    async with LiveServer(echoing_provider()) as provider, asgi_client(secured_app, recorder, AUTH) as client:
        await client.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": PROVIDER_KEY})
        for mode in ("models", "embedding"):
            result = await client.post("/api/credentials/OPENAI_API_KEY/test",
                                       json={"base_url": f"{provider.url}/v1", "mode": mode})
            assert result.status_code in (200, 422), result.text
            assert result.status_code != 200 or result.json().get("ok") is False
    # The leak guard asserts the response and every log line stayed clean.


async def test_unreachable_database_errors_hide_the_password(canary_database_url: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    dead_url = f"postgresql://canary:{DB_PASSWORD}@127.0.0.1:{port}/archon"
    application: Any = create_app(secured_settings(dead_url, tmp_path))
    with pytest.raises(Exception) as failed:
        async with asyncio.timeout(60), application.router.lifespan_context(application):
            pass
    text = f"{failed.value!r} {failed.value} {failed.value.__cause__!r}"
    assert find_canary(text) is None, "start-up error carries the database password"
