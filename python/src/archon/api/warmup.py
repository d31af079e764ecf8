"""Build FastAPI's per-route state at start-up instead of on the event loop during the first requests.

FastAPI (0.16x) prepares each included router's routes lazily, the first time a request is matched
through it: ~0.7 s of synchronous work on an idle 2-core machine (dependants, response-model adapters),
which stalled the loop for every request in flight when the first API calls arrived.
"""

from __future__ import annotations

import time

from starlette.applications import Starlette

# A path under every router's prefix that matches no route: matching it walks (and so builds) every router.
_WARMUP_SCOPE = {"type": "http", "method": "GET", "path": "/api/__warm_up__", "root_path": "", "headers": [],
                 "query_string": b""}


def warm_up_routes(app: Starlette) -> float:
    """Match one unrouted path against every route once; return the seconds it took."""
    started = time.perf_counter()
    for route in app.router.routes:
        route.matches(dict(_WARMUP_SCOPE))
    return time.perf_counter() - started
