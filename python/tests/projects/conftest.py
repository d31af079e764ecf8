"""Helpers for the projects tests: create projects/tasks through the real HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest


async def make_project(client: httpx.AsyncClient, title: str = "Board", **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/projects", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_task(client: httpx.AsyncClient, project_id: str, title: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/api/projects/{project_id}/tasks", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def board(client: httpx.AsyncClient, project_id: str) -> dict[str, list[tuple[str, int]]]:
    """status -> [(task id, task_order)] of the project's non-archived tasks, in board order."""
    response = await client.get(f"/api/projects/{project_id}/tasks", params={"limit": 1000})
    assert response.status_code == 200, response.text
    columns: dict[str, list[tuple[str, int]]] = {s: [] for s in ("todo", "doing", "review", "done")}
    for task in response.json()["tasks"]:
        columns[task["status"]].append((task["id"], task["task_order"]))
    return columns


@pytest.fixture
def add_source(database_url: str) -> Any:
    """Insert a knowledge source row directly (the knowledge API is another engineer's area)."""

    def add(source_id: str, title: str = "Docs") -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO archon_sources (id, source_type, url, title) VALUES (%s, 'url', %s, %s)",
                         (source_id, f"https://example.invalid/{source_id}", title))
        return source_id

    return add
