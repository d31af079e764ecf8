"""Retrieval quality on the Python 3.11 docs: Recall@5, MRR@10, nDCG@10 per search mode and a BM25 baseline.

Usage: python bench/quality/run.py [--out results.json]
Indexes the corpus with the real local model on first use (vectors cached under $ARCHON_BENCH_DIR).
Metrics are page-level (results in `pages` mode; a page is relevant when listed for the query).
Fusion parameters are tuned on the even-numbered queries and reported on the odd-numbered ones too,
so the defaults are not fitted to the very queries they are judged on.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ensure_python_docs, open_runtime, selected_pages
from queries import selected
from rank_bm25 import BM25Okapi

from archon.knowledge.fusion import FusionConfig, group_pages, rrf
from archon.knowledge.search import SearchService, fusion_config
from archon.knowledge.search_models import SearchFilters

BASE = "https://docs.python.org/3.11/"


def metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    top5, top10 = ranked[:5], ranked[:10]
    recall5 = len(set(top5) & relevant) / len(relevant)
    mrr = next((1 / i for i, p in enumerate(top10, 1) if p in relevant), 0.0)
    dcg = sum(1 / math.log2(i + 1) for i, p in enumerate(top10, 1) if p in relevant)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(relevant), 10) + 1))
    return {"recall@5": recall5, "mrr@10": mrr, "ndcg@10": dcg / ideal, "hit@5": float(bool(set(top5) & relevant))}


def mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in rows[0]} if rows else {}


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def fused_pages(rows: dict[int, dict[str, Any]], config: FusionConfig, extra: float) -> list[str]:
    vector = sorted((k for k, r in rows.items() if r["distance"] is not None), key=lambda k: (rows[k]["distance"], k))
    keyword = sorted((k for k, r in rows.items() if r["keyword_score"] is not None),
                     key=lambda k: (-rows[k]["keyword_score"], k))
    heads = {k for k in keyword if (rows[k]["heading_rank"] or 0) > 0}
    partial = {k for k in keyword if rows[k]["keyword_score"] < 1}  # neither every term nor an identifier
    fused = rrf(vector, keyword, config=config, heading_hits=heads, partial_hits=partial)
    groups = group_pages([(f.key, rows[f.key]["url"], f.score) for f in fused], limit=10, extra_chunk_weight=extra)
    return [str(g.page).removeprefix(BASE) for g in groups]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--all", action="store_true", help="all queries (embeds ~4,000 chunks instead of ~2,000)")
    args = parser.parse_args()
    queries = selected(args.all)
    runtime = await open_runtime("quality")
    try:
        # The corpus is the union of the relevant pages of the queries run (a pooled corpus): every query
        # competes with the pages of all the others.
        pages = selected_pages(sorted({p for _, rel in queries for p in rel}))
        await ensure_python_docs(runtime, pages)
        start_fast = getattr(runtime.embedder, "start_fast_path", None)
        fast = start_fast() if start_fast else None
        if fast is not None:  # every query on the same path: the ONNX query model once it is ready
            await asyncio.to_thread(fast.join)
        chunks = sum(len(p.chunks) for p in pages)
        service = SearchService(runtime)
        report: dict[str, Any] = {"corpus": {"pages": len(pages), "chunks": chunks, "queries": len(queries)},
                                  "query_path": getattr(runtime.embedder, "query_path", runtime.embedder.provider)}
        per_mode: dict[str, list[dict[str, float]]] = {}
        timings: dict[str, list[float]] = {}
        for mode in ("keyword", "vector", "hybrid"):
            rows = []
            for query, relevant in queries:
                started = time.perf_counter()
                response = await service.query(query, match_count=10, return_mode="pages", search_mode=mode)
                timings.setdefault(mode, []).append((time.perf_counter() - started) * 1000)
                ranked = [r.url.removeprefix(BASE) for r in response.results]
                rows.append(metrics(ranked, set(relevant)))
            per_mode[mode] = rows
        # BM25 over whole pages (rank-bm25, Okapi defaults): the plain baseline.
        bm25 = BM25Okapi([tokens(p.title + " " + p.markdown) for p in pages])
        paths = [p.path for p in pages]
        bm_rows = []
        for query, relevant in queries:
            scores = bm25.get_scores(tokens(query))
            ranked = [paths[i] for i in sorted(range(len(paths)), key=lambda i: -scores[i])[:10]]
            bm_rows.append(metrics(ranked, set(relevant)))
        per_mode["bm25-pages"] = bm_rows
        report["modes"] = {m: mean(r) for m, r in per_mode.items()}
        report["mean_ms"] = {m: round(sum(t) / len(t), 1) for m, t in timings.items()}
        print(json.dumps(report["modes"], indent=2), flush=True)
        report["tuning"] = await tune(service, queries)
        report["per_query"] = {m: [round(r["ndcg@10"], 3) for r in rows] for m, rows in per_mode.items()}
        print(json.dumps({k: v for k, v in report.items() if k != "per_query"}, indent=2))
        args.out.write_text(json.dumps(report, indent=2))
    finally:
        await runtime.stop()


async def tune(service: SearchService, queries: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Grid over RRF k, keyword weight, heading weight and page aggregation; tuned on even queries."""
    candidates = []
    for query, relevant in queries:
        rows, _, _ = await service._candidates(query, target="chunks", want=60, filters=SearchFilters(),
                                               search_mode="hybrid")
        candidates.append((rows, set(relevant)))
    grid = []
    for k, kw, head, extra, part in itertools.product((5, 10, 20, 60), (0.5, 0.75, 1.0, 1.5), (0.0, 0.25),
                                                      (0.0, 0.1), (1.0, 0.5, 0.25)):
        config = FusionConfig(k=k, keyword_weight=kw, heading_weight=head, partial_factor=part)
        ms = [metrics(fused_pages(rows, config, extra), rel) for rows, rel in candidates]
        scores = [m["ndcg@10"] for m in ms]
        even, odd = scores[0::2], scores[1::2]
        grid.append({"k": k, "keyword_weight": kw, "heading_weight": head, "extra_chunk_weight": extra,
                     "partial_factor": part,
                     "ndcg_even": round(sum(even) / len(even), 4), "ndcg_odd": round(sum(odd) / len(odd), 4),
                     "ndcg_all": round(sum(scores) / len(scores), 4),
                     "recall5_all": round(sum(m["recall@5"] for m in ms) / len(ms), 4),
                     "mrr_all": round(sum(m["mrr@10"] for m in ms) / len(ms), 4)})
    grid.sort(key=lambda g: -g["ndcg_even"])
    d = fusion_config(await service.settings.current())
    default = next(g for g in grid if (g["k"], g["keyword_weight"], g["heading_weight"], g["extra_chunk_weight"],
                                       g["partial_factor"]) == (d.k, d.keyword_weight, d.heading_weight, 0.1,
                                                                d.partial_factor))
    return {"best_on_even": grid[0], "current_default": default, "top10": grid[:10]}


if __name__ == "__main__":
    asyncio.run(main())
