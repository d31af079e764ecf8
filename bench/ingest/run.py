"""Ingestion benchmark: crawl the Python 3.11 docs (530 pages, Debian python3-doc) served on 127.0.0.1.

Three measurements, each through the real crawler (SSRF guard, robots, frontier, converter pool,
page pipeline, Postgres):

0. fetch + convert only (guarded HTTP fetch, main-content markdown in the process pool);
1. crawl + convert + chunk + store with the deterministic hashing embedder: the crawler's own rate;
2. the same crawl end to end with the local model (all-MiniLM-L6-v2): pages/s, chunks/s, peak RSS;
3. the local model embedding the same chunk texts alone, in batches of 64: the physical bound.

The local-model phases crawl `--model-pages` pages spread evenly over the whole docs (every k-th
page, so long reference pages and short ones are both in). Besides wall time they record CPU time
and how long the model was busy during the crawl: the ratio of wall times is then explained as
(model busy share of the crawl) x (model slowdown while the crawl's conversion shares the cores).

    python bench/ingest/run.py [--pages N] [--model-pages N] [--embed-sample N] [--phases convert,hash,local]

Results are printed as JSON and written to $ARCHON_BENCH_DIR/ingest.json and bench/ingest/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from common import BENCH_DIR, bench_settings  # noqa: E402

from archon.jobs.service import JobService  # noqa: E402
from archon.knowledge.crawling.fetcher import Fetcher  # noqa: E402
from archon.knowledge.crawling.pool import shared_pool  # noqa: E402
from archon.knowledge.crawling.schemas import CrawlRequest  # noqa: E402
from archon.knowledge.crawling.service import CrawlService  # noqa: E402
from archon.knowledge.crawling.ssrf import EgressPolicy  # noqa: E402
from archon.knowledge.embeddings.local import LocalEmbedder  # noqa: E402
from archon.knowledge.ingest.pipeline import EMBED_BATCH, code_embedding_text, embedding_text  # noqa: E402
from archon.knowledge.models import ChunkInput, CodeExampleInput  # noqa: E402
from archon.runtime import Runtime  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11-doc/html")
RESULTS = Path(__file__).resolve().parent / "results.json"


class ModelTimer:
    """Wall time the local model spends encoding (patched into LocalEmbedder._encode for this run)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.texts = 0
        original = LocalEmbedder._encode

        def timed(embedder: LocalEmbedder, texts: list[str]) -> list[list[float]]:
            started = time.perf_counter()
            try:
                return original(embedder, texts)
            finally:
                self.seconds += time.perf_counter() - started
                self.texts += len(texts)

        LocalEmbedder._encode = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.seconds, self.texts = 0.0, 0


MODEL_TIMER = ModelTimer()


def serve_docs(sitemaps: dict[str, list[str]]) -> tuple[ThreadingHTTPServer, str]:
    """The docs folder over HTTP on a free loopback port, with generated sitemaps (`/<name>` -> pages)."""
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.lstrip("/") in sitemaps:
                pages = sitemaps[self.path.lstrip("/")]
                host = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"  # type: ignore[str-bytes-safe]
                body = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                        + "".join(f"<url><loc>{host}/{p}</loc></url>" for p in pages) + "</urlset>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(DOCS)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its live children (the converter pool)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


class PeakRSS:
    """Samples the RSS of this process plus its children (converter pool, Postgres) every 0.5 s.

    Runs in both timed phases, so the sampler's own CPU burdens the crawl and the embedding-only
    bound alike."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.5):
            try:
                total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def crawl_once(name: str, provider: str, base: str, port: int, pages: int,
                     sitemap: str = "sitemap.xml") -> tuple[Runtime, dict[str, Any]]:
    """One crawl of the served docs into a fresh embedded database; returns the open runtime and numbers."""
    data_dir = BENCH_DIR / f"ingest-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = bench_settings(f"ingest-{name}", embedding_provider=provider, data_dir=data_dir,
                              crawl_allowed_hosts=[f"127.0.0.1:{port}"])
    os.environ["CRAWL4_AI_BASE_DIRECTORY"] = str(data_dir)
    runtime = await Runtime.start(settings, run_worker=False)
    if provider == "local":
        await runtime.embedder.embed(["warm up the model"])  # model load is not crawl time
    service = CrawlService(runtime)
    request = CrawlRequest(url=f"{base}/{sitemap}", crawl_type="sitemap", max_pages=pages)
    MODEL_TIMER.reset()
    with PeakRSS() as rss:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        job = await service.start_crawl(request)
        await service.run(job.progressId)
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
    view = await JobService(runtime.db).get(job.progressId)
    data = view.progress_data()
    assert view.status == "completed", view.error
    done = int(data["processedPages"]) - int(data.get("pagesFailed", 0))
    return runtime, {"pages": done, "failed": data.get("pagesFailed", 0), "chunks": data["chunksStored"],
                     "seconds": round(wall, 1), "pages_per_s": round(done / wall, 2),
                     "chunks_per_s": round(int(data["chunksStored"]) / wall, 2),
                     "peak_rss_mb": round(rss.peak / 2**20), "cpu_seconds": round(cpu, 1),
                     # What 2 otherwise idle cores would sustain at this CPU cost per page (the
                     # machine is shared, so wall-clock rates understate the crawler).
                     "projected_pages_per_s_2_cores": round(2 * done / cpu, 2) if cpu else None,
                     "model_busy_seconds": round(MODEL_TIMER.seconds, 1), "model_texts": MODEL_TIMER.texts,
                     "load_avg": [round(x, 1) for x in os.getloadavg()]}


async def fetch_convert_only(base: str, port: int, pages: list[str], in_flight: int = 6) -> dict[str, Any]:
    """The crawler alone: guarded fetch + HTML->markdown in the converter pool, no chunking or storage."""
    policy = EgressPolicy([f"127.0.0.1:{port}"])
    pool = shared_pool()
    await pool.convert(base, "<html><body><main><p>warm up the pool</p></main></body></html>")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for page in pages:
        queue.put_nowait(f"{base}/{page}")
    chars = 0

    async def worker(fetcher: Fetcher) -> None:
        nonlocal chars
        while not queue.empty():
            url = queue.get_nowait()
            result = await fetcher.get(url)
            # Await first, then add: `chars += len(await ...)` reads `chars` before the await and loses
            # the other workers' additions made meanwhile (it undercounted by 15-30 % across runs).
            size = len((await pool.convert(result.final_url, result.text)).markdown)
            chars += size

    async with Fetcher(policy) as fetcher:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker(fetcher) for _ in range(in_flight)))
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
    return {"pages": len(pages), "seconds": round(wall, 1), "pages_per_s": round(len(pages) / wall, 2),
            "cpu_seconds": round(cpu, 1), "cpu_ms_per_page": round(1000 * cpu / len(pages)),
            "projected_pages_per_s_2_cores": round(2 * len(pages) / cpu, 2), "markdown_chars": chars}


async def embed_only(runtime: Runtime, sample: int = 0) -> dict[str, Any]:
    """Time the model on the stored chunk and code-example texts alone (same texts and batch size).

    With `sample` > 0 and more texts than that, a seeded random sample is timed and the time for all
    texts is extrapolated from it (the per-text mean of a random sample is unbiased): this halves the
    cost of a full 530-page run (~22,000 texts, ~40 min of model time) and says so in the results."""
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT headings, content, metadata FROM archon_chunks ORDER BY id")).fetchall()
        examples = await (await conn.execute(
            "SELECT position, title, summary, code FROM archon_code_examples ORDER BY id")).fetchall()
    # The same texts the pipeline embeds (its own functions), in batches of the same size.
    texts = [embedding_text(ChunkInput(content=r["content"], headings=list(r["headings"]), metadata=r["metadata"]))
             for r in rows]
    texts += [code_embedding_text(CodeExampleInput(position=e["position"], code=e["code"], title=e["title"],
                                                   summary=e["summary"])) for e in examples]
    timed = random.Random(0).sample(texts, sample) if 0 < sample < len(texts) else texts
    MODEL_TIMER.reset()
    with PeakRSS() as rss:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        for start in range(0, len(timed), EMBED_BATCH):
            await runtime.embedder.embed(timed[start:start + EMBED_BATCH])
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
    scale = len(texts) / len(timed)
    result = {"texts": len(texts), "chunks": len(rows), "code_examples": len(examples),
              "seconds": round(wall * scale, 1), "chunks_per_s": round(len(timed) / wall, 2),
              "cpu_seconds": round(cpu * scale, 1), "peak_rss_mb": round(rss.peak / 2**20),
              "load_avg": [round(x, 1) for x in os.getloadavg()]}
    if timed is not texts:
        result.update(estimated_from_sample=True, sample_texts=len(timed), sample_seconds=round(wall, 1),
                      sample_chars=sum(map(len, timed)), all_chars=sum(map(len, texts)))
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=530)
    parser.add_argument("--model-pages", type=int, default=530,
                        help="pages for the two local-model phases (they cost ~1 s of CPU per chunk batch)")
    parser.add_argument("--embed-sample", type=int, default=0,
                        help="time the embedding-only bound on a random sample of this many texts (0: all)")
    parser.add_argument("--phases", default="convert,hash,local",
                        help="comma-separated subset of convert (0), hash (1), local (2 and 3)")
    args = parser.parse_args()
    if not DOCS.exists():
        sys.exit("install Debian's python3-doc first (apt-get install python3-doc)")
    every = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.html"))
    pages = every[:args.pages]
    step = max(1, len(every) // max(1, args.model_pages))
    sample = every[::step][:args.model_pages]  # spread over the docs: long reference pages and short ones
    server, base = serve_docs({"sitemap.xml": every, "sitemap-sample.xml": sample})
    port = server.server_address[1]
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_at_start": [round(x, 1) for x in os.getloadavg()],
                               "pages_served": len(pages), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    phases = set(args.phases.split(","))
    if "convert" in phases:
        results["fetch_convert_only"] = await fetch_convert_only(base, port, pages)
        print(json.dumps(results, indent=2), flush=True)
    if "hash" in phases:
        runtime, results["crawl_convert_hash_embedder"] = await crawl_once("hash", "hash", base, port, len(pages))
        await runtime.stop()
        print(json.dumps(results, indent=2), flush=True)
    if "local" in phases:
        runtime, crawl = await crawl_once("local", "local", base, port, len(sample), sitemap="sitemap-sample.xml")
        results["end_to_end_local_model"] = crawl
        print(json.dumps(results, indent=2), flush=True)
        try:
            alone = results["embedding_only_local_model"] = await embed_only(runtime, args.embed_sample)
        finally:
            await runtime.stop()
        results["total_over_embedding_only"] = round(crawl["seconds"] / alone["seconds"], 2)
        results["total_over_embedding_only_cpu"] = round(crawl["cpu_seconds"] / alone["cpu_seconds"], 2)
        # wall ratio = (crawl wall / model busy during the crawl) x (model busy during the crawl / alone)
        results["model_busy_share_of_crawl"] = round(crawl["model_busy_seconds"] / crawl["seconds"], 3)
        results["model_slowdown_during_crawl"] = round(crawl["model_busy_seconds"] / alone["seconds"], 2)
    results["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    server.shutdown()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "ingest.json").write_text(json.dumps(results, indent=2))
    if {"convert", "local"} <= phases:  # a complete run replaces the committed results
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
