"""Board benchmark: concurrent task moves (throughput, latency, order invariant) and event delivery latency.

    python/.venv/bin/python bench/projects_board.py [--tasks 200] [--moves 1000] [--concurrency 8]

Uses its own embedded database under $ARCHON_BENCH_DIR/projects and the service layer directly
(the REST routes and MCP tools are thin adapters over the same calls).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time

from common import open_runtime

from archon.db.notify import NotifyHub
from archon.projects.events import ProjectEvents
from archon.projects.service import ProjectService, TaskService

STATUSES = ("todo", "doing", "review", "done")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(n_tasks: int, n_moves: int, concurrency: int) -> dict[str, object]:
    runtime = await open_runtime("projects", embedding_provider="hash", db_pool_max=max(10, concurrency + 4))
    try:
        projects, tasks = ProjectService(runtime.db), TaskService(runtime.db)
        project = await projects.create({"title": f"bench {time.time()}"})
        ids = [(await tasks.create({"project_id": project.id, "title": f"t{i}", "status": STATUSES[i % 4]})).id
               for i in range(n_tasks)]
        rng = random.Random(1)
        latencies: list[float] = []
        semaphore = asyncio.Semaphore(concurrency)

        async def one_move() -> None:
            async with semaphore:
                started = time.perf_counter()
                await tasks.move(rng.choice(ids), rng.choice(STATUSES), rng.randint(0, n_tasks // 4))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one_move() for _ in range(n_moves)))
        elapsed = time.perf_counter() - started
        board = await tasks.columns(project.id)
        listing = await tasks.list_tasks({"project_id": project.id, "limit": 1000})
        orders: dict[str, list[int]] = {s: [] for s in STATUSES}
        for task in listing.tasks:
            orders[task.status].append(task.task_order)
        dense = all(orders[s] == list(range(len(board[s]))) for s in STATUSES)

        # Event delivery: commit -> subscriber, through NOTIFY and the entity load.
        hub = NotifyHub(runtime.db.conninfo)
        await hub.start()
        events = ProjectEvents(hub, runtime.db)
        delivery: list[float] = []
        async with events.subscribe(project.id, maxsize=10_000) as outbox:
            for i in range(200):
                sent = time.perf_counter()
                await tasks.update(ids[i % len(ids)], {"description": f"rev {i}"})
                async with asyncio.timeout(10):
                    while (event := await outbox.get()) is not None and event["type"] != "task_updated":
                        pass
                delivery.append(time.perf_counter() - sent)
        await events.stop()
        await hub.stop()
        await projects.delete(project.id, confirm=True)
        return {
            "tasks": n_tasks, "moves": n_moves, "concurrency": concurrency,
            "moves_per_second": round(n_moves / elapsed, 1),
            "move_ms_p50": round(pct(latencies, 0.5) * 1000, 1), "move_ms_p95": round(pct(latencies, 0.95) * 1000, 1),
            "columns_dense_after": dense, "tasks_on_board": sum(len(v) for v in board.values()),
            "update_to_event_ms_p50": round(statistics.median(delivery) * 1000, 1),
            "update_to_event_ms_p95": round(pct(delivery, 0.95) * 1000, 1),
        }
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.tasks, args.moves, args.concurrency)), indent=2))
