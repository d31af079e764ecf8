"""`archon serve`: the API, MCP and dashboard listeners in one process and one event loop.

uvicorn installs its own signal handlers per server; with three servers in one loop only the last
would hear SIGTERM, so we install one handler that stops them all (readiness drops first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from archon.app import create_app
from archon.config import Settings
from archon.errors import ArchonError, ConfigurationError
from archon.frontend.app import build_frontend_app
from archon.mcp_server.listener import McpListener
from archon.observability.loopwatch import LoopWatchdog
from archon.runtime import RuntimeHolder

log = logging.getLogger(__name__)


def check_ports(settings: Settings) -> None:
    """Fail with one clear line when a listener's port is taken (uvicorn would exit with a traceback)."""
    for name, port in (("BACKEND_PORT", settings.backend_port), ("MCP_PORT", settings.mcp_port),
                       ("FRONTEND_PORT", settings.frontend_port)):
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, port))
            except OSError as exc:
                raise ConfigurationError(
                    f"{name}={port} cannot be used on {settings.host}: {exc.strerror or exc}. "
                    f"Stop the other process or choose another port ({name}=...)"
                ) from None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals are handled once for all servers in serve()


def _config(app: object, settings: Settings, port: int, *, lifespan: str) -> uvicorn.Config:
    return uvicorn.Config(app, host=settings.host, port=port, lifespan=lifespan, log_config=None,  # type: ignore[arg-type]
                          proxy_headers=False, server_header=False, ws="websockets-sansio",
                          timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
                          timeout_keep_alive=settings.http_keepalive_seconds)


def run(settings: Settings) -> int:
    """Run `serve` on uvloop when it is installed (what uvicorn picks when it owns the loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; a minimal install still works
        return asyncio.run(serve(settings))
    return int(uvloop.run(serve(settings)))


async def serve(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code."""
    # Started once the listeners are up: building the app and starting the runtime block the loop by design.
    watchdog = LoopWatchdog(settings.loop_stall_warn_seconds) if settings.loop_stall_warn_seconds > 0 else None
    try:
        return await _serve(settings, watchdog)
    finally:
        if watchdog is not None:
            watchdog.stop()


async def _serve(settings: Settings, watchdog: LoopWatchdog | None) -> int:
    app = create_app(settings)
    holder: RuntimeHolder = app.state.holder
    # The MCP listener is a managed object: POST /api/mcp/stop and /start drive it while the API runs.
    mcp_listener: McpListener = app.state.mcp.listener
    api = _Server(_config(app, settings, settings.backend_port, lifespan="on"))
    others = [
        _Server(_config(build_frontend_app(settings), settings, settings.frontend_port, lifespan="off")),
    ]
    servers = [api, *others]
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def stop() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if holder.runtime is not None:
            holder.runtime.shutting_down = True  # /health answers 503 from now on
        for server in servers:
            server.should_exit = True
            if signals_seen > 1:
                server.force_exit = True
        mcp_listener.request_exit(force=signals_seen > 1)
        log.info("shutting down%s", " now" if signals_seen > 1 else "")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)

    api_task = asyncio.create_task(api.serve())
    while not api.started and not api_task.done():
        await asyncio.sleep(0.05)
    if not api.started:
        await api_task
        log.error("Archon did not start; see the messages above")
        return 1
    try:
        await mcp_listener.start()
    except ArchonError as exc:
        log.error("the MCP server could not start: %s", exc.message)
        stop()
        await api_task
        return 1
    tasks = [api_task] + [asyncio.create_task(s.serve()) for s in others]
    host = settings.host
    log.info("Archon is up: API http://%s:%d/docs  MCP http://%s:%d/mcp  dashboard http://%s:%d",
             host, settings.backend_port, host, settings.mcp_port, host, settings.frontend_port)
    if watchdog is not None:
        watchdog.start()
    # If one listener dies (port taken), stop the others rather than half-run.
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if not all(s.should_exit for s in servers):
        stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await mcp_listener.wait()
    failed = [s for s in others if not s.started]
    return 1 if failed else 0
