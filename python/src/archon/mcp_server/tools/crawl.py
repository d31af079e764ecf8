"""Crawl tools: start a crawl of a documentation site and follow its progress."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from archon.errors import Invalid
from archon.jobs.service import JobService
from archon.knowledge.crawling.schemas import CrawlRequest
from archon.knowledge.crawling.service import CrawlService
from archon.mcp_server.toolkit import ToolRegistry

LOG_LINES = 5


class CrawlOptions(BaseModel):
    """How to crawl; every field is optional."""

    crawl_type: Literal["auto", "single", "sitemap", "llms_txt", "recursive"] = Field(
        "auto", description="auto tries llms.txt, then sitemap.xml, then follows links; single = this page only."
    )
    max_depth: int = Field(2, ge=0, le=10, description="Link depth when following links (0 = the page only).")
    max_pages: int = Field(100, ge=1, le=10_000, description="Stop after this many pages.")
    include_patterns: list[str] = Field(default_factory=list, description="Only URLs matching these globs.")
    exclude_patterns: list[str] = Field(default_factory=list, description="Skip URLs matching these globs.")
    same_path_prefix: bool = Field(False, description="Only follow links under the URL's directory.")
    knowledge_type: Literal["technical", "business", "general"] = "technical"
    tags: list[str] = Field(default_factory=list, description="Up to 10 labels for the source.")
    render: Literal["auto", "http", "browser"] | None = Field(
        None, description="browser for JavaScript-only sites (default: the server's default_render_mode setting)."
    )


class CrawlStartedResult(BaseModel):
    progress_id: str
    source_id: str
    status: str
    next_step: str


def _request(url: str, options: CrawlOptions) -> CrawlRequest:
    try:
        return CrawlRequest.model_validate({"url": url, **options.model_dump()})
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"invalid crawl request: {fields}") from None


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
        progress_id=str(data["progressId"]),
        kind=str(data.get("kind", "crawl")),
        status=status,
        finished=finished,
        percentage=float(data.get("percentage", 0)),
        current_url=str(data.get("currentUrl", "")),
        total_pages=int(data.get("totalPages", 0)),
        processed_pages=int(data.get("processedPages", 0)),
        chunks_stored=int(data.get("chunksStored", 0)),
        source_id=data.get("sourceId"),
        error=data.get("error"),
        recent_log=list(data.get("logs", []))[-LOG_LINES:],
        next_step=hint,
    )


def register(registry: ToolRegistry) -> None:
    @registry.tool(family="knowledge", title="Crawl a URL", open_world=True)
    async def crawl_url(
        url: Annotated[str, Field(description="The documentation site or page to index (http or https).")],
        options: Annotated[
            CrawlOptions | None, Field(description="Crawl type, depth, page limit, patterns, tags.")
        ] = None,
    ) -> CrawlStartedResult:
        """Start indexing a documentation site into Archon's knowledge base; returns at once with a progress_id.

        Use it when the user wants docs available for search. Crawling runs in the background: poll
        get_crawl_status(progress_id) until finished, then use search_knowledge. Private and local addresses
        are refused unless the operator allowed them.
        """
        started = await CrawlService(registry.runtime()).start_crawl(_request(url, options or CrawlOptions()))
        return CrawlStartedResult(
            progress_id=started.progressId,
            source_id=started.sourceId,
            status="queued",
            next_step=f"Call get_crawl_status(progress_id={started.progressId!r}) every few seconds until finished.",
        )

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
