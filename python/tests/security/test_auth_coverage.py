"""S12: with ARCHON_API_KEY set, every REST route, every WebSocket and both MCP HTTP transports refuse a
missing or wrong token. Routes are enumerated from the app, so a new unauthenticated route fails here."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Route, WebSocketRoute

from tests.conftest import LiveServer
from tests.security.conftest import API_KEY, AUTH, Recorder, asgi_client

# Open on purpose: liveness/readiness for probes, Prometheus, and the API description.
OPEN_PATHS = {"/health", "/livez", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
BAD_TOKENS: list[dict[str, str]] = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"},
                                    {"Authorization": f"Bearer {API_KEY}x"}, {"Authorization": "Bearer"}]
SAMPLE = {"uuid": "00000000-0000-0000-0000-000000000001", "int": "1", "str": "x"}


def concrete(path: str) -> str:
    """A request path for a route template: ids become a UUID, numbers 1, other parameters `x`."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.endswith("_id") and name not in ("source_id",):
            return SAMPLE["uuid"]
        if name in ("version", "page_id", "model_id"):
            return SAMPLE["int"]
        return SAMPLE["str"]

    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", value, path)


def leaf_routes(app: FastAPI) -> list[tuple[Any, str]]:
    """(route, full path) for every route, through FastAPI's included-router wrappers."""
    found: list[tuple[Any, str]] = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.16x wraps included routers
            for ctx in route.effective_route_contexts():
                path = getattr(ctx.starlette_route, "path", None) or ctx.path or getattr(ctx.original_route, "path", "")
                found.append((ctx.original_route, path))
        elif hasattr(route, "path"):
            found.append((route, route.path))
    return found


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    for route, path in leaf_routes(app):
        if isinstance(route, APIRoute | Route) and not isinstance(route, APIWebSocketRoute | WebSocketRoute):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    routes.append((method, path))
    return routes


def ws_routes(app: FastAPI) -> list[str]:
    return [path for route, path in leaf_routes(app) if isinstance(route, APIWebSocketRoute | WebSocketRoute)]


async def test_every_rest_route_refuses_missing_or_wrong_tokens(secured_app: FastAPI, recorder: Recorder) -> None:
    routes = http_routes(secured_app)
    protected = [(m, p) for m, p in routes if p not in OPEN_PATHS]
    assert len(protected) >= 60, "route enumeration found too few routes"
    outside = [p for _, p in protected if not p.startswith("/api/")]
    assert not outside, f"routes outside /api are not protected by the API key: {outside}"
    refused = 0
    async with asgi_client(secured_app, recorder) as client:
        for method, path in protected:
            for headers in BAD_TOKENS:
                response = await client.request(method, concrete(path), headers=headers, json={})
                assert response.status_code == 401, f"{method} {path} with {headers} -> {response.status_code}"
                assert response.headers.get("www-authenticate") == "Bearer"
                refused += 1
        # The same routes with the right token get past the middleware (anything but 401).
        for method, path in protected:
            if method == "GET":
                response = await client.request(method, concrete(path), headers=AUTH)
                assert response.status_code != 401, f"GET {path} refused a valid token"
                assert response.status_code < 500, f"GET {path} -> {response.status_code}"
    assert refused == len(protected) * len(BAD_TOKENS)


async def test_every_websocket_refuses_missing_or_wrong_tokens(secured_app: FastAPI) -> None:
    paths = ws_routes(secured_app)
    assert len(paths) >= 4
    async with LiveServer(secured_app) as server:
        base = server.url.replace("http", "ws")
        for path in paths:
            url = base + concrete(path)
            for attempt in (url, url + "?token=wrong", url + f"?token={API_KEY}x"):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(attempt, open_timeout=10):
                        pass
                assert refused.value.response.status_code == 403, f"{path}: {refused.value.response.status_code}"
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(url, subprotocols=[websockets.Subprotocol("bearer.wrong")]):
                    pass
            # With the token the handshake is accepted (the route itself may then close for a bad id).
            async with websockets.connect(url + f"?token={API_KEY}", open_timeout=10) as ws:
                assert ws.protocol.state.name in ("OPEN", "CLOSING", "CLOSED")


async def test_both_mcp_transports_refuse_missing_or_wrong_tokens(secured_app: Any) -> None:
    mcp_app = secured_app.state.mcp_http_app
    paths = {r.path for r in mcp_app.routes}
    assert {"/mcp", "/sse"} <= paths, paths
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with LiveServer(mcp_app, lifespan="on") as server, httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for headers in BAD_TOKENS:
            for method, path in (("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/sse"),
                                 ("POST", "/messages/?session_id=00000000000000000000000000000000")):
                response = await http.request(method, path, headers={**accept, **headers}, json=initialize)
                assert response.status_code == 401, f"{method} {path} with {headers} -> {response.status_code}"
        ok = await http.post("/mcp", headers={**accept, **AUTH}, json=initialize)
        assert ok.status_code == 200
