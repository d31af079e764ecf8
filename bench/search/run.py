"""Search speed: server-side and end-to-end REST latency per mode, and throughput at 50 concurrent clients.

Usage: python bench/search/run.py [--chunks 100000] [--seconds 20] [--out results.json]
Needs the quality benchmark's cached real vectors (run bench/quality/run.py first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quality"))

from common import BENCH_DIR, open_runtime, selected_pages
from load import build
from queries import QUERIES

from archon.knowledge.search import QUERY_EMBEDDINGS, SearchService
from archon.knowledge.search_models import SearchFilters

ROOT = Path(__file__).resolve().parents[2]


def pct(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    at = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return {"p50": round(at(0.50), 1), "p95": round(at(0.95), 1), "p99": round(at(0.99), 1),
            "mean": round(statistics.fmean(v), 1), "n": len(v)}


async def server_side(service: SearchService, queries: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in queries:  # warm: query vectors cached, pages in shared buffers
        await service.query(q, search_mode="hybrid")
    for mode in ("keyword", "vector", "hybrid"):
        out[f"{mode}_cached_vector"] = pct([(await service.query(q, search_mode=mode)).took_ms
                                            for q in queries * 2])
    filt = SearchFilters(source_ids=("s3",))
    out["hybrid_filtered_10pct"] = pct([(await service.query(q, filters=filt)).took_ms for q in queries])
    times = []
    for q in queries:
        QUERY_EMBEDDINGS.clear()
        times.append((await service.query(q + " ?", search_mode="hybrid")).took_ms)
    out["hybrid_with_embedding"] = pct(times)
    embedder = service.runtime.embedder
    paths = {"embedding_only": getattr(embedder, "embed_queries", embedder.embed)}  # what search uses
    if hasattr(embedder, "embed_queries"):
        paths["embedding_only_sentence_transformers"] = embedder.embed  # the torch path, for comparison
    for name, embed in paths.items():
        emb = []
        for q in queries:
            t = time.perf_counter()
            await embed([q + " !"])
            emb.append((time.perf_counter() - t) * 1000)
        out[name] = pct(emb)
    out["query_path"] = getattr(embedder, "query_path", embedder.provider)
    out.update(await rerank_overhead(service, queries))
    return out


async def rerank_overhead(service: SearchService, queries: list[str]) -> dict[str, Any]:
    """Latency the HTTP rerank provider adds, against a stub rerank API on 127.0.0.1 (no model: cost only)."""
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from archon.knowledge.rerank_http import HttpReranker

    async def rerank(request: Request) -> JSONResponse:
        docs = (await request.json())["documents"]
        return JSONResponse({"results": [{"index": i, "relevance_score": -i} for i in range(len(docs))]})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/rerank", rerank, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    reranker = HttpReranker(f"http://127.0.0.1:{port}")
    try:
        with_stub = SearchService(service.runtime, reranker=reranker)
        for q in queries:  # the query vectors are cached first: only the rerank round trip differs
            await service.query(q, search_mode="hybrid", rerank=False)
        plain, reranked = [], []
        for q in queries:  # interleaved, so both see the same cache and machine state
            plain.append((await service.query(q, search_mode="hybrid", rerank=False)).took_ms)
            reranked.append((await with_stub.query(q, search_mode="hybrid", rerank=True)).took_ms)
    finally:
        await reranker.aclose()
        server.should_exit = True
        await task
    return {"hybrid_no_rerank": pct(plain), "hybrid_http_rerank_stub": pct(reranked)}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(pgdata: Path) -> list[int]:
    """The bench database's postmaster and its backends (not other Postgres servers on the machine)."""
    parents: dict[int, int] = {}
    masters = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # exited meanwhile
            continue
        if f"-D {pgdata}" in cmdline:
            masters.append(int(proc.name))
    return masters + [pid for pid, ppid in parents.items() if ppid in masters]


async def rest(base: str, queries: list[str], seconds: float, server_pid: int = 0,
               pgdata: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def ask(q: str, mode: str = "hybrid") -> float:
            t = time.perf_counter()
            r = await client.post("/api/rag/query", json={"query": q, "search_mode": mode})
            r.raise_for_status()
            return (time.perf_counter() - t) * 1000

        for mode in ("keyword", "vector", "hybrid"):
            await ask(queries[0], mode)
            out[f"{mode}_new_queries"] = pct([await ask(f"{q} ({mode} {i})", mode)
                                              for i, q in enumerate(queries)])
            for q in queries:  # first time: embeds; the measured second time hits the server's cache
                await ask(q, mode)
            out[f"{mode}_repeated_queries"] = pct([await ask(q, mode) for q in queries])

        async def load(make_query: Any) -> dict[str, Any]:
            latencies: list[float] = []
            errors = 0
            error_kinds: dict[str, int] = {}  # what failed: a status code or the exception's type
            stop = time.perf_counter() + seconds

            async def worker(w: int) -> None:
                nonlocal errors
                i = 0
                while time.perf_counter() < stop:
                    try:
                        latencies.append(await ask(make_query(w, i)))
                    except (httpx.HTTPError, OSError) as exc:
                        errors += 1
                        status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                        kind = f"HTTP {status}" if status else type(exc).__name__
                        error_kinds[kind] = error_kinds.get(kind, 0) + 1
                    i += 1

            # CPU per query of each party: what bounds throughput on 2 shared cores.
            # Backends the pool opens during the run are counted whole (they did not exist before it).
            def parties() -> dict[str, list[int]]:
                return {"server": [server_pid] if server_pid else [], "client": [os.getpid()],
                        "postgres": postgres_pids(pgdata) if pgdata else []}

            before = {k: {pid: cpu_seconds([pid]) for pid in v} for k, v in parties().items()}
            t = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(50)))
            elapsed = time.perf_counter() - t
            n = max(1, len(latencies))
            cpu = {k: round(sum(cpu_seconds([pid]) - before[k].get(pid, 0.0) for pid in v) * 1000 / n, 2)
                   for k, v in parties().items()}
            return {"qps": round(len(latencies) / elapsed, 1), "errors": errors, "error_kinds": error_kinds,
                    **pct(latencies),
                    "cpu_ms_per_query": cpu, "load_avg": os.getloadavg()}

        out["throughput_50_clients_repeated"] = await load(lambda w, i: queries[(w * 7 + i) % len(queries)])
        out["throughput_50_clients_new"] = await load(lambda w, i: f"{queries[(w + i) % len(queries)]} #{w}-{i}")
    return out


async def wait_for_server(base: str) -> str:
    """Wait until the API answers and, unless ARCHON_EMBEDDING_ONNX=false, its ONNX query path is ready."""
    want_onnx = os.environ.get("ARCHON_EMBEDDING_ONNX", "true").lower() not in ("0", "false", "no", "off")
    async with httpx.AsyncClient(timeout=60) as probe:
        for _ in range(600):
            try:
                if (await probe.get(base + "/health")).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        await probe.post(base + "/api/rag/query", json={"query": "warm up", "search_mode": "vector"})
        embeddings = ""
        for _ in range(600):
            embeddings = str((await probe.get(base + "/health")).json().get("services", {}).get("embeddings"))
            if not want_onnx or "onnxruntime" in embeddings:
                break
            await asyncio.sleep(0.5)
    return embeddings


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--load-only", action="store_true", help="build the corpus, print its timings, stop")
    parser.add_argument("--server-only", action="store_true", help="in-process latencies only (no REST phase)")
    args = parser.parse_args()
    runtime = await open_runtime(f"search-{args.chunks}")
    report: dict[str, Any] = {"chunks": args.chunks, "cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        pages = selected_pages(sorted({p for _, rel in QUERIES for p in rel}))
        report["load"] = await build(runtime, pages, args.chunks)
        if args.load_only:
            report["load_avg_end"] = os.getloadavg()
            print(json.dumps(report, indent=2))
            return
        queries = [q for q, _ in QUERIES]
        await runtime.embedder.embed(["warm up"])
        start_fast = getattr(runtime.embedder, "start_fast_path", None)
        fast = start_fast() if start_fast else None
        if fast is not None:  # the ONNX query model (exported on the first run, then loaded from the cache)
            await asyncio.to_thread(fast.join)
        report["query_path"] = getattr(runtime.embedder, "query_path", runtime.embedder.provider)
        report["server_side_ms"] = await server_side(SearchService(runtime), queries)
        print(json.dumps(report, indent=2), flush=True)
        if args.server_only:
            report["load_avg_end"] = os.getloadavg()
            args.out.write_text(json.dumps(report, indent=2))
            return
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("server.py")), runtime.db.conninfo,
                                   str(port), str(BENCH_DIR / "server-data")], cwd=ROOT)
        try:
            base = f"http://127.0.0.1:{port}"
            report["server_query_path"] = await wait_for_server(base)
            report["rest_ms"] = await rest(base, queries, args.seconds, server.pid,
                                           Path(runtime.settings.data_dir / "postgres").resolve())
        finally:
            server.terminate()
            server.wait(30)
        report["load_avg_end"] = os.getloadavg()
        print(json.dumps(report, indent=2))
        args.out.write_text(json.dumps(report, indent=2))
    finally:
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main())
