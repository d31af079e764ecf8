"""`archon mcp`: the MCP server over stdio, for clients that launch Archon as a subprocess."""

from __future__ import annotations

from archon.config import Settings
from archon.mcp_server.server import build_mcp_server
from archon.mcp_server.watcher import KnowledgeWatcher
from archon.runtime import Runtime, RuntimeHolder


async def run_stdio(settings: Settings) -> None:
    """Serve MCP on stdin/stdout until the client closes them; nothing but protocol goes to stdout."""
    holder = RuntimeHolder()
    server = build_mcp_server(holder, settings)
    holder.runtime = await Runtime.start(settings, run_worker=False)
    try:
        # Knowledge changed by `archon serve` or a worker reaches this client through Postgres NOTIFY.
        async with KnowledgeWatcher(holder, server.knowledge_changed).running():
            await server.run_stdio_async()
    finally:
        await holder.runtime.stop()
