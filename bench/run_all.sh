#!/usr/bin/env bash
# Every benchmark, one after the other (`make bench`), then bench/report.py writes the summary table and
# plots of docs/benchmarks.md from the results files they wrote. Never part of `make test`.
# Add your benchmark below; keep each entry runnable on its own too. Sizes are ARCHON_BENCH_* knobs.
#
# ARCHON_BENCH_SMOKE=1 (`make bench-smoke`): every stage end to end with small sizes and the hashing
# embedder, in a copy of bench/ and docs/ under $ARCHON_BENCH_DIR/smoke-tree (its own databases under
# $ARCHON_BENCH_DIR/smoke), so the real results and docs/benchmarks.md are never touched: the smoke
# report is $ARCHON_BENCH_DIR/smoke-tree/docs/benchmarks.md with its PNGs in .../docs/img.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
export ARCHON_BENCH_DIR=${ARCHON_BENCH_DIR:-/tmp/archon-bench}

if [ "${ARCHON_BENCH_SMOKE:-0}" = 1 ] && [ -z "${ARCHON_BENCH_SMOKE_TREE:-}" ]; then
  tree="$ARCHON_BENCH_DIR/smoke-tree"
  rm -rf "$tree" && mkdir -p "$tree"
  cp -r bench docs "$tree"/
  ln -s "$ROOT/python" "$tree/python"  # the same virtualenv and archon code
  # Start from no results at all: every figure of the smoke report must come from this run.
  rm -rf "$tree"/bench/results "$tree"/bench/*/results*.json "$tree"/bench/search/scale.json "$tree"/bench/scaleout/hnsw_insert.json \
    "$tree"/docs/img/bench-*.png
  export ARCHON_BENCH_SMOKE_TREE=1 ARCHON_BENCH_DIR="$ARCHON_BENCH_DIR/smoke"
  : "${ARCHON_BENCH_EMBEDDER:=hash}" "${ARCHON_BENCH_CHUNKS:=3000}" "${ARCHON_BENCH_SEARCH_SECONDS:=3}"
  : "${ARCHON_BENCH_BOARD_TASKS:=40}" "${ARCHON_BENCH_BOARD_MOVES:=100}" "${ARCHON_BENCH_REEMBED_CHUNKS:=1000}"
  : "${ARCHON_BENCH_INGEST_PAGES:=40}" "${ARCHON_BENCH_INGEST_MODEL_PAGES:=5}"
  : "${ARCHON_BENCH_SCALE_SIZES:=1000,5000}" "${ARCHON_BENCH_SCALE_QUERIES:=20}" "${ARCHON_BENCH_SCALE_RUNS:=1}"
  : "${ARCHON_BENCH_STARTUP_RUNS:=1}" "${ARCHON_BENCH_STARTUP_EMBEDDER:=hash}"
  : "${ARCHON_BENCH_SCALEOUT_RUNS:=1}" "${ARCHON_BENCH_SCALEOUT_PAGES:=120}" "${ARCHON_BENCH_SCALEOUT_MODES:=unpinned,pinned}"
  : "${ARCHON_BENCH_PACK_PAGES:=100}" "${ARCHON_BENCH_HNSW_VECTORS:=2000}"
  export ARCHON_BENCH_EMBEDDER ARCHON_BENCH_CHUNKS ARCHON_BENCH_SEARCH_SECONDS ARCHON_BENCH_BOARD_TASKS \
    ARCHON_BENCH_BOARD_MOVES ARCHON_BENCH_REEMBED_CHUNKS ARCHON_BENCH_INGEST_PAGES ARCHON_BENCH_INGEST_MODEL_PAGES \
    ARCHON_BENCH_SCALE_SIZES ARCHON_BENCH_SCALE_QUERIES ARCHON_BENCH_SCALE_RUNS ARCHON_BENCH_STARTUP_RUNS \
    ARCHON_BENCH_STARTUP_EMBEDDER ARCHON_BENCH_SCALEOUT_RUNS ARCHON_BENCH_SCALEOUT_PAGES ARCHON_BENCH_SCALEOUT_MODES \
    ARCHON_BENCH_PACK_PAGES ARCHON_BENCH_HNSW_VECTORS
  echo "== smoke run in $tree (databases in $ARCHON_BENCH_DIR)"
  exec bash "$tree/bench/run_all.sh"
fi

PY=python/.venv/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RESULTS=bench/results  # results of the benchmarks that only print theirs (kept as JSON for bench/report.py)
mkdir -p "$RESULTS" "$ARCHON_BENCH_DIR"
STAGES=() FAILED=()

# A failing benchmark is reported and the others still run (the report shows what each last measured).
run() {
  echo "== $*"
  if "$PY" "$@"; then STAGES+=("$1"); else echo "!! $1 failed (exit $?)"; FAILED+=("$1"); fi
}
# capture NAME script args...: a benchmark that prints its result as JSON; saved as $RESULTS/NAME.json
capture() {
  local name=$1; shift
  echo "== $*"
  if "$PY" "$@" | tee "$ARCHON_BENCH_DIR/$name.stdout" \
      && "$PY" bench/report.py --capture "$ARCHON_BENCH_DIR/$name.stdout" "$RESULTS/$name.json"; then
    STAGES+=("$1")
  else
    echo "!! $1 failed"; FAILED+=("$1")
  fi
}
# keep SRC DEST: a benchmark's results file written outside the tree, kept with the others
keep() { if [ -f "$1" ]; then "$PY" bench/report.py --capture "$1" "$2"; fi; }

# Search (docs/benchmarks.md#search): quality first, it indexes the docs and caches the real vectors
# the speed benchmark reuses. Needs Debian's python3-doc (installed below when running as root).
if [ ! -d /usr/share/doc/python3.11-doc/html ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq python3-doc >/dev/null || (apt-get update -qq && apt-get install -y -qq python3-doc >/dev/null); fi
fi
run bench/quality/run.py
run bench/search/run.py --chunks "${ARCHON_BENCH_CHUNKS:-100000}" --seconds "${ARCHON_BENCH_SEARCH_SECONDS:-20}"

# Projects board
capture projects_board bench/projects_board.py --tasks "${ARCHON_BENCH_BOARD_TASKS:-200}" \
  --moves "${ARCHON_BENCH_BOARD_MOVES:-1000}"

# Model switch: re-embed throughput and search latency/errors during the switch (docs/settings.md)
capture settings_reembed bench/settings_reembed.py --chunks "${ARCHON_BENCH_REEMBED_CHUNKS:-20000}"

# Ingestion (docs/benchmarks.md#ingestion): crawl the Python 3.11 docs served on 127.0.0.1, end to end
rm -f "$ARCHON_BENCH_DIR/ingest.json"
run bench/ingest/run.py --pages "${ARCHON_BENCH_INGEST_PAGES:-530}" --model-pages "${ARCHON_BENCH_INGEST_MODEL_PAGES:-530}"
keep "$ARCHON_BENCH_DIR/ingest.json" "$RESULTS/ingest.json"

# Vector latency against corpus size: pgvector HNSW vs brute-force numpy (the plain alternative)
run bench/search/scale.py --sizes "${ARCHON_BENCH_SCALE_SIZES:-1000,10000,50000,100000}" \
  --numpy-sizes "${ARCHON_BENCH_SCALE_NUMPY_SIZES:-${ARCHON_BENCH_SCALE_SIZES:-1000,10000,50000,100000,300000}}" \
  --queries "${ARCHON_BENCH_SCALE_QUERIES:-100}" --runs "${ARCHON_BENCH_SCALE_RUNS:-3}"

# Cold start and memory of `archon serve` (docs/benchmarks.md#startup-and-memory)
run bench/startup/run.py --runs "${ARCHON_BENCH_STARTUP_RUNS:-3}" --embedder "${ARCHON_BENCH_STARTUP_EMBEDDER:-local}"

# Scale-out (docs/scale-out.md): workers in their own network namespaces, one Postgres over TCP (root only)
if [ "$(id -u)" = 0 ]; then
  run bench/scaleout/run.py --runs "${ARCHON_BENCH_SCALEOUT_RUNS:-3}" --max-pages "${ARCHON_BENCH_SCALEOUT_PAGES:-5000}" \
    --modes "${ARCHON_BENCH_SCALEOUT_MODES:-unpinned,pinned}"
else
  echo "== skipping bench/scaleout/run.py (needs root for ip netns)"
fi
# What one stored vector costs Postgres (HNSW maintenance), the main cost of the database per page
run bench/scaleout/hnsw_insert.py --vectors "${ARCHON_BENCH_HNSW_VECTORS:-15000}"

# Knowledge packs (docs/packs.md#performance): export, verify, import with vectors reused
rm -f "$ARCHON_BENCH_DIR/packs.json"
run bench/packs.py --pages "${ARCHON_BENCH_PACK_PAGES:-1000}"
keep "$ARCHON_BENCH_DIR/packs.json" "$RESULTS/packs.json"

# docs/benchmarks.md: the summary table and plots, from every results file
run bench/report.py
echo "== ${#STAGES[@]} stages ran: ${STAGES[*]}"
if [ ${#FAILED[@]} -gt 0 ]; then echo "!! ${#FAILED[@]} failed: ${FAILED[*]}"; exit 1; fi
