"""POST /api/credentials/{key}/test against a local OpenAI-compatible stub on 127.0.0.1."""

from __future__ import annotations

import httpx

from archon.settings.provider_check import scrub
from tests.conftest import LiveServer, free_port
from tests.settings.conftest import CANARY, assert_no_canary
from tests.settings.stub_provider import StubProvider


async def test_credential_test_ok_with_real_call(api: httpx.AsyncClient) -> None:
    stub = StubProvider(CANARY)
    async with LiveServer(stub.app) as server:
        await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": CANARY})
        response = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"base_url": f"{server.url}/v1"})
        embed = await api.post("/api/credentials/OPENAI_API_KEY/test",
                               json={"base_url": f"{server.url}/v1", "mode": "embedding", "model": "stub-embed"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["status_code"] == 200 and body["message"] == "ok"
    assert embed.json()["ok"] is True
    assert stub.requests == [("/v1/models", f"Bearer {CANARY}"), ("/v1/embeddings", f"Bearer {CANARY}")]


async def test_credential_test_reports_provider_error_without_key(api: httpx.AsyncClient) -> None:
    stub = StubProvider("sk-the-right-key-0000000000")
    async with LiveServer(stub.app) as server:
        await api.post("/api/credentials", json={"key": "CUSTOM_LLM_KEY", "value": CANARY})
        response = await api.post("/api/credentials/CUSTOM_LLM_KEY/test", json={"base_url": f"{server.url}/v1/"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["status_code"] == 401
    assert "Incorrect API key provided" in body["message"]
    assert CANARY[:8] not in body["message"] and CANARY[-4:] not in body["message"].split("provided:")[1][:40]
    assert_no_canary(response.text, "a key test result")


async def test_credential_test_base_url_from_settings(api: httpx.AsyncClient) -> None:
    stub = StubProvider(CANARY)
    async with LiveServer(stub.app) as server:
        await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": CANARY})
        # The key the embedding settings use is tested against the configured base URL by default.
        await api.put("/api/settings", json={"embedding_base_url": f"{server.url}/v1"})
        response = await api.post("/api/credentials/OPENAI_API_KEY/test")
    assert response.json()["ok"] is True
    assert response.json()["base_url"] == f"{server.url}/v1"


async def test_credential_test_unreachable_and_4xx_paths(api: httpx.AsyncClient) -> None:
    await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": CANARY})
    await api.post("/api/credentials", json={"key": "CUSTOM_LLM_KEY", "value": CANARY})
    port = free_port()  # nothing listens there
    down = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"base_url": f"http://127.0.0.1:{port}/v1"})
    assert down.status_code == 200
    assert down.json()["ok"] is False and down.json()["status_code"] is None
    assert "could not reach" in down.json()["message"]
    missing = await api.post("/api/credentials/ANTHROPIC_API_KEY/test")
    assert missing.status_code == 404
    no_default = await api.post("/api/credentials/CUSTOM_LLM_KEY/test")
    assert no_default.status_code == 422 and "base_url" in no_default.json()["error"]
    bad_url = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"base_url": "file:///etc/passwd"})
    assert bad_url.status_code == 422 and "base_url" in {d["field"] for d in bad_url.json()["detail"]}
    bad_mode = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"mode": "chat"})
    assert bad_mode.status_code == 422
    for metadata in ("http://169.254.169.254/latest", "http://metadata.google.internal/v1", "http://[fe80::1]/v1"):
        refused = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"base_url": metadata})
        assert refused.status_code == 422 and "base_url" in refused.json()["error"], metadata


async def test_credential_test_does_not_relay_non_api_pages(api: httpx.AsyncClient) -> None:
    """The call goes where base_url says: an HTML page there is not copied into the answer."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse("<html>internal admin secret-page-content</html>", status_code=403)

    async with LiveServer(Starlette(routes=[Route("/v1/models", page)])) as server:
        await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": CANARY})
        response = await api.post("/api/credentials/OPENAI_API_KEY/test", json={"base_url": f"{server.url}/v1"})
    body = response.json()
    assert body["ok"] is False and body["status_code"] == 403
    assert "secret-page-content" not in response.text and body["message"] == "403: Forbidden"


def test_scrub_removes_secret_and_its_pieces() -> None:
    secret = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234"
    message = (f"bad key {secret}; provided: sk-proj-********************1234 and AbCdEfGhIjKl; "
               "see https://platform.openai.com/account")
    cleaned = scrub(message, secret)
    assert secret not in cleaned and "AbCdEfGh" not in cleaned and "sk-proj-" not in cleaned
    assert "see https://platform.openai.com/account" in cleaned
