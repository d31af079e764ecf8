"""The REST API alone (no worker, no MCP listener) on a port, against a given database: for the speed bench."""

from __future__ import annotations

import os
import sys

import uvicorn

from archon.app import create_app
from archon.config import Settings


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(_env_file=None, database_url=url, embedding_provider="local",  # type: ignore[call-arg]
                        run_worker=False, log_level="WARNING", db_pool_max=20, data_dir=sys.argv[3],
                        rate_limit_enabled=False)  # 50 bench clients share one address
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_keep_alive=settings.http_keepalive_seconds)  # as `archon serve` does


if __name__ == "__main__":
    main()
