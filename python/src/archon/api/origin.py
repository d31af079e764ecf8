"""Refuses WebSocket handshakes from web pages of foreign origins, for every WebSocket route at once.

Browsers apply no CORS to WebSockets: any page a user visits could open `ws://127.0.0.1:8080/api/...`
and read crawl progress, knowledge-base changes, project events or MCP logs. A handshake carrying an
`Origin` header is accepted only from the configured dashboard origins (`ARCHON_CORS_ORIGINS`) or the API's
own host; one without it (curl, scripts, MCP clients, other servers) is not a browser and passes. Starlette
has no such check built in, and the CORS middleware ignores WebSocket scopes, hence this small middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """True for a non-browser client, a configured origin, or a page served by this very host."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class WebSocketOriginMiddleware:
    """Closes (HTTP 403) a WebSocket handshake whose `Origin` is not allowed; other traffic is untouched."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = Headers(scope=scope)
            if not origin_allowed(headers.get("origin"), headers.get("host"), self.allowed):
                # Closing before accept makes the server answer the handshake with 403 Forbidden.
                await send({"type": "websocket.close", "code": 1008, "reason": "origin not allowed"})
                return
        await self.app(scope, receive, send)
