"""Board order: inserts, moves and concurrent interleaved moves keep each column numbered 0..n-1."""

from __future__ import annotations

import asyncio
import random

import httpx

from archon.db.pool import Database
from archon.projects.service import TaskService
from tests.projects.conftest import board, make_project, make_task

STATUSES = ("todo", "doing", "review", "done")


def ids(column: list[tuple[str, int]]) -> list[str]:
    return [task_id for task_id, _ in column]


def assert_dense(columns: dict[str, list[tuple[str, int]]]) -> None:
    for status, column in columns.items():
        assert [order for _, order in column] == list(range(len(column))), (status, column)


async def test_task_create_at_position_shifts_later_tasks(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    a, b, c = [await make_task(client, pid, name) for name in "ABC"]
    x = await make_task(client, pid, "X", task_order=1)
    far = await make_task(client, pid, "Far", task_order=99)  # clamped to the end
    columns = await board(client, pid)
    assert ids(columns["todo"]) == [a["id"], x["id"], b["id"], c["id"], far["id"]]
    assert_dense(columns)


async def test_task_move_within_and_between_columns(client: httpx.AsyncClient) -> None:
    pid = (await make_project(client))["id"]
    a, b, c = [await make_task(client, pid, name) for name in "ABC"]
    d = await make_task(client, pid, "D", status="doing")

    moved = await client.post(f"/api/tasks/{c['id']}/move", json={"status": "todo", "position": 0})
    assert moved.status_code == 200
    assert moved.json()["columns"] == {"todo": [c["id"], a["id"], b["id"]]}
    assert moved.json()["task"]["task_order"] == 0

    across = await client.post(f"/api/tasks/{a['id']}/move", json={"status": "doing", "position": 0})
    assert across.json()["columns"] == {"todo": [c["id"], b["id"]], "doing": [a["id"], d["id"]]}
    assert across.json()["task"]["status"] == "doing"

    # PATCH with a status appends to the new column; with task_order it moves within the column.
    patched = await client.patch(f"/api/tasks/{c['id']}", json={"status": "doing", "title": "C2"})
    assert (patched.json()["task_order"], patched.json()["title"]) == (2, "C2")
    reordered = await client.patch(f"/api/tasks/{d['id']}", json={"task_order": 0})
    assert reordered.json()["task_order"] == 0
    columns = await board(client, pid)
    assert ids(columns["doing"]) == [d["id"], a["id"], c["id"]] and ids(columns["todo"]) == [b["id"]]
    assert_dense(columns)

    bad = await client.post(f"/api/tasks/{a['id']}/move", json={"status": "blocked"})
    assert bad.status_code == 422 and "status" in bad.json()["error"]
    negative = await client.post(f"/api/tasks/{a['id']}/move", json={"status": "todo", "position": -2})
    assert negative.status_code == 422 and "position" in negative.json()["error"]


async def test_task_concurrent_interleaved_moves_keep_order_a_permutation(
        client: httpx.AsyncClient, database_url: str) -> None:
    pid = (await make_project(client))["id"]
    tasks = [await make_task(client, pid, f"T{i}", status=STATUSES[i % 4]) for i in range(16)]
    all_ids = {t["id"] for t in tasks}
    rng = random.Random(7)

    # A second pool stands in for another process (an MCP stdio server) moving tasks at the same time.
    other_process = Database(database_url, min_size=2, max_size=4)
    await other_process.open()
    try:
        service = TaskService(other_process)

        async def via_http() -> None:
            task = rng.choice(tasks)
            body = {"status": rng.choice(STATUSES), "position": rng.randint(0, 6)}
            response = await client.post(f"/api/tasks/{task['id']}/move", json=body)
            assert response.status_code == 200, response.text

        async def via_service() -> None:
            await service.move(rng.choice(tasks)["id"], rng.choice(STATUSES), rng.choice([None, 0, 2, 9]))

        async def via_patch() -> None:
            task = rng.choice(tasks)
            response = await client.patch(f"/api/tasks/{task['id']}", json={"task_order": rng.randint(0, 5)})
            assert response.status_code == 200, response.text

        calls = [rng.choice([via_http, via_service, via_patch])() for _ in range(90)]
        await asyncio.gather(*calls)
    finally:
        await other_process.close()

    columns = await board(client, pid)
    assert_dense(columns)
    assert {task_id for column in columns.values() for task_id in ids(column)} == all_ids
    assert sum(len(c) for c in columns.values()) == 16
