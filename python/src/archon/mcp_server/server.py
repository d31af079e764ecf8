"""The MCP server object and its HTTP transports (SSE and streamable HTTP on one ASGI app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware

from archon import __version__
from archon.api.auth import BearerAuthMiddleware, all_paths
from archon.config import Settings
from archon.runtime import RuntimeHolder

INSTRUCTIONS = (
    "Archon holds documentation the user indexed (search it before answering questions about "
    "those libraries) and the user's projects and tasks."
)


def build_mcp_server(holder: RuntimeHolder) -> MCPServer:
    """The MCP server with Archon's tools and resources registered."""
    server: MCPServer = MCPServer(name="archon", version=__version__, instructions=INSTRUCTIONS)
    return server


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: only our own host names (plus ARCHON_MCP_ALLOWED_HOSTS) are served."""
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    if not settings.is_loopback_bind and settings.host not in ("0.0.0.0", "::"):
        hosts.append(settings.host)
    hosts += settings.mcp_allowed_hosts
    allowed_hosts = hosts + [f"{h}:*" for h in hosts]  # with and without an explicit port
    origins = [f"http://{h}:*" for h in hosts] + [f"https://{h}:*" for h in hosts] + list(settings.cors_origins)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts,
                                     allowed_origins=origins)


def build_mcp_http_app(server: MCPServer, settings: Settings, holder: RuntimeHolder) -> Starlette:
    """One ASGI app serving `/mcp` (streamable HTTP) and `/sse` + `/messages/` (SSE)."""
    security = transport_security(settings)
    http_app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security,
                                          host=settings.host)
    sse_app = server.sse_app(transport_security=security, host=settings.host)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            holder.mcp_running = True
            try:
                yield
            finally:
                holder.mcp_running = False

    middleware = []
    if settings.api_key is not None:
        middleware.append(Middleware(BearerAuthMiddleware, api_key=settings.api_key.get_secret_value(),
                                     protects=all_paths))
    return Starlette(routes=[*http_app.routes, *sse_app.routes], middleware=middleware, lifespan=lifespan)
