"""The dashboard's static server: built files, SPA fallback for deep links, security headers."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archon.config import Settings


def default_dist_dir() -> Path | None:
    """`archon-ui-main/dist` of a source checkout, or the copy bundled in a wheel."""
    here = Path(__file__).resolve()
    candidates = [here.parent / "dist"] + [p / "archon-ui-main" / "dist" for p in here.parents]
    return next((c for c in candidates if (c / "index.html").is_file()), None)


def content_security_policy(settings: Settings) -> str:
    api = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}:{settings.backend_port}"
    local = f"http://localhost:{settings.backend_port} http://127.0.0.1:{settings.backend_port}"
    ws = api.replace("http://", "ws://") + f" ws://localhost:{settings.backend_port} ws://127.0.0.1:{settings.backend_port}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src 'self' {api} {local} {ws}; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)


def _placeholder(settings: Settings) -> str:
    base = f"http://127.0.0.1:{settings.backend_port}"
    links = "".join(
        f'<li><a href="{html.escape(base + p)}">{html.escape(label)}</a></li>'
        for p, label in (("/docs", "API documentation (Swagger UI)"), ("/redoc", "API reference (ReDoc)"),
                         ("/health", "Health"), ("/metrics", "Metrics"))
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Archon</title></head><body>"
        "<h1>Archon</h1><p>The dashboard has not been built yet. The API is running:</p>"
        f"<ul>{links}</ul></body></html>"
    )


def build_frontend_app(settings: Settings, dist: Path | None = None) -> ASGIApp:
    """Serve `dist` (built dashboard) or, when there is none, a page linking to the API docs."""
    dist = dist or default_dist_dir()
    root = dist.resolve() if dist else None

    async def serve(request: Request) -> Response:
        if root is None:
            return HTMLResponse(_placeholder(settings))
        relative = request.path_params.get("path", "")
        candidate = (root / relative).resolve()
        if relative and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(root / "index.html")  # SPA fallback: deep links are app routes

    async def runtime_config(request: Request) -> Response:
        # The dashboard reads this at start-up to find the API (same hostname, this port).
        return JSONResponse({"apiPort": settings.backend_port}, headers={"cache-control": "no-store"})

    app = Starlette(routes=[Route("/config.json", runtime_config), Route("/", serve), Route("/{path:path}", serve)])
    return SecurityHeaders(app, csp=content_security_policy(settings))
