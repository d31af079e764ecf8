"""Prometheus metrics (the seed's names plus job counters) and the middleware that records requests."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint"])
HTTP_DURATION = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "endpoint"])
DOCUMENTS_UPLOADED = Counter("documents_uploaded_total", "Total documents uploaded")
RAG_QUERIES = Counter("rag_queries_total", "Total RAG queries")
JOBS_STARTED = Counter("archon_jobs_started_total", "Background jobs started", ["kind"])
JOBS_FINISHED = Counter("archon_jobs_finished_total", "Background jobs finished", ["kind", "status"])


def render() -> tuple[bytes, str]:
    """The metrics page body and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(method=scope["method"], endpoint=endpoint).inc()
            HTTP_DURATION.labels(method=scope["method"], endpoint=endpoint).observe(time.perf_counter() - start)
