#!/usr/bin/env bash
# Every benchmark, one after the other (`make bench`). Never part of `make test`.
# Add your benchmark below; keep each entry runnable on its own too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python/.venv/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

run() { echo "== $*"; "$PY" "$@"; }

# Search (docs/benchmarks.md#search): quality first, it indexes the docs and caches the real vectors
# the speed benchmark reuses. Needs Debian's python3-doc (installed below when running as root).
if [ ! -d /usr/share/doc/python3.11-doc/html ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq python3-doc >/dev/null || (apt-get update -qq && apt-get install -y -qq python3-doc >/dev/null); fi
fi
run bench/quality/run.py
run bench/search/run.py --chunks "${ARCHON_BENCH_CHUNKS:-100000}"

# Projects board
[ -f bench/projects_board.py ] && run bench/projects_board.py

# Model switch: re-embed throughput and search latency/errors during the switch (docs/settings.md)
run bench/settings_reembed.py --chunks "${ARCHON_BENCH_REEMBED_CHUNKS:-20000}"

# Ingestion (docs/benchmarks.md#ingestion): crawl the Python 3.11 docs served on 127.0.0.1, end to end
run bench/ingest/run.py --model-pages "${ARCHON_BENCH_INGEST_MODEL_PAGES:-530}"

# Vector latency against corpus size: pgvector HNSW vs brute-force numpy (the plain alternative)
run bench/search/scale.py

# Cold start and memory of `archon serve` (docs/benchmarks.md#startup-and-memory)
run bench/startup/run.py --runs "${ARCHON_BENCH_STARTUP_RUNS:-3}"

# Scale-out (docs/scale-out.md): workers in their own network namespaces, one Postgres over TCP (root only)
if [ "$(id -u)" = 0 ]; then
  run bench/scaleout/run.py --runs "${ARCHON_BENCH_SCALEOUT_RUNS:-3}"
else
  echo "== skipping bench/scaleout/run.py (needs root for ip netns)"
fi

# docs/benchmarks.md: the summary table and plots, from every results file
run bench/report.py

# Knowledge packs (docs/packs.md#performance): export, verify, import with vectors reused
run bench/packs.py --pages "${ARCHON_BENCH_PACK_PAGES:-1000}"
