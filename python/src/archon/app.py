"""`create_app(settings)`: the composition root. Nothing imports this module but the CLI and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from archon import __version__
from archon.api.auth import BearerAuthMiddleware, api_paths, rest_is_write
from archon.api.errors import ERROR_RESPONSES, FailFastOnDatabaseOutage, install_error_handlers
from archon.api.origin import WebSocketOriginMiddleware
from archon.api.ratelimit import RateLimitMiddleware, rest_rules
from archon.api.warmup import warm_up_routes
from archon.config import Settings
from archon.db.notify import NotifyHub
from archon.errors import ConfigurationError
from archon.knowledge.crawling.router import router as crawling_router
from archon.knowledge.packs.router import router as packs_router
from archon.knowledge.router import router as knowledge_router
from archon.knowledge.search_router import router as search_router
from archon.mcp_server.router import router as mcp_router
from archon.mcp_server.server import build_mcp_http_app, build_mcp_server
from archon.observability.health import start_monitor
from archon.observability.metrics import MetricsMiddleware
from archon.observability.router import router as observability_router
from archon.projects.events import ProjectEvents
from archon.projects.router import router as projects_router
from archon.runtime import Runtime, RuntimeHolder
from archon.settings.router import router as settings_router

DESCRIPTION = "MCP-enabled RAG system with document management: crawl, upload, search, projects and tasks."


def check_bind(settings: Settings) -> None:
    """Refuse to listen beyond loopback without an API key, unless the operator overrides it explicitly."""
    if settings.is_loopback_bind or settings.api_key is not None or settings.allow_insecure_bind:
        return
    raise ConfigurationError(
        f"ARCHON_HOST={settings.host} would expose Archon without authentication: set ARCHON_API_KEY "
        "(recommended) or ARCHON_ALLOW_INSECURE_BIND=true"
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the REST app; its lifespan owns the runtime (pool, embedded server, worker)."""
    check_bind(settings)
    holder = RuntimeHolder()
    mcp = build_mcp_server(holder, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm_up_routes(app)  # before readiness: FastAPI would build its routes on the loop at the first requests
        runtime = await Runtime.start(settings)
        # Probes read a cached database state checked on its own connection, never the request pool.
        db_monitor = await start_monitor(runtime)
        holder.runtime = runtime
        app.state.runtime = runtime
        # One LISTEN connection per API process fans NOTIFY events out (project streams, ...).
        app.state.notify_hub = notify_hub = NotifyHub(runtime.db.conninfo)
        await notify_hub.start()
        app.state.project_events = project_events = ProjectEvents(notify_hub, runtime.db)
        try:
            yield
        finally:
            await project_events.stop()
            await notify_hub.stop()
            await db_monitor.stop()
            await runtime.stop()
            holder.runtime = None

    app = FastAPI(
        title="Archon Knowledge Engine API",
        description=DESCRIPTION,
        version=__version__,
        docs_url="/docs",
        redoc_url="/redoc",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.mcp = mcp
    app.state.mcp_http_app = build_mcp_http_app(mcp, settings, holder)
    install_error_handlers(app)

    app.include_router(observability_router)
    app.include_router(knowledge_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(search_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(crawling_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(packs_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(mcp_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(settings_router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(projects_router, prefix="/api", responses=ERROR_RESPONSES)

    # Middleware runs outermost-last: metrics see every request, auth runs before routing, CORS wraps all
    # so even a 401 carries the CORS headers a browser needs to read it.
    app.add_middleware(FailFastOnDatabaseOutage)  # innermost: the contextvar it sets reaches every handler
    app.add_middleware(MetricsMiddleware)
    if settings.rate_limit_enabled:
        app.add_middleware(RateLimitMiddleware, rules=rest_rules(settings))
    if settings.api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=settings.api_key.get_secret_value(), protects=api_paths,
                           readonly_keys=[k.get_secret_value() for k in settings.readonly_api_keys],
                           is_write=rest_is_write)
    # Every WebSocket route: browsers skip CORS on handshakes, so foreign pages are refused here.
    app.add_middleware(WebSocketOriginMiddleware, allowed_origins=settings.cors_origins)
    if settings.enable_cors:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Mcp-Session-Id"],
        )
    return app
