"""The task registry. Domains add their tasks to `blueprint`; the queue mounts it as namespace `archon`.

Tasks receive `context.additional_context["runtime"]`, the process's `Runtime`, and call services
through it: a job is a thin adapter like a REST route.
"""

from __future__ import annotations

import procrastinate

blueprint = procrastinate.Blueprint()


@blueprint.task(name="ping", pass_context=True)
async def ping(context: procrastinate.JobContext, message: str = "pong") -> str:
    """A trivial task used by health checks and tests to prove the worker runs."""
    return message


# Domain task modules register themselves on `blueprint` when imported; import them here so every
# process that builds a JobQueue (API, worker, MCP stdio) knows every task.
from archon.jobs import recovery as _recovery_tasks  # noqa: E402, F401
from archon.knowledge.crawling import tasks as _crawling_tasks  # noqa: E402, F401
from archon.knowledge.ingest import tasks as _ingest_tasks  # noqa: E402, F401
from archon.knowledge.local import tasks as _local_tasks  # noqa: E402, F401
from archon.knowledge.packs import tasks as _packs_tasks  # noqa: E402, F401
from archon.settings import tasks as _settings_tasks  # noqa: E402, F401
