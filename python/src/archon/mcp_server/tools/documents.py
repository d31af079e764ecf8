"""Project document tools: list, read, create and update documents, list and restore their versions."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from archon.errors import Invalid
from archon.mcp_server.toolkit import ToolRegistry
from archon.mcp_server.tools.projects import ProjectId, clip
from archon.projects.schemas import Document, DocumentVersion
from archon.projects.service import DocumentService

DocType = Literal["spec", "design", "note", "prd", "api", "guide"]
DocumentId = Annotated[str, Field(description="The document's id (from list_documents).")]
MAX_CONTENT = 30_000  # one document in get_document; the MCP resource holds the whole text
MAX_VERSIONS = 50


class DocumentSummary(BaseModel):
    id: UUID
    project_id: UUID
    document_type: str
    title: str
    tags: list[str]
    author: str
    version: int
    updated_at: datetime
    resource_uri: str


class DocumentList(BaseModel):
    project_id: str
    count: int
    documents: list[DocumentSummary]


class VersionSummary(BaseModel):
    version: int
    change_type: str
    change_summary: str
    title: str
    author: str
    created_at: datetime


class VersionList(BaseModel):
    document_id: str
    count: int
    versions: list[VersionSummary]


def resource_uri(project_id: UUID | str, document_id: UUID | str) -> str:
    """The MCP resource URI of a project document."""
    return f"archon://projects/{project_id}/documents/{document_id}"


def _full(doc: Document) -> Document:
    return doc.model_copy(update={"content": clip(doc.content, MAX_CONTENT)})


def _summary(doc: Document) -> DocumentSummary:
    return DocumentSummary(
        id=doc.id,
        project_id=doc.project_id,
        document_type=doc.document_type,
        title=doc.title,
        tags=doc.tags,
        author=doc.author,
        version=doc.version,
        updated_at=doc.updated_at,
        resource_uri=resource_uri(doc.project_id, doc.id),
    )


def _version(v: DocumentVersion) -> VersionSummary:
    return VersionSummary(
        version=v.version,
        change_type=v.change_type,
        change_summary=v.change_summary,
        title=v.title,
        author=v.author,
        created_at=v.created_at,
    )


def register(registry: ToolRegistry) -> None:
    def service() -> DocumentService:
        return DocumentService(registry.runtime().db)

    @registry.tool(family="tasks", title="List project documents", read_only=True)
    async def list_documents(
        project_id: ProjectId,
        document_type: Annotated[DocType | None, Field(description="Only this kind of document.")] = None,
        query: Annotated[str | None, Field(description="Words to find in titles or content.")] = None,
    ) -> DocumentList:
        """List a project's documents (specs, designs, notes, PRDs, API docs, guides), newest change first.

        Returns ids and titles without content; use get_document to read one.
        """
        docs = await service().list_documents(project_id, document_type=document_type, q=query)
        return DocumentList(project_id=project_id, count=len(docs), documents=[_summary(d) for d in docs])

    @registry.tool(family="tasks", title="Get a document", read_only=True)
    async def get_document(
        document_id: DocumentId,
        project_id: Annotated[str | None, Field(description="The document's project (optional).")] = None,
    ) -> Document:
        """Read one project document with its markdown content, type, tags, author and current version."""
        doc = await (service().get(project_id, document_id) if project_id else service().find(document_id))
        return _full(doc)

    @registry.tool(family="tasks", title="Create a document")
    async def create_document(
        project_id: ProjectId,
        title: Annotated[str, Field(description="The document's title.")],
        content: Annotated[str, Field(description="The document's markdown.")] = "",
        document_type: Annotated[DocType, Field(description="spec, design, note, prd, api or guide.")] = "note",
        tags: Annotated[list[str] | None, Field(description="Labels.")] = None,
        author: Annotated[str, Field(description="Who writes it (your agent name).")] = "Archon",
    ) -> Document:
        """Create a document in a project (its first version); returns it with its id."""
        data: dict[str, Any] = {
            "title": title,
            "content": content,
            "document_type": document_type,
            "tags": tags or [],
            "author": author,
        }
        return _full(await service().create(project_id, data))

    @registry.tool(family="tasks", title="Update a document", idempotent=True)
    async def update_document(
        project_id: ProjectId,
        document_id: DocumentId,
        title: Annotated[str | None, Field(description="New title.")] = None,
        content: Annotated[str | None, Field(description="New markdown (replaces the old content).")] = None,
        document_type: Annotated[DocType | None, Field(description="New type.")] = None,
        tags: Annotated[list[str] | None, Field(description="New labels (replace the old ones).")] = None,
        change_summary: Annotated[str, Field(description="One line on what changed, kept in the history.")] = "",
        expected_version: Annotated[
            int | None, Field(ge=1, description="Fail if someone changed the document since this version.")
        ] = None,
    ) -> Document:
        """Change a document; every change is saved as a new version (list_document_versions shows them)."""
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "title": title,
                "content": content,
                "document_type": document_type,
                "tags": tags,
                "expected_version": expected_version,
            }.items()
            if v is not None
        }
        if not changes.keys() - {"expected_version"}:
            raise Invalid("nothing to update: give title, content, document_type or tags")
        changes["change_summary"] = change_summary
        return _full(await service().update(project_id, document_id, changes))

    @registry.tool(family="tasks", title="List document versions", read_only=True)
    async def list_document_versions(project_id: ProjectId, document_id: DocumentId) -> VersionList:
        """List a document's versions, newest first (version number, change type, summary, author, time)."""
        versions = await service().versions(project_id, document_id)
        return VersionList(
            document_id=document_id, count=len(versions), versions=[_version(v) for v in versions[:MAX_VERSIONS]]
        )

    @registry.tool(family="tasks", title="Restore a document version", idempotent=True)
    async def restore_document_version(
        project_id: ProjectId,
        document_id: DocumentId,
        version: Annotated[int, Field(ge=1, description="The version number to bring back.")],
    ) -> Document:
        """Make an earlier version current again. History is kept: the restore is saved as a new version."""
        return _full(await service().restore(project_id, document_id, version))
