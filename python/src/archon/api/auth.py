"""Bearer-token authentication and read-only scopes as ASGI middleware, for HTTP and WebSocket alike.

`ARCHON_API_KEY` is the full-access key; each of `ARCHON_READONLY_API_KEYS` grants read-only access. The
middleware records the caller's level in the ASGI scope (`scope["archon.access"]`: "full" or "read") so
downstream layers (the MCP tool guard) can refuse writes without knowing about tokens.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Access = Literal["full", "read"]
ACCESS_KEY = "archon.access"
FULL: Access = "full"
READ: Access = "read"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POST routes that only read: they take a JSON body because a query is too rich for a URL.
READ_ONLY_POSTS = frozenset({"/api/rag/query", "/api/rag/code-examples"})
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


def rest_is_write(method: str, path: str) -> bool:
    """True when a REST request changes state: every method but GET/HEAD/OPTIONS, except the read-only POSTs."""
    return method not in SAFE_METHODS and path not in READ_ONLY_POSTS


def access_of(scope: Scope) -> Access:
    """The caller's access level as the auth middleware recorded it ("full" when auth is off)."""
    level = scope.get(ACCESS_KEY, FULL)
    return READ if level == READ else FULL


class KeyRing:
    """The configured keys; `match` compares a token with every key in constant time."""

    def __init__(self, api_key: str, readonly_keys: Sequence[str] = ()) -> None:
        self._keys: list[tuple[bytes, Access]] = [(api_key.encode(), FULL)]
        self._keys += [(key.encode(), READ) for key in readonly_keys]

    def match(self, token: str | None) -> Access | None:
        """The access `token` grants, or None. Every key is compared, so timing reveals nothing."""
        if token is None:
            return None
        candidate = token.encode()
        found: Access | None = None
        for key, level in self._keys:
            if hmac.compare_digest(candidate, key) and found is None:
                found = level
        return found


class BearerAuthMiddleware:
    """Requires `Authorization: Bearer <key>` on the paths `protects(path)` selects.

    With `is_write`, a read-only key on a request `is_write(method, path)` selects gets `403`.
    """

    def __init__(self, app: ASGIApp, *, api_key: str, protects: Callable[[str], bool],
                 readonly_keys: Sequence[str] = (), is_write: Callable[[str, str], bool] | None = None) -> None:
        self.app = app
        self.keys = KeyRing(api_key, readonly_keys)
        self.protects = protects
        self.is_write = is_write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # CORS preflights carry no credentials
            return
        level = self.keys.match(_token_from_scope(scope))
        if level is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
                return
            await _json(send, 401, "unauthorized", "send Authorization: Bearer <ARCHON_API_KEY>",
                        [(b"www-authenticate", b"Bearer")])
            return
        if (level == READ and scope["type"] == "http" and self.is_write is not None
                and self.is_write(scope["method"], scope["path"])):
            await _json(send, 403, "forbidden", f"this token is read-only: {scope['method']} {scope['path']} "
                        "changes data; use the full-access ARCHON_API_KEY",
                        [(b"www-authenticate", b'Bearer error="insufficient_scope"')])
            return
        await self.app({**scope, ACCESS_KEY: level}, receive, _echo_bearer_subprotocol(scope, send))


async def _json(send: Send, status: int, error: str, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


def api_paths(path: str) -> bool:
    """The REST app protects /api and everything under it; /health, /metrics and docs stay open."""
    return path == "/api" or path.startswith("/api/")


def all_paths(path: str) -> bool:
    return True
