"""Reads whole pages (with a size cap) and the list of searchable sources."""

from __future__ import annotations

from typing import Any

from archon.db.pool import Database
from archon.errors import Invalid, NotFound
from archon.knowledge.search_models import PageContent, SourceSummary

_PAGE_COLUMNS = """
    id, source_id, url, title, word_count, indexed_at, length(markdown) AS total_chars,
    substr(markdown, %(offset)s + 1, %(cap)s) AS content
"""

_SOURCES = """
SELECT s.id AS source_id, s.title, s.url, s.source_type, s.knowledge_type, s.tags, s.status, s.last_indexed_at,
       coalesce(p.n, 0) AS page_count, coalesce(c.n, 0) AS chunk_count, coalesce(x.n, 0) AS code_example_count
FROM archon_sources s
LEFT JOIN (SELECT source_id, count(*) AS n FROM archon_pages GROUP BY source_id) p ON p.source_id = s.id
LEFT JOIN (SELECT source_id, count(*) AS n FROM archon_chunks GROUP BY source_id) c ON c.source_id = s.id
LEFT JOIN (SELECT source_id, count(*) AS n FROM archon_code_examples GROUP BY source_id) x ON x.source_id = s.id
ORDER BY s.title, s.id
"""


class PageReader:
    def __init__(self, db: Database, *, max_chars: int) -> None:
        self.db = db
        self.max_chars = max_chars

    def _params(self, offset: int) -> dict[str, Any]:
        if offset < 0:
            raise Invalid("offset: must not be negative", detail={"field": "offset"})
        if offset > 2**31 - 2:  # past any stored page; larger values do not fit SQL substr()'s integer
            raise Invalid("offset: too large", detail={"field": "offset"})
        return {"offset": offset, "cap": self.max_chars}

    def _content(self, row: dict[str, Any], offset: int) -> PageContent:
        total = int(row["total_chars"])
        if offset and offset >= total:
            raise Invalid(f"offset: the page has {total} characters", detail={"field": "offset"})
        end = offset + len(row["content"])
        truncated = end < total
        message = (f"Page is {total} characters; this response holds characters {offset}-{end}. "
                   f"Fetch the rest with offset={end}, or search for the section you need.") if truncated else None
        return PageContent(id=int(row["id"]), source_id=row["source_id"], url=row["url"], title=row["title"],
                           content=row["content"], word_count=int(row["word_count"]), total_chars=total,
                           offset=offset, next_offset=end if truncated else None, truncated=truncated,
                           message=message, indexed_at=row["indexed_at"])

    async def by_id(self, page_id: int, *, offset: int = 0) -> PageContent:
        params = self._params(offset) | {"id": page_id}
        async with self.db.connection() as conn:
            row = await (await conn.execute(f"SELECT {_PAGE_COLUMNS} FROM archon_pages WHERE id = %(id)s",
                                            params)).fetchone()
        if row is None:
            raise NotFound(f"page {page_id} not found", detail={"field": "page_id"})
        return self._content(row, offset)

    async def by_url(self, url: str, *, source_id: str | None = None, offset: int = 0) -> PageContent:
        url = url.replace("\x00", "")
        if not url.strip():
            raise Invalid("url: must not be empty", detail={"field": "url"})
        params = self._params(offset) | {"url": url.strip(), "source": source_id}
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_PAGE_COLUMNS} FROM archon_pages WHERE url = %(url)s "
                "AND (%(source)s::text IS NULL OR source_id = %(source)s::text) "
                "ORDER BY indexed_at DESC, id DESC LIMIT 1", params)).fetchone()
        if row is None:
            raise NotFound(f"no page stored for url {url!r}", detail={"field": "url"})
        return self._content(row, offset)

    async def sources(self) -> list[SourceSummary]:
        async with self.db.connection() as conn:
            rows = await (await conn.execute(_SOURCES)).fetchall()
        return [SourceSummary(source_id=r["source_id"], title=r["title"], url=r["url"], source_type=r["source_type"],
                              knowledge_type=r["knowledge_type"], tags=list(r["tags"]), status=r["status"],
                              page_count=int(r["page_count"]), chunk_count=int(r["chunk_count"]),
                              code_example_count=int(r["code_example_count"]), last_indexed_at=r["last_indexed_at"])
                for r in rows]
