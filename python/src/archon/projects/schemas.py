"""Request and response models for projects, tasks, project documents, versions and source links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from archon.errors import Invalid

TaskStatus = Literal["todo", "doing", "review", "done"]
TaskPriority = Literal["low", "medium", "high", "critical"]
DocumentType = Literal["spec", "design", "note", "prd", "api", "guide"]
SourceRelation = Literal["technical", "business"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("todo", "doing", "review", "done")

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Markdown = Annotated[str, StringConstraints(max_length=1_000_000)]

M = TypeVar("M", bound=BaseModel)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def reject_nul(value: str | None, field: str) -> str | None:
    """Postgres text cannot hold NUL characters: refuse them as a 422 instead of failing in the database."""
    if value is not None and "\x00" in value:
        raise Invalid(f"{field}: must not contain NUL characters",
                      detail=[{"field": field, "message": "must not contain NUL characters"}])
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


def coerce(model: type[M], data: M | Mapping[str, Any]) -> M:
    """Validate `data` as `model`; a bad field becomes `Invalid` (422) naming the field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        detail = [{"field": ".".join(str(p) for p in e["loc"]) or "request", "message": e["msg"]}
                  for e in exc.errors()]
        raise Invalid("invalid request: " + "; ".join(f"{d['field']}: {d['message']}" for d in detail),
                      detail=detail) from None


def parse_id(value: UUID | str, field: str) -> UUID:
    """A UUID from a caller's string; a malformed one is a 422 naming the field, never a 500."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise Invalid(f"{field}: not a valid id: {str(value)[:64]!r}",
                      detail=[{"field": field, "message": "not a valid UUID"}]) from None


# --- projects --------------------------------------------------------------------
class ProjectCreate(_Input):
    title: Title
    description: Markdown = ""
    github_repo: str | None = Field(None, max_length=500)
    pinned: bool = False
    prd: dict[str, Any] = Field(default_factory=dict)
    features: list[Any] = Field(default_factory=list)
    data: list[Any] = Field(default_factory=list)
    technical_sources: list[str] = Field(default_factory=list)
    business_sources: list[str] = Field(default_factory=list)


class ProjectUpdate(_Input):
    """Only the fields present are changed; `github_repo: null` clears it."""

    title: Title | None = None
    description: Markdown | None = None
    github_repo: str | None = Field(None, max_length=500)
    pinned: bool | None = None
    prd: dict[str, Any] | None = None
    features: list[Any] | None = None
    data: list[Any] | None = None


class TaskCounts(BaseModel):
    todo: int = 0
    doing: int = 0
    review: int = 0
    done: int = 0
    archived: int = 0


class Project(BaseModel):
    id: UUID
    title: str
    description: str
    github_repo: str | None
    pinned: bool
    prd: dict[str, Any]
    features: list[Any]
    data: list[Any]
    created_at: datetime
    updated_at: datetime
    task_counts: TaskCounts = Field(default_factory=TaskCounts)
    technical_sources: list[str] = Field(default_factory=list)
    business_sources: list[str] = Field(default_factory=list)


class ProjectList(BaseModel):
    projects: list[Project]
    total: int


class ProjectDeleted(BaseModel):
    """What a confirmed project delete removed."""

    project_id: UUID
    title: str
    tasks: int
    documents: int
    document_versions: int
    source_links: int


# --- sources ---------------------------------------------------------------------
class SourceLinkRequest(_Input):
    source_id: ShortText
    relation: SourceRelation = "technical"


class LinkedSource(BaseModel):
    source_id: str
    relation: SourceRelation
    title: str
    url: str | None
    linked_at: datetime


# --- tasks -----------------------------------------------------------------------
class TaskCreate(_Input):
    project_id: UUID
    title: Title
    description: Markdown = ""
    status: TaskStatus = "todo"
    assignee: ShortText = "User"
    priority: TaskPriority = "medium"
    feature: str | None = Field(None, max_length=200)
    task_order: int | None = Field(None, ge=0, description="position in its status column; default: last")
    parent_task_id: UUID | None = None
    sources: list[Any] = Field(default_factory=list)
    code_examples: list[Any] = Field(default_factory=list)


class TaskCreateInProject(_Input):
    """`POST /api/projects/{id}/tasks`: the project comes from the path."""

    title: Title
    description: Markdown = ""
    status: TaskStatus = "todo"
    assignee: ShortText = "User"
    priority: TaskPriority = "medium"
    feature: str | None = Field(None, max_length=200)
    task_order: int | None = Field(None, ge=0)
    parent_task_id: UUID | None = None
    sources: list[Any] = Field(default_factory=list)
    code_examples: list[Any] = Field(default_factory=list)


class TaskUpdate(_Input):
    """Partial update; `status`/`task_order` move the task (see `TaskService.move`)."""

    title: Title | None = None
    description: Markdown | None = None
    status: TaskStatus | None = None
    assignee: ShortText | None = None
    priority: TaskPriority | None = None
    feature: str | None = Field(None, max_length=200)
    task_order: int | None = Field(None, ge=0)
    parent_task_id: UUID | None = None
    sources: list[Any] | None = None
    code_examples: list[Any] | None = None


class TaskMove(_Input):
    status: TaskStatus
    position: int | None = Field(None, ge=0, description="0-based index in the target column; default: last")


class TaskArchive(_Input):
    archived_by: ShortText = "User"


class Task(BaseModel):
    id: UUID
    project_id: UUID
    parent_task_id: UUID | None
    title: str
    description: str
    status: TaskStatus
    assignee: str
    priority: TaskPriority
    feature: str | None
    task_order: int
    sources: list[Any]
    code_examples: list[Any]
    archived: bool
    archived_at: datetime | None
    archived_by: str | None
    created_at: datetime
    updated_at: datetime


class TaskQuery(_Input):
    project_id: UUID | None = None
    status: list[TaskStatus] | None = None
    assignee: str | None = None
    feature: str | None = None
    parent_task_id: UUID | None = None
    top_level_only: bool = False
    q: str | None = Field(None, max_length=500)
    include_archived: bool = False
    include_closed: bool = True
    exclude_large_fields: bool = False
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class TaskList(BaseModel):
    tasks: list[Task]
    total: int
    limit: int
    offset: int


class TaskDeleted(BaseModel):
    task_id: UUID
    deleted_tasks: int = Field(description="the task and its subtasks")


class TaskMoved(BaseModel):
    """A moved task and the resulting order of the columns it left and entered."""

    task: Task
    columns: dict[str, list[UUID]]


# --- documents -------------------------------------------------------------------
class DocumentCreate(_Input):
    document_type: DocumentType = "note"
    title: Title
    content: Markdown = ""
    tags: list[ShortText] = Field(default_factory=list, max_length=50)
    author: ShortText = "User"
    change_summary: str = Field("", max_length=1000)


class DocumentUpdate(_Input):
    """Only the fields present change; a change creates a new version."""

    document_type: DocumentType | None = None
    title: Title | None = None
    content: Markdown | None = None
    tags: list[ShortText] | None = Field(None, max_length=50)
    author: ShortText | None = None
    change_summary: str = Field("", max_length=1000)
    expected_version: int | None = Field(None, ge=1, description="409 if the document moved on meanwhile")


class DocumentRestore(_Input):
    author: ShortText | None = None
    change_summary: str | None = Field(None, max_length=1000)


class Document(BaseModel):
    id: UUID
    project_id: UUID
    document_type: DocumentType
    title: str
    content: str | None
    tags: list[str]
    author: str
    version: int
    created_at: datetime
    updated_at: datetime


class DocumentVersion(BaseModel):
    document_id: UUID
    version: int
    document_type: DocumentType
    title: str
    content: str | None
    tags: list[str]
    author: str
    change_type: Literal["create", "update", "restore"]
    change_summary: str
    created_at: datetime
