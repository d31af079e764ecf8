"""The dashboard's static server: built files, SPA fallback for deep links, security headers."""

from __future__ import annotations

import html
import re
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


# A host name or IP literal as it may appear in a Host header (nothing that could break a header value).
_HOSTNAME_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])$")


def request_hostname(host_header: str) -> str | None:
    """The host name of a Host header (`name:port`, `[v6]:port`), or None when it is not a plain name."""
    name = host_header.strip()
    if name.startswith("["):
        name = name[: name.find("]") + 1] if "]" in name else ""
    elif ":" in name:
        name = name.rsplit(":", 1)[0]
    return name if _HOSTNAME_RE.match(name) else None


def content_security_policy(settings: Settings, hostname: str | None = None) -> str:
    """CSP for the dashboard; `hostname` (the one the browser used) lets it reach the API on that host too."""
    api = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}:{settings.backend_port}"
    local = f"http://localhost:{settings.backend_port} http://127.0.0.1:{settings.backend_port}"
    ws = (
        api.replace("http://", "ws://")
        + f" ws://localhost:{settings.backend_port} ws://127.0.0.1:{settings.backend_port}"
    )
    # The dashboard calls the API on the host name it was loaded from (see /config.json), e.g. a LAN name.
    seen = f"{api} {local}"
    if hostname and f"//{hostname}:{settings.backend_port}" not in seen:
        ws += f" http://{hostname}:{settings.backend_port} ws://{hostname}:{settings.backend_port}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src 'self' {api} {local} {ws}; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, csp: str, settings: Settings | None = None) -> None:
        self.app = app
        self.csp = csp
        self.settings = settings
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

    def _csp(self, scope: Scope) -> str:
        if self.settings is None:
            return self.csp
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        return content_security_policy(self.settings, request_hostname(host))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                csp = (b"content-security-policy", self._csp(scope).encode())
                message["headers"] = [*message.get("headers", []), csp, *self.headers]
            await send(message)

        await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)


def _placeholder(settings: Settings) -> str:
    base = f"http://127.0.0.1:{settings.backend_port}"
    links = "".join(
        f'<li><a href="{html.escape(base + p)}">{html.escape(label)}</a></li>'
        for p, label in (
            ("/docs", "API documentation (Swagger UI)"),
            ("/redoc", "API reference (ReDoc)"),
            ("/health", "Health"),
            ("/metrics", "Metrics"),
        )
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
    return SecurityHeaders(app, csp=content_security_policy(settings), settings=settings)
