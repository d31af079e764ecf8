"""Start-up self-check: pgvector must really work with 384-dimension vectors and an HNSW index.

A 3-dimension smoke test has passed on builds that then crashed on real data (platform notes),
so this inserts real-sized vectors, builds HNSW and checks the index-ordered answer.
"""

from __future__ import annotations

import random

import psycopg

from archon.errors import Unavailable

_DIM = 384
_ROWS = 200


def _vector(rng: random.Random) -> str:
    return "[" + ",".join(f"{rng.gauss(0, 1):.5f}" for _ in range(_DIM)) + "]"


def check_pgvector(conninfo: str) -> None:
    """Raise `Unavailable` with a clear message if pgvector cannot serve HNSW queries."""
    rng = random.Random(384)
    rows = [(i, _vector(rng)) for i in range(_ROWS)]
    query = rows[17][1]
    try:
        with psycopg.connect(conninfo, autocommit=False) as conn:
            conn.execute("CREATE TEMP TABLE archon_selfcheck (id int, v vector(384)) ON COMMIT DROP")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO archon_selfcheck VALUES (%s, %s::vector)", rows)
            conn.execute("CREATE INDEX ON archon_selfcheck USING hnsw (v vector_cosine_ops)")
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                str(r[0])
                for r in conn.execute(
                    "EXPLAIN SELECT id FROM archon_selfcheck ORDER BY v <=> %s::vector LIMIT 5", (query,)
                ).fetchall()
            )
            found = conn.execute(
                "SELECT id FROM archon_selfcheck ORDER BY v <=> %s::vector LIMIT 5", (query,)
            ).fetchall()
            conn.rollback()
    except psycopg.Error as exc:
        raise Unavailable(f"pgvector self-check failed: {exc}. Is the pgvector extension (>= 0.5) installed?") from exc
    if "archon_selfcheck_v_idx" not in plan:
        raise Unavailable("pgvector self-check failed: the HNSW index was not used for an ordered query")
    if not found or found[0][0] != 17:
        raise Unavailable("pgvector self-check failed: HNSW returned a wrong nearest neighbour")
