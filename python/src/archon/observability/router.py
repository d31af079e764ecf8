"""GET /livez, /readyz, /health and /metrics (open even when an API key is set: probes carry no token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from archon.observability import health, metrics

router = APIRouter(tags=["health"])


@router.get("/livez", summary="Liveness: 200 while the process runs (no I/O)")
async def get_livez() -> JSONResponse:
    status, body = health.liveness()
    return JSONResponse(body, status_code=status)


@router.get("/readyz", summary="Readiness: 503 while starting, shutting down or without a database")
async def get_readyz(request: Request) -> JSONResponse:
    status, body = await health.readiness(request.app.state.holder)
    return JSONResponse(body, status_code=status)


@router.get("/health", summary="Service health: database, embeddings, MCP server")
async def get_health(request: Request) -> JSONResponse:
    status, body = await health.report(request.app.state.holder)
    return JSONResponse(body, status_code=status)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
