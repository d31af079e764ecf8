"""Write the generated parts of docs/benchmarks.md from the benchmarks' JSON results, and the plots.

Hand-written sections (conditions, analysis) are kept: only the blocks between
`<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` are replaced (added when missing).
A benchmark whose results file is missing keeps the figures already in the doc.

Usage: bench/report.py   (run by bench/run_all.sh after the benchmarks)
"""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/benchmarks.md"
IMG = ROOT / "docs/img"
BENCH_DIR = Path(os.environ.get("ARCHON_BENCH_DIR", "/tmp/archon-bench"))


def load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def machine() -> str:
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    return f"{os.cpu_count()} cores, {mem / 1024 / 1024:.0f} GB, {platform.system()} {platform.machine()}"


def f3(x: float) -> str:
    """Three decimals, rounding halves up (0.8825 -> 0.883, as the hand-written sections do)."""
    return f"{x + 1e-9:.3f}"


def summary_rows(r: dict[str, dict[str, Any] | None]) -> list[tuple[str, str, str, str]]:
    """(figure, target, measured, where it comes from) for every benchmark with results."""
    rows: list[tuple[str, str, str, str]] = []
    ingest = r["ingest"]
    if ingest and "fetch_convert_only" in ingest:
        fc = ingest["fetch_convert_only"]
        rows.append(("Crawl + convert, Python docs (530 pages)", "≥ 14 pages/s on 2 cores",
                     f"{fc.get('projected_pages_per_s', fc.get('pages_per_second', '?'))} pages/s", "bench/ingest"))
    else:
        rows.append(("Crawl + convert, Python docs (530 pages)", "≥ 14 pages/s on 2 cores",
                     "18.3 pages/s projected (4.6 wall, load 7–16)", "bench/ingest, [Ingestion](#ingestion)"))
        rows.append(("Crawl total / embedding-only time (local model)", "≤ 1.2", "1.25 – 2.29 (two runs)",
                     "bench/ingest, [Ingestion](#ingestion)"))
    quality = r["quality"]
    if quality:
        modes = quality["modes"]
        rows.append(("Search quality nDCG@10, hybrid (vs BM25 over pages)", "hybrid > each single mode",
                     f"{f3(modes['hybrid']['ndcg@10'])} (BM25 {f3(modes['bm25-pages']['ndcg@10'])}, "
                     f"vector {f3(modes['vector']['ndcg@10'])}, keyword {f3(modes['keyword']['ndcg@10'])})",
                     "bench/quality, [Quality](#quality-benchquality)"))
    search = r["search"]
    if search:
        rest = search["rest_ms"]
        rows.append((f"Hybrid search p95, REST, {search['chunks']:,} chunks, new queries", "≤ 50 ms",
                     f"{rest['hybrid_new_queries']['p95']:,.0f} ms ({rest['hybrid_repeated_queries']['p95']:,.0f} ms "
                     "cached vector)", "bench/search, [Speed](#speed-benchsearch)"))
        conc = rest.get("throughput_50_clients_repeated")
        if conc:
            rows.append(("Search throughput, 50 clients", "≥ 150 q/s, 0 errors",
                         f"{conc['qps']} q/s, {conc['errors']} errors", "bench/search"))
    scale = r["scale"]
    if scale:
        big = max(scale["pgvector_hnsw_ms"], key=int)
        rows.append((f"Vector top-10, {int(big):,} vectors: HNSW vs brute-force numpy", "HNSW flat in corpus size",
                     f"{scale['pgvector_hnsw_ms'][big]:.1f} ms vs {scale['numpy_ms'].get(big, float('nan')):.1f} ms",
                     "bench/search/scale.py, [plot](#latency-against-corpus-size)"))
    scaleout = r["scaleout"]
    if scaleout:
        med = scaleout["median_pages_per_second"]
        kill = scaleout["kill"]
        rows.append(("Crawl throughput, 2 workers vs 1 (PostgreSQL docs, 1,169 pages)", "≥ 1.7×",
                     f"{scaleout['speedup_2_vs_1']}× ({med.get('1')} → {med.get('2')} pages/s, "
                     f"{scaleout['embedder']} embedder)", "bench/scaleout, [Scale-out](#scale-out)"))
        rows.append(("Worker killed mid-crawl: pages / duplicates", "complete, 0 duplicates",
                     f"{kill['pages']} pages, {kill['duplicate_chunks']} duplicate chunks, "
                     f"{kill['refetched_after_kill_of_pages_done_before']} finished pages refetched", "bench/scaleout"))
    # bench/settings_reembed.py and bench/projects_board.py print their figures; the re-embed ones are
    # kept in settings.md by the engineer who ran them.
    rows.append(("Model switch: re-embed 20,000 chunks, searches during the switch", "0 errors",
                 "124 s (161 items/s, hash embedder), 3,117 searches, p95 318 ms, 0 errors",
                 "bench/settings_reembed.py, [settings.md](settings.md)"))
    startup = r["startup"]
    if startup:
        rows.append(("`archon serve` cold start to healthy (initdb + migrations)", "–",
                     f"{startup['cold']['seconds_to_healthy']:.1f} s", "bench/startup"))
        rows.append(("`archon serve` warm start to healthy", "–", f"{startup['warm']['seconds_to_healthy']:.1f} s",
                     "bench/startup"))
        rows.append(("RSS at healthy / with the model loaded after one upload + search (archon processes)", "–",
                     f"{startup['warm']['rss_mb_at_healthy']:.0f} MB / "
                     f"{startup['warm']['rss_mb_after_first_query']:.0f} MB ({startup['embedder']} embedder); "
                     f"Postgres {startup['warm']['postgres_rss_mb']:.0f} MB", "bench/startup"))
    return rows


def plots(r: dict[str, dict[str, Any] | None]) -> list[str]:
    """Draw the PNGs that have data; return markdown image lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG.mkdir(parents=True, exist_ok=True)
    lines = []
    scale = r["scale"]
    if scale:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for key, label in (("numpy_ms", "brute-force numpy (exact, in memory)"),
                           ("pgvector_hnsw_ms", "pgvector HNSW (Archon), SQL round trip")):
            xs = sorted(int(n) for n in scale[key])
            ax.plot(xs, [scale[key][str(n)] for n in xs], marker="o", label=label)
        search = r["search"]
        if search:
            ax.plot([search["chunks"]], [search["server_side_ms"]["vector_cached_vector"]["p50"]], marker="s",
                    linestyle="none", label="Archon vector search, service p50 (bench/search)")
        ax.set(xscale="log", yscale="log", xlabel="vectors (384 dims)", ylabel="ms per query (median)",
               title="Vector top-10 latency against corpus size")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(IMG / "bench-latency-corpus.png", dpi=110)
        plt.close(fig)
        lines.append("![latency against corpus size](img/bench-latency-corpus.png)")
    scaleout = r["scaleout"]
    if scaleout:
        med = scaleout["median_pages_per_second"]
        xs = sorted(int(n) for n in med)
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.plot(xs, [med[str(n)] for n in xs], marker="o", label="measured (one 2-core machine, namespaces)")
        ax.plot(xs, [med[str(xs[0])] * n / xs[0] for n in xs], linestyle="--", label="linear")
        ax.set(xlabel="workers", ylabel="pages/s (median)", xticks=xs,
               title="Crawl throughput against workers (PostgreSQL docs)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(IMG / "bench-throughput-workers.png", dpi=110)
        plt.close(fig)
        lines.append("![throughput against workers](img/bench-throughput-workers.png)")
    return lines


def scaleout_block(s: dict[str, Any]) -> str:
    out = [f"Measured {s['date']} ({s['machine']}), `{s['embedder']}` embedder, "
           f"{len(s['runs'].get('1', []))} run(s) per configuration (median):", "",
           "| workers | pages | chunks | duplicate chunks | vectors | seconds | pages/s | pages per worker "
           "| worker CPU ms/page | Postgres CPU ms/page |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for n, runs in sorted(s["runs"].items()):
        for run in runs:
            out.append(f"| {n} | {run['pages']} | {run['chunks']} | {run['duplicate_chunks']} | {run['vectors']} | "
                       f"{run['seconds']} | {run['pages_per_second']} | {run['pages_per_worker_process']} | "
                       f"{run.get('worker_cpu_ms_per_page', '–')} | {run.get('postgres_cpu_ms_per_page', '–')} |")
    k = s["kill"]
    out += ["", f"**2 workers vs 1: {s['speedup_2_vs_1']}×.** Kill test (2 workers, worker 2 SIGKILLed at "
                f"{k['killed_at_pages']} processed pages): {k['pages']} pages ({k['distinct_urls']} distinct URLs), "
                f"{k['chunks']} chunks, {k['duplicate_chunks']} duplicate chunks, {k['vectors']} vectors, "
                f"{k['left_in_frontier']} URLs left in the frontier, "
                f"{k['refetched_after_kill_of_pages_done_before']} pages finished before the kill fetched again, "
                f"{k['refetched_pages']} pages fetched twice in all (the ones worker 2 had in flight), "
                f"{k['seconds']} s."]
    return "\n".join(out)


def replace_block(doc: str, name: str, body: str, *, after: str | None = None) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in doc:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.DOTALL)
    if after and after in doc:
        i = doc.index(after) + len(after)
        return doc[:i] + "\n\n" + block + "\n" + doc[i:]
    return doc.rstrip() + "\n\n" + block + "\n"


def main() -> None:
    results = {"ingest": load(BENCH_DIR / "ingest.json"), "quality": load(ROOT / "bench/quality/results.json"),
               "search": load(ROOT / "bench/search/results.json"), "scale": load(ROOT / "bench/search/scale.json"),
               "scaleout": load(ROOT / "bench/scaleout/results.json"),
               "startup": load(ROOT / "bench/startup/results.json")}
    table = ["| figure | target | measured | from |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(results)]
    body = "\n".join([f"Machine: {machine()}, shared with other engineers' work during the session (load average "
                      "4–16): every wall-clock figure is an upper bound. Medians of the runs each benchmark made. Each "
                      "row's date and conditions are in its section; rows come from the JSON results a benchmark "
                      "wrote, or (ingest, model switch) from the figures recorded in its section.", "",
                      *table, "", *plots(results)])
    doc = DOC.read_text()
    intro = doc.split("\n\n", 2)
    doc = replace_block(doc, "summary", body, after="\n\n".join(intro[:2]))
    if results["scaleout"]:
        doc = replace_block(doc, "scaleout", scaleout_block(results["scaleout"]), after="## Scale-out")
    DOC.write_text(doc)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
