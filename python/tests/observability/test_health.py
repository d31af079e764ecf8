from __future__ import annotations

import httpx


async def test_health_reports_healthy_with_real_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"]["database"] == "healthy"
    assert set(body["services"]) >= {"database", "embeddings", "mcp_server"}
    assert body["timestamp"]


async def test_metrics_exposes_seed_counters(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{endpoint="/health",method="GET"}' in text
    for name in ("http_request_duration_seconds", "documents_uploaded_total", "rag_queries_total"):
        assert name in text
