"""Long reliability tests (`make test-reliability`): skipped by a plain `pytest`/`make test` unless
ARCHON_RELIABILITY=1 (except the `test_smoke_*` ones). Sizes scale with ARCHON_CHAOS_RUNS,
ARCHON_LOAD_SECONDS, ARCHON_LOAD_USERS."""

from __future__ import annotations

import os

import pytest

from tests.knowledge.crawling.conftest import _crawl4ai_home, site  # noqa: F401 - shared fixtures

ENABLED = os.environ.get("ARCHON_RELIABILITY") == "1"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="reliability suite: run `make test-reliability` (ARCHON_RELIABILITY=1)")
    for item in items:
        # `test_smoke_*`: one short variant of a long test that `make test` runs too (< 60 s).
        if "tests/reliability/" in str(item.fspath) and not item.name.startswith("test_smoke_"):
            item.add_marker(skip)
