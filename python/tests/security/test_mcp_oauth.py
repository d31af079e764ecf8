"""S16: MCP OAuth resource-server mode (ARCHON_MCP_OAUTH_ISSUER). The test is the issuer: an RSA key of its
own, its JWKS served on 127.0.0.1. No token -> 401 + `WWW-Authenticate` naming the RFC 9728 metadata; wrong
audience, expired, foreign-key, `alg: none` and HMAC-confusion tokens -> 401; a good token works with real MCP
clients over both transports; the client's token never reaches an upstream (the embedding provider stub)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from archon.app import create_app
from tests.conftest import LiveServer
from tests.knowledge.packs.conftest import wait_job
from tests.mcp_server.conftest import http_session, sse_session
from tests.security.conftest import API_KEY, PROVIDER_KEY, secured_settings
from tests.settings.stub_provider import StubProvider

RESOURCE = "http://127.0.0.1:8051/mcp"  # our resource URL as configured (ARCHON_MCP_OAUTH_AUDIENCE)
METADATA = "http://127.0.0.1:8051/.well-known/oauth-protected-resource/mcp"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Issuer:
    """A test authorization server: signs tokens, serves its JWKS, counts JWKS fetches."""

    key: rsa.RSAPrivateKey = field(default_factory=_rsa)
    url: str = ""
    jwks_hits: int = 0

    def jwks(self, request: Request) -> JSONResponse:
        self.jwks_hits += 1
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": "test-key", "use": "sig", "alg": "RS256"}]})

    def token(self, *, aud: str = RESOURCE, exp_in: int = 300, scope: str = "archon:write",
              iss: str | None = None, key: Any = None, alg: str = "RS256", **extra: Any) -> str:
        claims = {"iss": iss or self.url, "aud": aud, "sub": "user-1", "client_id": "test-client",
                  "iat": int(time.time()), "exp": int(time.time()) + exp_in, "scope": scope, **extra}
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg, headers={"kid": "test-key"})


class HeaderRecorder:
    """Wraps the provider stub and keeps every header of every request it received."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.headers += [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            self.headers.append(("path", scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    it = Issuer()
    async with LiveServer(Starlette(routes=[Route("/jwks.json", it.jwks)])) as server:
        it.url = server.url
        yield it


@pytest.fixture
async def provider() -> AsyncIterator[tuple[str, StubProvider, HeaderRecorder]]:
    stub = StubProvider(PROVIDER_KEY, dimensions=64)
    recorder = HeaderRecorder(stub.app)
    async with LiveServer(recorder) as server:
        yield server.url, stub, recorder


@pytest.fixture
async def oauth_mcp(canary_database_url: str, tmp_path: Path, issuer: Issuer,
                    provider: tuple[str, StubProvider, HeaderRecorder]) -> AsyncIterator[tuple[FastAPI, LiveServer]]:
    """The app in OAuth mode (plus the static key), embedding through the provider stub; MCP on a socket."""
    settings = secured_settings(
        canary_database_url, tmp_path, ARCHON_MCP_OAUTH_ISSUER=issuer.url,
        ARCHON_MCP_OAUTH_JWKS_URL=f"{issuer.url}/jwks.json", ARCHON_MCP_OAUTH_AUDIENCE=RESOURCE,
        ARCHON_RATE_LIMIT_ENABLED=False, run_worker=True, embedding_provider="openai", embedding_model="stub-embed",
        embedding_base_url=f"{provider[0]}/v1", openai_api_key=PROVIDER_KEY, embedding_dimensions=64)
    application = create_app(settings)
    async with (application.router.lifespan_context(application),
                LiveServer(application.state.mcp_http_app, lifespan="on") as live):
        yield application, live


async def test_no_token_gets_401_with_resource_metadata(oauth_mcp: tuple[FastAPI, LiveServer],
                                                        issuer: Issuer) -> None:
    _, live = oauth_mcp
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            metadata = await http.get(path)
            assert metadata.status_code == 200, path
            body = metadata.json()
            assert body["resource"] == RESOURCE and body["authorization_servers"] == [issuer.url]
            assert body["bearer_methods_supported"] == ["header"]
        for method, path in (("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/sse"),
                             ("POST", "/messages/?session_id=00000000000000000000000000000000")):
            response = await http.request(method, path, headers=ACCEPT, json=INITIALIZE)
            assert response.status_code == 401, (method, path, response.status_code)
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer ") and f'resource_metadata="{METADATA}"' in challenge, challenge
            assert response.json()["error"] == "invalid_token"


async def test_wrong_audience_expired_and_forged_tokens_get_401(oauth_mcp: tuple[FastAPI, LiveServer],
                                                                issuer: Issuer) -> None:
    _, live = oauth_mcp
    public_pem = issuer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    bad = {
        "wrong audience": issuer.token(aud="http://127.0.0.1:9999/mcp"),
        "audience of another service": issuer.token(aud="https://api.other.example"),
        "expired": issuer.token(exp_in=-120),
        "wrong issuer": issuer.token(iss="http://evil.example"),
        "signed by another key": issuer.token(key=_rsa()),
        "alg none": jwt.encode({"iss": issuer.url, "aud": RESOURCE, "exp": now + 300}, None, algorithm="none",
                               headers={"kid": "test-key"}),
        "HMAC with the public key": _hmac_confusion(issuer.url, public_pem),
        "no exp": jwt.encode({"iss": issuer.url, "aud": RESOURCE, "sub": "u"}, issuer.key, algorithm="RS256",
                             headers={"kid": "test-key"}),
        "garbage": "not-a-jwt",
        "static key plus suffix": API_KEY + "x",
    }
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        for name, token in bad.items():
            auth = {"Authorization": f"Bearer {token}"}
            response = await http.post("/mcp", headers={**ACCEPT, **auth}, json=INITIALIZE)
            assert response.status_code == 401, f"{name}: {response.status_code}"
            assert "resource_metadata=" in response.headers["www-authenticate"]
            sse = await http.get("/sse", headers=auth)
            assert sse.status_code == 401, f"{name} on /sse: {sse.status_code}"
        good = await http.post("/mcp", headers={**ACCEPT, "Authorization": f"Bearer {issuer.token()}"},
                               json=INITIALIZE)
        assert good.status_code == 200, good.text
    assert issuer.jwks_hits >= 1  # keys came from the JWKS endpoint (cached after the first fetch)
    print(f"\nS16: {len(bad)} bad tokens x 2 transports -> 401; JWKS fetched {issuer.jwks_hits} time(s)")


def _hmac_confusion(issuer_url: str, public_pem: bytes) -> str:
    # The classic attack: sign HS256 with the RSA public key as the shared secret. PyJWT refuses to even
    # encode with a PEM key, so the token is assembled by hand.
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test-key"}).encode())
    payload = b64(json.dumps({"iss": issuer_url, "aud": RESOURCE, "exp": int(time.time()) + 300}).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_good_token_works_with_real_mcp_clients_and_scopes_apply(oauth_mcp: tuple[FastAPI, LiveServer],
                                                                      issuer: Issuer) -> None:
    application, live = oauth_mcp
    all_tools = {t.name for t in application.state.mcp.tool_defs}
    read_tools = {t.name for t in application.state.mcp.tool_defs if t.read_only}
    writer = {"Authorization": f"Bearer {issuer.token(scope='archon:read archon:write')}"}
    reader = {"Authorization": f"Bearer {issuer.token(scope='archon:read')}"}
    title = f"oauth-{uuid.uuid4().hex[:8]}"
    async with http_session(f"{live.url}/mcp", headers=writer) as session:
        assert {t.name for t in (await session.list_tools()).tools} == all_tools
        made = await session.call_tool("create_project", {"title": title})
        assert not made.is_error, made.content
    async with sse_session(f"{live.url}/sse", headers=writer) as session:
        listed = await session.call_tool("list_projects", {})
        assert not listed.is_error and title in str(listed.structured_content)
    # A token without the write scope is read-only, exactly like ARCHON_READONLY_API_KEYS.
    async with http_session(f"{live.url}/mcp", headers=reader) as session:
        assert {t.name for t in (await session.list_tools()).tools} == read_tools
        refused = await session.call_tool("create_project", {"title": "nope"})
        assert refused.is_error and "read-only" in str(refused.content)
    # The static key keeps working in OAuth mode.
    async with http_session(f"{live.url}/mcp", headers={"Authorization": f"Bearer {API_KEY}"}) as session:
        assert {t.name for t in (await session.list_tools()).tools} == all_tools


async def test_client_token_is_never_passed_upstream(oauth_mcp: tuple[FastAPI, LiveServer], issuer: Issuer,
                                                     provider: tuple[str, StubProvider, HeaderRecorder]) -> None:
    application, live = oauth_mcp
    _, stub, recorder = provider
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1:8080",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as api:
        doc = b"# Router\n\nConfigure the router with a routes table and a fallback handler.\n"
        upload = await api.post("/api/documents/upload", files={"file": ("router.md", doc, "text/markdown")})
        assert upload.status_code == 200, upload.text
        job = await wait_job(application.state.runtime, upload.json()["progressId"])
        assert job.status == "completed", job
    token = issuer.token()
    seen_before = len(stub.requests)
    async with http_session(f"{live.url}/mcp", headers={"Authorization": f"Bearer {token}"}) as session:
        result = await session.call_tool("search_knowledge", {"query": "how do I configure the router"})
        assert not result.is_error, result.content
    embeddings = [auth for path, auth in stub.requests[seen_before:] if path == "/v1/embeddings"]
    assert embeddings, "the search never reached the embedding provider: the probe proves nothing"
    assert all(auth == f"Bearer {PROVIDER_KEY}" for auth in embeddings)  # Archon's own credential
    signature = token.rsplit(".", 1)[1]
    leaked = [(k, v[:40]) for k, v in recorder.headers if token in v or signature in v]
    assert not leaked, f"the client's token reached the upstream: {leaked}"
    print(f"\nS16 passthrough probe: {len(embeddings)} upstream embedding call(s), "
          f"{len(recorder.headers)} headers inspected, 0 carry the client token")
