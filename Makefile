# Archon: `make run` starts everything, `make test` runs the whole suite. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := python/.venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
LOCK := python/requirements.lock
STAMP := $(VENV)/.installed
UI := archon-ui-main
INSPECTOR := python/tests/mcp_server/inspector
APT_PACKAGES := chromium
# torch's CPU build (this pin is served from the machine's wheel cache; a bare `torch` pulls CUDA).
TORCH := torch==2.13.0

export CRAWL4AI_NO_CLOUD_NOTICE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

.PHONY: help install install-system install-python install-ui install-mcp-inspector run test test-python test-ui lint lock bench bench-smoke test-reliability fuzz docs clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: install-system install-python install-ui ## Install everything that is missing (idempotent)

install-system: ## Debian packages (chromium for browser crawling and dashboard tests)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (browser crawling and dashboard tests need them)"; fi; \
	fi

$(STAMP): $(LOCK) python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@$(PIP) install -q $(TORCH)
	@$(PIP) install -q -r $(LOCK)
	@$(PIP) install -q --no-deps -e python
	@touch $(STAMP)

install-python: $(STAMP) ## Python virtualenv with pinned dependencies (python/.venv/bin/archon)

install-ui: ## Dashboard: npm packages and the production build
	@if [ -f $(UI)/package.json ]; then \
	  if [ ! -d $(UI)/node_modules ] || [ $(UI)/package-lock.json -nt $(UI)/node_modules/.package-lock.json ]; then (cd $(UI) && npm ci --no-audit --no-fund --loglevel=error); fi; \
	  if [ ! -f $(UI)/dist/index.html ] || [ -n "$$(find $(UI)/src $(UI)/index.html $(UI)/package.json -newer $(UI)/dist/index.html 2>/dev/null | head -1)" ]; then (cd $(UI) && npm run build --silent); fi; \
	fi

install-mcp-inspector: ## MCP Inspector CLI (pinned, a third-party MCP client the test suite drives)
	@if [ ! -d $(INSPECTOR)/node_modules ] || [ $(INSPECTOR)/package-lock.json -nt $(INSPECTOR)/node_modules/.package-lock.json ]; then (cd $(INSPECTOR) && npm ci --no-audit --no-fund --loglevel=error); fi

run: install ## Start Archon: API :8080, MCP :8051, dashboard :3737, embedded Postgres, local embeddings
	$(VENV)/bin/archon serve

test: install install-mcp-inspector test-python test-ui ## Install what is missing and run the whole suite

test-python:
	cd python && .venv/bin/pytest -q --durations=15

test-reliability: install-python ## Long security/reliability runs: kill -9 chaos, DB outage, 60 s embedding outage, load, full schemathesis (~20 min)
	cd python && ARCHON_RELIABILITY=1 ARCHON_EMBED_OUTAGE_SECONDS=60 .venv/bin/pytest -q tests/reliability tests/jobs/test_embedding_faults.py

FUZZ_SECONDS ?= 60
FUZZ_FILES ?= 10000
fuzz: install-python ## Parser fuzzing (S7): atheris FUZZ_SECONDS per parser, then FUZZ_FILES mutated uploads (report in python/fuzz/out)
	cd python && .venv/bin/python -m fuzz.run --seconds $(FUZZ_SECONDS) --files $(FUZZ_FILES)

test-ui:
	@if [ -f $(UI)/package.json ]; then cd $(UI) && npm test --silent; fi

lint: install-python ## ruff and mypy
	cd python && .venv/bin/ruff check src tests && .venv/bin/mypy

docs: install-python ## Regenerate docs/api.md (REST, from OpenAPI) and docs/cli.md (from the CLI)
	cd python && .venv/bin/python scripts/gen_docs.py

bench: install-python ## Run the benchmarks (bench/run_all.sh; slow, never part of make test)
	bash bench/run_all.sh

bench-smoke: install-python ## Every benchmark with small sizes (~15 min); report in /tmp/archon-bench/smoke-tree/docs
	ARCHON_BENCH_SMOKE=1 bash bench/run_all.sh

lock: ## Re-pin Python dependencies from the current virtualenv
	@(echo "# Exact pins of every Python dependency (make install installs these, then archon itself with --no-deps)."; \
	  echo "# Regenerate with: make lock"; $(PIP) freeze | grep -v '^-e\|^#' | sed 's/+cpu$$//' | sort -f) > $(LOCK)

clean: ## Remove the virtualenv, node_modules and build output (keeps ./data)
	rm -rf $(VENV) $(UI)/node_modules $(UI)/dist
