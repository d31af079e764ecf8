"""REST routes for project documents and their versions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path

from archon.projects.deps import DocumentServiceDep
from archon.projects.schemas import (
    Document,
    DocumentCreate,
    DocumentRestore,
    DocumentType,
    DocumentUpdate,
    DocumentVersion,
)

router = APIRouter(prefix="/projects/{project_id}/docs", tags=["project documents"])

VersionNumber = Annotated[int, Path(ge=1, le=2_000_000_000)]


@router.get("", response_model=list[Document])
async def list_documents(project_id: UUID, service: DocumentServiceDep, include_content: bool = False,
                         document_type: DocumentType | None = None, q: str | None = None) -> list[Document]:
    """The project's documents, newest change first; `content` only with `include_content=true`."""
    return await service.list_documents(project_id, include_content=include_content, document_type=document_type, q=q)


@router.post("", response_model=Document, status_code=201)
async def create_document(project_id: UUID, body: DocumentCreate, service: DocumentServiceDep) -> Document:
    return await service.create(project_id, body)


@router.get("/{doc_id}", response_model=Document)
async def get_document(project_id: UUID, doc_id: UUID, service: DocumentServiceDep) -> Document:
    return await service.get(project_id, doc_id)


@router.patch("/{doc_id}", response_model=Document)
@router.put("/{doc_id}", response_model=Document)
async def update_document(project_id: UUID, doc_id: UUID, body: DocumentUpdate,
                          service: DocumentServiceDep) -> Document:
    """Change the given fields; each real change is a new version."""
    return await service.update(project_id, doc_id, body.model_dump(include=body.model_fields_set))


@router.delete("/{doc_id}")
async def delete_document(project_id: UUID, doc_id: UUID, service: DocumentServiceDep) -> dict[str, Any]:
    removed = await service.delete(project_id, doc_id)
    return {"document_id": str(doc_id), "deleted_versions": removed}


@router.get("/{doc_id}/versions", response_model=list[DocumentVersion])
async def list_versions(project_id: UUID, doc_id: UUID, service: DocumentServiceDep,
                        include_content: bool = False) -> list[DocumentVersion]:
    """Every version, newest first."""
    return await service.versions(project_id, doc_id, include_content=include_content)


@router.get("/{doc_id}/versions/{version}", response_model=DocumentVersion)
async def get_version(project_id: UUID, doc_id: UUID, version: VersionNumber,
                      service: DocumentServiceDep) -> DocumentVersion:
    return await service.get_version(project_id, doc_id, version)


@router.post("/{doc_id}/versions/{version}/restore", response_model=Document)
async def restore_version(project_id: UUID, doc_id: UUID, version: VersionNumber, service: DocumentServiceDep,
                          body: Annotated[DocumentRestore | None, Body()] = None) -> Document:
    """Make that version current again, recorded as a new version."""
    return await service.restore(project_id, doc_id, version, body)
