"""The progress interface jobs report through; services never see WebSockets or the queue."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from archon.errors import ArchonError

if TYPE_CHECKING:
    from archon.jobs.service import JobService

# A cancelled() call hits the database at most this often; cancellation still lands within seconds.
_CANCEL_POLL_SECONDS = 0.5


class JobCancelled(ArchonError):
    """Raised inside a job when a user asked to stop it; the job runner records `cancelled`."""

    status = 409
    error = "cancelled"


class ProgressReporter:
    """Writes a job's progress to archon_jobs (published with NOTIFY) and answers "was I cancelled?"."""

    def __init__(self, jobs: JobService, job_id: str) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self._cancel_checked_at = 0.0
        self._cancelled = False

    async def update(
        self,
        *,
        status: str | None = None,
        percentage: float | None = None,
        current_url: str | None = None,
        total_pages: int | None = None,
        processed_pages: int | None = None,
        chunks_stored: int | None = None,
        log: str | None = None,
        **extra: Any,
    ) -> None:
        """Merge the given fields into the job's progress; `status` is the current step (e.g. 'crawling').

        The job's own state (queued/running/completed/error/cancelled) is managed by JobService;
        percentages never go backwards; `log` appends one line to a bounded tail.
        """
        fields: dict[str, Any] = {
            "stage": status,
            "currentUrl": current_url,
            "totalPages": total_pages,
            "processedPages": processed_pages,
            "chunksStored": chunks_stored,
        }
        fields.update(extra)
        await self.jobs.update_progress(
            self.job_id, {k: v for k, v in fields.items() if v is not None}, percentage=percentage, log=log)

    async def cancelled(self) -> bool:
        """True once a stop was requested (checked against the database at most twice a second)."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._cancel_checked_at >= _CANCEL_POLL_SECONDS:
            self._cancel_checked_at = now
            self._cancelled = await self.jobs.is_cancel_requested(self.job_id)
        return self._cancelled

    async def raise_if_cancelled(self) -> None:
        """Raise JobCancelled when a stop was requested; call it between units of work."""
        if await self.cancelled():
            raise JobCancelled("the job was cancelled")
