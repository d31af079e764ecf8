"""MCP resources: every knowledge source and every project document, listed from the database."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import Resource

from archon.errors import ArchonError, NotFound
from archon.knowledge.search import SearchService
from archon.knowledge.service import KnowledgeService
from archon.mcp_server.toolkit import UNTRUSTED_NOTICE
from archon.projects.service import DocumentService, ProjectService
from archon.runtime import RuntimeHolder

SOURCE_URI = "archon://sources/{source_id}"
DOCUMENT_URI = "archon://projects/{project_id}/documents/{document_id}"
LIST_LIMIT = 500  # resources/list is not paginated by most clients: keep the answer bounded
PROJECTS_SCANNED = 100
PAGES_SHOWN = 100


async def _guarded(read: Callable[[], Awaitable[str]]) -> str:
    try:
        return await read()
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from None
    except ArchonError as exc:
        raise ResourceError(exc.message) from None


class ResourceProvider:
    """Lists the database-backed resources; reading goes through the URI templates registered below."""

    def __init__(self, holder: RuntimeHolder) -> None:
        self.holder = holder

    async def list(self) -> list[Resource]:
        """One resource per source and per project document (at most LIST_LIMIT in all)."""
        runtime = self.holder.runtime
        if runtime is None:
            return []
        resources = [
            Resource(
                uri=SOURCE_URI.format(source_id=s.source_id),
                name=s.title or s.url or s.source_id,
                title=s.title or None,
                mime_type="text/markdown",
                description=f"Knowledge source ({s.source_type}, {s.page_count} pages): {s.url or ''}".strip(),
            )
            for s in (await SearchService(runtime).sources())[:LIST_LIMIT]
        ]
        projects = (await ProjectService(runtime.db).list_projects(limit=PROJECTS_SCANNED)).projects
        documents = DocumentService(runtime.db)
        for project in projects:
            if len(resources) >= LIST_LIMIT:
                break
            for doc in await documents.list_documents(project.id):
                resources.append(
                    Resource(
                        uri=DOCUMENT_URI.format(project_id=project.id, document_id=doc.id),
                        name=doc.title,
                        title=doc.title,
                        mime_type="text/markdown",
                        description=f"{doc.document_type} in project {project.title!r} (version {doc.version})",
                    )
                )
        return resources[:LIST_LIMIT]


def register(server: MCPServer, holder: RuntimeHolder) -> ResourceProvider:
    """Register the resource templates on `server`; returns the provider `list_resources` uses."""

    @server.resource(
        SOURCE_URI,
        name="knowledge-source",
        mime_type="text/markdown",
        description="A knowledge source: its metadata and the list of its pages.",
    )
    async def read_source(source_id: str) -> str:
        async def read() -> str:
            service = KnowledgeService(holder.get())
            source = await service.get_source(source_id)
            pages = await service.list_pages(source_id, per_page=PAGES_SHOWN)
            meta = {
                "source_id": source.source_id,
                "title": source.title,
                "url": source.url,
                "type": source.source_type,
                "knowledge_type": source.knowledge_type,
                "tags": source.tags,
                "status": source.status,
                "pages": source.page_count,
                "chunks": source.chunk_count,
                "code_examples": source.code_example_count,
                "last_indexed_at": source.last_indexed_at.isoformat() if source.last_indexed_at else None,
            }
            lines = [
                f"# {source.title or source.url or source.source_id}",
                "",
                f"> {UNTRUSTED_NOTICE}",
                "",
                "```json",
                json.dumps(meta, indent=2),
                "```",
                "",
                f"## Pages ({pages.total})",
                "",
            ]
            lines += [
                f"- [{p.get('title') or p.get('url')}]({p.get('url')}) (page_id {p.get('id')})" for p in pages.items
            ]
            if pages.total > len(pages.items):
                lines.append(f"- … {pages.total - len(pages.items)} more; search with search_knowledge")
            return "\n".join(lines) + "\n"

        return await _guarded(read)

    @server.resource(
        DOCUMENT_URI,
        name="project-document",
        mime_type="text/markdown",
        description="A project document's current markdown content.",
    )
    async def read_document(project_id: str, document_id: str) -> str:
        async def read() -> str:
            doc = await DocumentService(holder.get().db).get(project_id, document_id)
            return f"# {doc.title}\n\n{doc.content or ''}\n"

        return await _guarded(read)

    return ResourceProvider(holder)
