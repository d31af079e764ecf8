"""Crawl tools: start a crawl of a documentation site and follow its progress."""

from typing import Annotated, Any

from pydantic import BaseModel, Field

from archon.jobs.service import JobService
from archon.mcp_server.toolkit import ToolRegistry

LOG_LINES = 5


class CrawlStatus(BaseModel):
    """Where a crawl (or upload) job stands."""

    progress_id: str
    kind: str
    status: str = Field(description="queued, running, completed, error or cancelled")
    finished: bool
    percentage: float
    current_url: str
    total_pages: int
    processed_pages: int
    chunks_stored: int
    source_id: str | None
    error: str | None
    recent_log: list[str]
    next_step: str


def crawl_status(data: dict[str, Any], *, finished: bool) -> CrawlStatus:
    """Shape a job's progress data (the REST progress object) for the model."""
    status = str(data.get("status", ""))
    if not finished:
        hint = "Call get_crawl_status again in a few seconds."
    elif status == "completed":
        hint = "Done: search it with search_knowledge (source_id filter optional)."
    else:
        hint = "The job did not complete; see error and recent_log."
    return CrawlStatus(
        progress_id=str(data["progressId"]), kind=str(data.get("kind", "crawl")), status=status, finished=finished,
        percentage=float(data.get("percentage", 0)), current_url=str(data.get("currentUrl", "")),
        total_pages=int(data.get("totalPages", 0)), processed_pages=int(data.get("processedPages", 0)),
        chunks_stored=int(data.get("chunksStored", 0)), source_id=data.get("sourceId"), error=data.get("error"),
        recent_log=list(data.get("logs", []))[-LOG_LINES:], next_step=hint)


def register(registry: ToolRegistry) -> None:
    @registry.tool(family="knowledge", title="Get crawl status", read_only=True)
    async def get_crawl_status(
        progress_id: Annotated[str, Field(description="The progress_id returned by crawl_url.")],
    ) -> CrawlStatus:
        """Check a crawl or upload job started earlier (crawl_url returns its progress_id).

        Returns status (queued, running, completed, error, cancelled), percentage, pages processed, chunks
        stored and the last log lines. Poll every few seconds until `finished` is true.
        """
        job = await JobService(registry.runtime().db).get(progress_id)
        return crawl_status(job.progress_data(), finished=job.finished)
