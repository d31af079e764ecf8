"""One real `archon serve` (the container's CMD) and one local docs site, shared by the docs tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docs.live import ArchonProcess, DocsSite


@pytest.fixture(scope="session")
def docs_site() -> Iterator[DocsSite]:
    site = DocsSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def archon_server(docs_site: DocsSite) -> Iterator[ArchonProcess]:
    # The crawler refuses loopback targets (SSRF guard); the test site is allowed explicitly.
    server = ArchonProcess(extra_env={"ARCHON_CRAWL_ALLOWED_HOSTS": f"127.0.0.1:{docs_site.port}"})
    server.start()
    yield server
    server.stop()
