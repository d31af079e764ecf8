"""Health: what /health reports and when it answers 503."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from archon.runtime import Runtime, RuntimeHolder

_DB_TIMEOUT = 2.0


async def database_status(runtime: Runtime) -> str:
    try:
        await asyncio.wait_for(runtime.db.ping(timeout=_DB_TIMEOUT), timeout=_DB_TIMEOUT + 0.5)
    except Exception as exc:  # any failure here is the thing we report
        return f"unavailable: {type(exc).__name__}"
    return "healthy"


async def report(holder: RuntimeHolder) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body). 503 names the failing component; `shutting_down` drops readiness at once."""
    now = datetime.now(UTC).isoformat()
    runtime = holder.runtime
    if runtime is None:
        return 503, {"status": "starting", "timestamp": now, "services": {}}
    services = {
        "database": await database_status(runtime),
        "embeddings": f"{runtime.embedder.provider}/{runtime.embedder.model}: {runtime.embedder.status()}",
        "mcp_server": "running" if holder.mcp_running else "stopped",
        "worker": "running" if runtime.queue.worker_running else "off",
    }
    if runtime.shutting_down:
        return 503, {"status": "shutting_down", "timestamp": now, "services": services}
    if services["database"] != "healthy":
        return 503, {"status": "unhealthy", "timestamp": now, "services": services, "failing": ["database"]}
    return 200, {"status": "healthy", "timestamp": now, "services": services,
                 "uptime_seconds": round(datetime.now(UTC).timestamp() - runtime.started_at, 1)}
