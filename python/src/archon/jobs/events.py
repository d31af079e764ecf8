"""Postgres NOTIFY channels: how any process tells every API process that something changed."""

from __future__ import annotations

import json
from typing import Any

from archon.db.pool import Connection

PROGRESS_CHANNEL = "archon_progress"  # payload: a job id; listeners re-read the job row
KNOWLEDGE_CHANNEL = "archon_knowledge"  # payload: a small JSON event for the dashboard

SOURCE_ADDED = "source_added"
SOURCE_UPDATED = "source_updated"
SOURCE_DELETED = "source_deleted"
JOB_FINISHED = "job_finished"


async def notify_progress(conn: Connection, job_id: str) -> None:
    """Tell listeners that job `job_id` changed (delivered when the surrounding transaction commits)."""
    await conn.execute("SELECT pg_notify(%s, %s)", (PROGRESS_CHANNEL, job_id))


async def notify_knowledge(conn: Connection, event: str, **data: Any) -> None:
    """Publish a knowledge-base change such as `source_added` with its ids (kept far below NOTIFY's 8 kB)."""
    payload = json.dumps({"type": event, "data": data}, default=str)
    await conn.execute("SELECT pg_notify(%s, %s)", (KNOWLEDGE_CHANNEL, payload))
