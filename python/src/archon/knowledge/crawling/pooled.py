"""The page pipeline with its CPU-bound prepare step run in the converter process pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archon.knowledge.crawling.pool import shared_pool
from archon.knowledge.ingest.pipeline import IndexResult, PagePipeline
from archon.knowledge.models import PageInput

if TYPE_CHECKING:
    from archon.runtime import Runtime


class PooledPipeline(PagePipeline):
    """The page pipeline with its CPU-bound prepare step (cleaning, chunking) done in the converter pool,
    so both cores work and the event loop stays free; storage and embedding are unchanged."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._prepared: dict[str, PageInput] = {}

    async def index_pooled(self, source_id: str, **fields: Any) -> IndexResult:
        """index_document(source_id, **fields) with prepare() run in a worker process."""
        prepare_fields = {k: v for k, v in fields.items() if k != "skip_if_unchanged"}
        options = await self.load_options()
        await self.follow_active_model()  # chunk for the model that will embed the page
        page = await shared_pool().prepare(self.embedder.max_tokens, options, **prepare_fields)
        if page is not None:
            self._prepared[fields["url"]] = page
        try:
            return await self.index_document(source_id, **fields)
        finally:
            self._prepared.pop(fields["url"], None)

    def prepare(self, *, url: str, markdown: str, title: str = "", etag: str | None = None,
                last_modified: str | None = None, extract_code: bool = True, section_order: int | None = None,
                metadata: dict[str, Any] | None = None) -> PageInput:
        page = self._prepared.pop(url, None)
        if page is not None:
            return page
        return super().prepare(url=url, markdown=markdown, title=title, etag=etag, last_modified=last_modified,
                               extract_code=extract_code, section_order=section_order, metadata=metadata)
