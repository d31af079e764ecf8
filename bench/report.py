"""Write the generated parts of docs/benchmarks.md from the benchmarks' JSON results, and the plots.

Hand-written sections (conditions, analysis) are kept: only the blocks between
`<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` are replaced (added when missing).
Every figure comes from a results file (SOURCES below); a benchmark without one shows "not measured".
A benchmark's own section (conditions, analysis) is written by its engineer and left alone.

Usage: bench/report.py [--root TREE]   (run by bench/run_all.sh after the benchmarks)
       bench/report.py --capture STDOUT OUT   (save a benchmark's printed JSON as its results file)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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


def conditions(res: dict[str, Any]) -> str:
    """Cores, load average and date a results file says it was measured with ('–' for what it lacks)."""
    cpus = res.get("cpus") or res.get("machine", "").partition(": ")[2].split(" cores")[0] or None
    keys = ("load_at_start", "load_avg_start", "load_avg_at_start", "load_avg")
    load = next((res[k] for k in keys if k in res), None)
    if isinstance(load, list):
        load = load[0]
    parts = [f"{cpus} cores" if cpus else "", f"load {float(load):.1f}" if load is not None else "",
             str(res.get("date", ""))[:16]]
    return ", ".join(p for p in parts if p) or "–"


def missing(figure: str, target: str, source: str) -> Row:
    return (figure, target, "–", "not measured: no results file (run `make bench`)", source)


Row = tuple[str, str, str, str, str]


def summary_rows(r: dict[str, dict[str, Any] | None]) -> list[Row]:
    """(figure, target, machine, measured, where it comes from) for every benchmark; '–' where nothing ran."""
    rows: list[Row] = []
    ingest = r["ingest"]
    if ingest and "fetch_convert_only" in ingest:
        fc = ingest["fetch_convert_only"]
        rows.append((f"Crawl + convert, Python docs ({fc['pages']} pages)", "≥ 14 pages/s on 2 cores",
                     conditions(ingest),
                     (f"{fc['projected_pages_per_s_2_cores']} pages/s projected from CPU/page "
                     f"({fc['pages_per_s']} wall)"), "bench/ingest, [Ingestion](#ingestion)"))
    else:
        rows.append(missing("Crawl + convert, Python docs", "≥ 14 pages/s on 2 cores", "bench/ingest"))
    if ingest and "total_over_embedding_only" in ingest:
        rows.append(((f"Crawl total / embedding-only time (local model, "
                     f"{ingest['end_to_end_local_model']['pages']} pages)"), "≤ 1.2", conditions(ingest),
                     f"{ingest['total_over_embedding_only']}", "bench/ingest, [Ingestion](#ingestion)"))
    else:
        rows.append(missing("Crawl total / embedding-only time (local model)", "≤ 1.2", "bench/ingest"))
    quality = r["quality"]
    if quality:
        modes = quality["modes"]
        rows.append(("Search quality nDCG@10, hybrid (vs BM25 over pages)", "hybrid > each single mode",
                     conditions(quality),
                     (f"{f3(modes['hybrid']['ndcg@10'])} (BM25 {f3(modes['bm25-pages']['ndcg@10'])}, "
                     f"vector {f3(modes['vector']['ndcg@10'])}, keyword {f3(modes['keyword']['ndcg@10'])})"),
                     "bench/quality, [Quality](#quality-benchquality)"))
    else:
        rows.append(missing("Search quality nDCG@10, hybrid", "hybrid > each single mode", "bench/quality"))
    search = r["search"]
    if search and "rest_ms" in search:
        rest = search["rest_ms"]
        rows.append((f"Hybrid search p95, REST, {search['chunks']:,} chunks, new queries", "≤ 50 ms",
                     conditions(search),
                     (f"{rest['hybrid_new_queries']['p95']:,.1f} ms ({rest['hybrid_repeated_queries']['p95']:,.0f} ms "
                     f"cached vector; queries embedded by {search.get('query_path', 'sentence-transformers')})"),
                     "bench/search, [Speed](#speed-benchsearch)"))
        conc = rest.get("throughput_50_clients_repeated")
        if conc:
            cpu = conc.get("cpu_ms_per_query")
            split = (f" (CPU per query: server {cpu['server']}, Postgres {cpu['postgres']}, "
                     f"load client {cpu['client']} ms)") if cpu else ""
            rows.append(("Search throughput, 50 clients", "≥ 150 q/s, 0 errors", conditions(search),
                         f"{conc['qps']} q/s, {conc['errors']} errors{split}", "bench/search"))
    else:
        rows.append(missing("Hybrid search p95, REST, new queries", "≤ 50 ms", "bench/search"))
    big = r["search_1m"]
    if big and "hybrid_with_embedding" in big.get("server_side_ms", {}):
        rows.append((f"Hybrid search p95, {big['chunks']:,} chunks, query embedding included (in process)",
                     "≤ 150 ms", conditions(big),
                     (f"{big['server_side_ms']['hybrid_with_embedding']['p95']:,.1f} ms"
                      + (f"; REST end to end, new queries: {big['rest_ms']['hybrid_new_queries']['p95']:,.1f} ms"
                         if big.get("rest_ms") else " (REST not measured at this size)")),
                     "bench/search --chunks 1000000, [Speed](#speed-benchsearch)"))
    else:
        rows.append(missing("Hybrid search p95, 1,000,000 chunks", "≤ 150 ms", "bench/search --chunks 1000000"))
    scale = r["scale"]
    if scale and scale.get("pgvector_hnsw_ms"):
        big = max(scale["pgvector_hnsw_ms"], key=int)
        rows.append((f"Vector top-10, {int(big):,} vectors: HNSW vs brute-force numpy", "HNSW flat in corpus size",
                     conditions(scale),
                     f"{scale['pgvector_hnsw_ms'][big]:.1f} ms vs {scale['numpy_ms'].get(big, float('nan')):.1f} ms",
                     "bench/search/scale.py, [plot](#latency-against-corpus-size)"))
    else:
        rows.append(missing("Vector top-10: HNSW vs brute-force numpy", "HNSW flat in corpus size",
                            "bench/search/scale.py"))
    rows += scaleout_rows(r["scaleout"])
    reembed = r["reembed"]
    if reembed:
        rows.append((f"Model switch: re-embed {reembed['chunks']:,} chunks, searches during the switch", "0 errors",
                     conditions(reembed),
                     (f"{reembed['reembed_seconds']} s ({reembed['reembed_items_per_s']} items/s), "
                     f"{reembed['searches_during_switch']:,} searches, p95 {reembed['search_p95_ms']} ms, "
                     f"{reembed['search_errors']} errors"), "bench/settings_reembed.py, [settings.md](settings.md)"))
    else:
        rows.append(missing("Model switch: re-embed, searches during the switch", "0 errors",
                            "bench/settings_reembed.py"))
    board = r["board"]
    if board:
        rows.append((f"Projects board: {board['moves']:,} task moves, {board['concurrency']} clients", "–",
                     conditions(board), (f"{board['moves_per_second']} moves/s, p95 {board['move_ms_p95']} ms; "
                     f"update → WebSocket event p95 {board['update_to_event_ms_p95']} ms"), "bench/projects_board.py"))
    packs = r["packs"]
    if packs:
        rows.append((f"Knowledge pack, {packs['chunks']:,} chunks: export / import", "–", conditions(packs),
                     f"{packs['export_chunks_per_s']:,} / {packs['import_chunks_per_s']:,} chunks/s",
                     "bench/packs.py, [packs.md](packs.md#performance)"))
    startup = r["startup"]
    if startup:
        rows.append(("`archon serve` cold start to healthy (initdb + migrations)", "–", conditions(startup),
                     f"{startup['cold']['seconds_to_healthy']:.1f} s", "bench/startup"))
        rows.append(("`archon serve` warm start to healthy", "–", conditions(startup),
                     f"{startup['warm']['seconds_to_healthy']:.1f} s", "bench/startup"))
        rows.append(("RSS at healthy / after one upload + search (archon processes)", "–", conditions(startup),
                     (f"{startup['warm']['rss_mb_at_healthy']:.0f} MB / "
                     f"{startup['warm']['rss_mb_after_first_query']:.0f} MB ({startup['embedder']} embedder); "
                     f"Postgres {startup['warm']['postgres_rss_mb']:.0f} MB"), "bench/startup"))
    else:
        rows.append(missing("`archon serve` cold / warm start to healthy", "–", "bench/startup"))
    return rows


def scaleout_rows(s: dict[str, Any] | None) -> list[Row]:
    if not s:
        return [missing("Crawl throughput, 2 workers vs 1", "≥ 1.7×", "bench/scaleout")]
    pages = "PostgreSQL docs, 1,169 pages" if s.get("max_pages", 5000) >= 1169 else f"first {s['max_pages']} pages"
    rows: list[Row] = []
    for mode, m in (s.get("modes") or {s.get("mode", "unpinned"): s}).items():
        med = m["median_pages_per_second"]
        what = "each worker pinned to its own core" if mode == "pinned" else "workers share both cores"
        runs = len(m["runs"].get("1", []))
        rows.append((f"Crawl throughput, 2 workers vs 1 ({pages}; {what})", "≥ 1.7×", conditions(s),
                     (f"{m['speedup_2_vs_1']}× ({med.get('1')} → {med.get('2')} pages/s, {s['embedder']} embedder, "
                     f"median of {runs})"), "bench/scaleout, [Scale-out](#scale-out)"))
    kill = s.get("kill")
    if kill:
        rows.append(("Worker killed mid-crawl: pages / duplicates", "complete, 0 duplicates", conditions(s),
                     (f"{kill['pages']} pages, {kill['duplicate_chunks']} duplicate chunks, "
                     f"{kill['left_in_frontier']} left in the frontier, "
                     f"{kill['refetched_after_kill_of_pages_done_before']} finished pages refetched"),
                     "bench/scaleout"))
    return rows


def plots(r: dict[str, dict[str, Any] | None], img: Path) -> list[str]:
    """Draw the PNGs that have data; return markdown image lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
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
        fig.savefig(img / "bench-latency-corpus.png", dpi=110)
        plt.close(fig)
        lines.append("![latency against corpus size](img/bench-latency-corpus.png)")
    scaleout = r["scaleout"]
    if scaleout:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        counts: list[int] = []
        for mode, m in (scaleout.get("modes") or {"unpinned": scaleout}).items():
            med = m["median_pages_per_second"]
            counts = sorted(int(n) for n in med)
            label = "pinned: each worker on its own core" if mode == "pinned" else "unpinned: workers share 2 cores"
            line, = ax.plot(counts, [med[str(n)] for n in counts], marker="o", label=f"measured, {label}")
            ax.plot(counts, [med[str(counts[0])] * n / counts[0] for n in counts], linestyle="--",
                    color=line.get_color(), alpha=0.5, label=f"linear from 1 worker ({mode})")
        ax.set(xlabel="workers", ylabel="pages/s (median)", xticks=counts, ylim=(0, None),
               title="Crawl throughput against workers (PostgreSQL docs)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(img / "bench-throughput-workers.png", dpi=110)
        plt.close(fig)
        lines.append("![throughput against workers](img/bench-throughput-workers.png)")
    return lines


def scaleout_block(s: dict[str, Any]) -> str:
    out = [(f"Measured {s['date']} ({s['machine']}), `{s['embedder']}` embedder; medians over the runs of each "
           "configuration, runs alternating between 1 and 2 workers. Load average = 1-minute load before / after "
           "each run."), ""]
    for mode, m in (s.get("modes") or {s.get("mode", "unpinned"): s}).items():
        title = ("**Pinned**: worker i (with its converter processes) restricted to core i-1 with `taskset`, "
                 "Postgres and the docs server on any core" if mode == "pinned" else
                 "**Unpinned**: every process may use both cores")
        out += [(f"{title}: **2 workers vs 1: {m['speedup_2_vs_1']}×** "
                f"({m['median_pages_per_second'].get('1')} → {m['median_pages_per_second'].get('2')} pages/s)."), "",
                ("| workers | pages | chunks | duplicate chunks | vectors | seconds | pages/s | pages per worker "
                "| worker CPU ms/page | Postgres CPU ms/page | load |"),
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for n, runs in sorted(m["runs"].items()):
            for run in runs:
                load = " / ".join(str(x) for x in run.get("load", [])) or "–"
                out.append(f"| {n} | {run['pages']} | {run['chunks']} | {run['duplicate_chunks']} | {run['vectors']} | "
                           f"{run['seconds']} | {run['pages_per_second']} | {run['pages_per_worker_process']} | "
                           f"{run.get('worker_cpu_ms_per_page', '–')} | {run.get('postgres_cpu_ms_per_page', '–')} | "
                           f"{load} |")
        out.append("")
    k = s.get("kill")
    if k:
        out += [(f"Kill test (2 workers, worker 2 SIGKILLed at {k['killed_at_pages']} processed pages): {k['pages']} "
                f"pages ({k['distinct_urls']} distinct URLs), {k['chunks']} chunks, {k['duplicate_chunks']} duplicate "
                f"chunks, {k['vectors']} vectors, {k['left_in_frontier']} URLs left in the frontier, "
                f"{k['refetched_after_kill_of_pages_done_before']} pages finished before the kill fetched again, "
                f"{k['refetched_pages']} pages fetched twice in all (the ones worker 2 had in flight), "
                f"{k['seconds']} s."), ""]
    out += statements_table(s)
    return "\n".join(out).rstrip()


def hnsw_table(h: dict[str, Any] | None) -> list[str]:
    """bench/scaleout/hnsw_insert.py: Postgres CPU per stored vector, without and with the HNSW index."""
    if not h:
        return []
    out = ["", f"Postgres backend CPU per stored vector (`bench/scaleout/hnsw_insert.py`, {h['runs'][0]['vectors']:,} "
           f"hashing-embedder vectors of the same docs, COPY 13 per transaction, one client; {conditions(h)}):", "",
           "| index | CPU ms per vector | CPU ms per page of 13 chunks | wall ms per vector |", "|---|---|---|---|"]
    out += [f"| {r['index']} | {r['backend_cpu_ms_per_vector']} | {r['backend_cpu_ms_per_page_of_13']} | "
            f"{r['wall_ms_per_vector']} |" for r in h["runs"]]
    return out


def statements_table(s: dict[str, Any]) -> list[str]:
    """Where Postgres spends its time per page (pg_stat_statements) in the first 1- and 2-worker runs."""
    m = (s.get("modes") or {"unpinned": s}).get("unpinned") or next(iter((s.get("modes") or {"": s}).values()))
    picked = {n: runs[0] for n, runs in m["runs"].items() if runs and runs[0].get("statements")}
    if not picked:
        return []
    out = [("Postgres execution time per crawled page by statement (pg_stat_statements, first unpinned run; "
           "execution only, not parsing or the network):"), "",
           "| statement | " + " | ".join(f"{n} worker(s): calls/page, ms/page" for n in sorted(picked)) + " |",
           "|---|" + "---|" * len(picked)]
    # Statements whose text differs only past the stored prefix are summed.
    per_run: dict[str, dict[str, tuple[float, float]]] = {}
    for n, run in picked.items():
        merged: dict[str, tuple[float, float]] = {}
        for x in run["statements"]:
            calls, ms = merged.get(x["query"], (0.0, 0.0))
            merged[x["query"]] = (calls + x["calls_per_page"], ms + x["ms_per_page"])
        per_run[n] = merged
    for query in list(per_run[min(picked)])[:10]:
        cells = [f"{per_run[n][query][0]:.2f}, {per_run[n][query][1]:.2f}" if query in per_run[n] else "–"
                 for n in sorted(picked)]
        text = query.replace("|", "\\|")
        out.append(f"| `{text}` | " + " | ".join(cells) + " |")
    return out


def replace_block(doc: str, name: str, body: str, *, after: str | None = None) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in doc:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.DOTALL)
    if after and after in doc:
        i = doc.index(after) + len(after)
        return doc[:i] + "\n\n" + block + "\n" + doc[i:]
    return doc.rstrip() + "\n\n" + block + "\n"


SOURCES = {  # benchmark -> its results files, relative to the tree (the newest existing one is read)
    "ingest": ["bench/ingest/results.json", "bench/results/ingest.json"],
    "quality": ["bench/quality/results.json"],
    "search": ["bench/search/results.json"],
    "search_1m": ["bench/search/results-1m.json"],
    "scale": ["bench/search/scale.json"],
    "scaleout": ["bench/scaleout/results.json"],
    "hnsw": ["bench/scaleout/hnsw_insert.json"],
    "startup": ["bench/startup/results.json"],
    "reembed": ["bench/results/settings_reembed.json"],
    "board": ["bench/results/projects_board.json"],
    "packs": ["bench/results/packs.json"],
}


def results(root: Path) -> dict[str, dict[str, Any] | None]:
    """Every benchmark's latest results under `root` (None when it has none)."""
    out: dict[str, dict[str, Any] | None] = {}
    for name, paths in SOURCES.items():
        found = sorted((p for p in (root / rel for rel in paths) if p.exists()), key=lambda p: p.stat().st_mtime)
        out[name] = load(found[-1]) if found else None
    return out


def capture(stdout_file: Path, out: Path) -> None:
    """Save the JSON object a benchmark printed last on stdout as its results file, with the conditions."""
    text = stdout_file.read_text()
    last = text.rfind("\n{\n")  # the last pretty-printed object; earlier output may be progress lines
    data = json.loads(text[last + 1:] if last >= 0 else text[text.find("{"):])
    # Conditions for benchmarks that do not record them (the load when it finished); recorded ones win.
    data.setdefault("cpus", os.cpu_count())
    data.setdefault("load_avg", round(os.getloadavg()[0], 1))
    data.setdefault("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def write_report(root: Path) -> Path:
    """Rewrite the generated blocks of root/docs/benchmarks.md (and its plots) from root's results."""
    doc_path = root / "docs/benchmarks.md"
    r = results(root)
    table = ["| figure | target | machine | measured | from |", "|---|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in summary_rows(r)]
    body = "\n".join([(f"Machine: {machine()}, shared with other engineers' work during the session, so wall-clock "
                      "figures depend on the 1-minute load average given in each row (when the benchmark started, "
                      "or ended for those that do not record it; the machine has 2 cores). Every row is computed by "
                      "`bench/report.py` from the JSON "
                      "results file its benchmark wrote; medians of the runs each benchmark made. Conditions and "
                      "analysis are in each section."), "",
                      *table, "", *plots(r, root / "docs/img")])
    doc = doc_path.read_text()  # read just before writing: others edit their own sections of this file
    intro = doc.split("\n\n", 2)
    doc = replace_block(doc, "summary", body, after="\n\n".join(intro[:2]))
    if r["scaleout"]:
        block = "\n".join([scaleout_block(r["scaleout"]), *hnsw_table(r["hnsw"])])
        doc = replace_block(doc, "scaleout", block, after="## Scale-out")
    doc_path.write_text(doc)
    return doc_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="tree whose bench/ results and docs/ are used")
    parser.add_argument("--capture", nargs=2, type=Path, metavar=("STDOUT", "OUT"),
                        help="save the JSON a benchmark printed (file STDOUT) as results file OUT, then exit")
    args = parser.parse_args()
    if args.capture:
        capture(*args.capture)
        return
    print(f"wrote {write_report(args.root.resolve())}")


if __name__ == "__main__":
    main()
