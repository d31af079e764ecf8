"""The HTTP MCP listener (MCP_PORT) as a managed object: started and stopped without touching the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from archon.config import Settings
from archon.errors import Conflict, Unavailable
from archon.runtime import RuntimeHolder

if TYPE_CHECKING:
    from archon.mcp_server.server import ArchonMCPServer

log = logging.getLogger(__name__)
_START_TIMEOUT = 20.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # `archon serve` handles signals once for all its listeners


def _bind(host: str, port: int) -> socket.socket:
    """Bind ourselves so a taken port is an error we report, not uvicorn's sys.exit() in our event loop."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class McpListener:
    """Owns the uvicorn server of the MCP HTTP transports (SSE + streamable HTTP)."""

    def __init__(
        self, server: ArchonMCPServer, settings: Settings, holder: RuntimeHolder, *, initial_app: Starlette
    ) -> None:
        self.server = server
        self.settings = settings
        self.holder = holder
        self._initial_app: Starlette | None = initial_app
        self._uvicorn: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and self._uvicorn is not None and self._uvicorn.started

    def _next_app(self) -> Starlette:
        from archon.mcp_server.server import build_mcp_http_app

        app = self._initial_app
        self._initial_app = None
        if app is not None and not app.state.lifespan_used:
            return app
        return build_mcp_http_app(self.server, self.settings, self.holder)

    async def start(self) -> None:
        """Listen on MCP_PORT; Conflict if already running here or the port is taken."""
        async with self._lock:
            if self.running or self.holder.mcp_running:
                raise Conflict("the MCP server is already running")
            sock = _bind(self.settings.host, self.settings.mcp_port)
            config = uvicorn.Config(
                self._next_app(),
                lifespan="on",
                log_config=None,
                proxy_headers=False,
                server_header=False,
                ws="websockets-sansio",
                timeout_graceful_shutdown=max(1, int(self.settings.shutdown_grace_seconds)),
            )
            server = _Server(config)
            self._uvicorn = server
            self._task = asyncio.create_task(self._serve(server, sock), name="archon-mcp-listener")
            async with asyncio.timeout(_START_TIMEOUT):
                while not server.started and not self._task.done():
                    await asyncio.sleep(0.02)
            if not server.started:
                await self._task
                self._task = None
                raise Unavailable("the MCP server did not start; see the server log")
            self.server.activity.add("INFO", f"MCP listener started on {self.settings.host}:{self.settings.mcp_port}")

    @staticmethod
    async def _serve(server: _Server, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit:
            # uvicorn exits the process when the app's lifespan fails; here that only stops this listener.
            log.error("the MCP listener failed to start")
        finally:
            sock.close()

    async def stop(self) -> None:
        """Stop listening (open MCP sessions are closed); Conflict if not running."""
        async with self._lock:
            if not self.running or self._uvicorn is None or self._task is None:
                raise Conflict("the MCP server is not running")
            self._uvicorn.should_exit = True
            await self._task
            self._task = None
            self._uvicorn = None
            self.server.activity.add("INFO", "MCP listener stopped")

    def request_exit(self, *, force: bool = False) -> None:
        """Signal-handler path for `archon serve`: ask the listener to stop without awaiting it."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            if force:
                self._uvicorn.force_exit = True

    async def wait(self) -> None:
        """Return when the current listener task (if any) ends."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
