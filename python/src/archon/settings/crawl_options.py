"""The crawl settings one crawl job runs with, read from the runtime settings when the job starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archon.settings.service import RuntimeSettingsService

if TYPE_CHECKING:
    from archon.runtime import Runtime
    from archon.settings.schemas import RagSettings


@dataclass(frozen=True)
class CrawlTuning:
    """Per-job crawl knobs: the defaults are the crawler's own (what it did before these were settings)."""

    concurrency: int = 6  # pages in flight (fetcher tasks) per crawl process
    per_host_rate: float | None = None  # requests per second per host (None: no limit besides Crawl-delay)
    page_timeout: float = 30.0  # seconds per HTTP fetch
    render: str = "auto"  # render mode when the request gives none
    respect_robots: bool = True  # when the request does not say

    @property
    def per_host_delay(self) -> float:
        """Seconds between two request starts on one host."""
        return 1.0 / self.per_host_rate if self.per_host_rate else 0.0

    @classmethod
    def of(cls, rag: RagSettings) -> CrawlTuning:
        return cls(concurrency=rag.crawl_concurrency, per_host_rate=rag.crawl_per_host_rate,
                   page_timeout=rag.page_timeout_seconds, render=rag.default_render_mode,
                   respect_robots=rag.respect_robots)


async def crawl_tuning(runtime: Runtime) -> CrawlTuning:
    """The current crawl settings (cached ~2 s; a PUT /api/settings applies to the next crawl job start)."""
    return CrawlTuning.of(await RuntimeSettingsService(runtime).current())
