"""Cold start and memory: `archon serve` from launch to a healthy /health, and its resident memory.

Cold = a fresh data dir (embedded Postgres initdb + migrations); warm = the same data dir again.
RSS is summed over the serve process tree without Postgres (reported separately): at healthy, and
after the first search (which loads the local embedding model, when that is the provider).

Usage: bench/startup/run.py [--runs 3] [--embedder local|hash]; writes bench/startup/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

WORK = Path(os.environ.get("ARCHON_BENCH_DIR", "/tmp/archon-bench")) / "startup"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mb(pids: list[int]) -> tuple[float, float]:
    """(archon processes, postgres processes) resident memory in MB."""
    archon = pg = 0
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
            comm = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        if comm.startswith("postgres"):
            pg += kb
        else:
            archon += kb
    return round(archon / 1024, 1), round(pg / 1024, 1)


def postgres_pids(data_dir: Path) -> list[int]:
    """The embedded Postgres of `data_dir` (pg_ctl daemonises it, so it is not in serve's tree)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(f"/proc/{entry.name}/comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    try:
        root = int((next(data_dir.rglob("postmaster.pid"))).read_text().split()[0])
    except (StopIteration, OSError, ValueError):
        return []
    return [p for p in pids if p in tree(root)]


def upload_and_query(api: int) -> float:
    """Upload one small document, wait for its job, then search: this loads the embedding model."""
    doc = ("# Vacuum\n\nVACUUM reclaims storage occupied by dead tuples. " * 20).encode()
    with httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=300) as client:
        started = client.post("/api/documents/upload", files={"file": ("vacuum.md", doc, "text/markdown")})
        started.raise_for_status()
        progress = started.json()["progressId"]
        while client.get(f"/api/progress/{progress}").json().get("status") not in ("completed", "error", "cancelled"):
            time.sleep(0.2)
        t0 = time.perf_counter()
        client.post("/api/rag/query", json={"query": "how is storage of dead tuples reclaimed"}).raise_for_status()
        return time.perf_counter() - t0


def one_start(data_dir: Path, embedder: str) -> dict[str, Any]:
    api, mcp, ui = free_port(), free_port(), free_port()
    env = {**os.environ, "ARCHON_DATA_DIR": str(data_dir), "BACKEND_PORT": str(api), "MCP_PORT": str(mcp),
           "FRONTEND_PORT": str(ui), "EMBEDDING_PROVIDER": embedder, "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "archon", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(WORK / "serve.log", "ab"), start_new_session=True)  # noqa: SIM115
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"archon serve exited {proc.returncode}; see {WORK / 'serve.log'}")
                try:
                    if client.get(f"http://127.0.0.1:{api}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            healthy = time.perf_counter() - started
            at_healthy = rss_mb(tree(proc.pid))[0]
            postgres = rss_mb(postgres_pids(data_dir))[1]
        first_query = upload_and_query(api)
        after_query = rss_mb(tree(proc.pid))[0]
        return {"seconds_to_healthy": round(healthy, 2), "rss_mb_at_healthy": at_healthy,
                "postgres_rss_mb": postgres, "first_query_seconds": round(first_query, 2),
                "rss_mb_after_first_query": after_query}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def median(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float | int)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--embedder", default="local", choices=["local", "hash"])
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    cold, warm = [], []
    for i in range(args.runs):
        data = WORK / f"data{i}"
        shutil.rmtree(data, ignore_errors=True)
        cold.append(one_start(data, args.embedder))
        print("cold", json.dumps(cold[-1]), flush=True)
        warm.append(one_start(data, args.embedder))
        print("warm", json.dumps(warm[-1]), flush=True)
        shutil.rmtree(data, ignore_errors=True)
    result = {"embedder": args.embedder, "runs": args.runs, "cold": median(cold), "warm": median(warm),
              "cold_runs": cold, "warm_runs": warm, "cpus": os.cpu_count(),
              "load_avg": round(os.getloadavg()[0], 1), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"cold": result["cold"], "warm": result["warm"]}, indent=2), f"-> {out}")


if __name__ == "__main__":
    main()
