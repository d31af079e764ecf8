"""Bearer-token authentication as ASGI middleware, for HTTP and WebSocket alike."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SUBPROTOCOL_PREFIX = "bearer."


def _token_from_scope(scope: Scope) -> str | None:
    headers: dict[str, str] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if scope["type"] == "websocket":
        # Browsers cannot set headers on a WebSocket: accept `?token=` or a `bearer.<token>` subprotocol.
        query: dict[str, list[str]] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0]
        for proto in headers.get("sec-websocket-protocol", "").split(","):
            proto = proto.strip()
            if proto.startswith(_SUBPROTOCOL_PREFIX):
                return str(proto[len(_SUBPROTOCOL_PREFIX) :])
    return None


def _echo_bearer_subprotocol(scope: Scope, send: Send) -> Send:
    """A client that authenticated with a `bearer.<token>` subprotocol must see it accepted, or it aborts."""
    if scope["type"] != "websocket":
        return send
    offered = [p.strip() for p in dict(scope.get("headers", [])).get(b"sec-websocket-protocol", b"").decode(
        "latin-1").split(",")]
    bearer = next((p for p in offered if p.startswith(_SUBPROTOCOL_PREFIX)), None)
    if bearer is None:
        return send

    async def wrapped(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": bearer}
        await send(message)

    return wrapped


class BearerAuthMiddleware:
    """Requires `Authorization: Bearer <key>` on the paths `protects(path)` selects."""

    def __init__(self, app: ASGIApp, *, api_key: str, protects: Callable[[str], bool]) -> None:
        self.app = app
        self.api_key = api_key.encode()
        self.protects = protects

    def _allowed(self, scope: Scope) -> bool:
        token = _token_from_scope(scope)
        return token is not None and hmac.compare_digest(token.encode(), self.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # CORS preflights carry no credentials
            return
        if self._allowed(scope):
            await self.app(scope, receive, _echo_bearer_subprotocol(scope, send))
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
            return
        body = json.dumps({"error": "unauthorized", "detail": "send Authorization: Bearer <ARCHON_API_KEY>"}).encode()
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
        })
        await send({"type": "http.response.body", "body": body})


def api_paths(path: str) -> bool:
    """The REST app protects /api and everything under it; /health, /metrics and docs stay open."""
    return path == "/api" or path.startswith("/api/")


def all_paths(path: str) -> bool:
    return True
