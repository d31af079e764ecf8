"""The projects domain's services, one module per sub-resource; import them from here.

    from archon.projects.service import ProjectService, TaskService, DocumentService
    tasks = TaskService(runtime.db)
"""

from archon.projects.document_service import DocumentService
from archon.projects.project_service import ProjectService
from archon.projects.task_service import TaskService

__all__ = ["DocumentService", "ProjectService", "TaskService"]
