"""Dependency providers that hand routers the projects services of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from archon.api.deps import RuntimeDep
from archon.projects.service import DocumentService, ProjectService, TaskService


def get_project_service(runtime: RuntimeDep) -> ProjectService:
    return ProjectService(runtime.db)


def get_task_service(runtime: RuntimeDep) -> TaskService:
    return TaskService(runtime.db)


def get_document_service(runtime: RuntimeDep) -> DocumentService:
    return DocumentService(runtime.db)


ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]
TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]
DocumentServiceDep = Annotated[DocumentService, Depends(get_document_service)]
