"""POST /api/documents/upload: streamed multipart parsing with the size limit enforced while reading."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from archon.api.deps import RuntimeDep
from archon.errors import Invalid, TooLarge, UnsupportedType
from archon.knowledge.ingest.formats import sanitize_filename
from archon.knowledge.ingest.uploads import IncomingFile, UploadService

router = APIRouter(tags=["knowledge"])

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the small form fields


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"upload exceeds MAX_UPLOAD_SIZE ({limit} bytes)",
                    detail=[{"field": "file", "message": f"at most {limit} bytes"}])


def _tags(values: list[str]) -> list[str]:
    """`tags` as a JSON array string (the seed's curl example) or as repeated fields."""
    if len(values) == 1 and values[0].strip().startswith("["):
        try:
            parsed = json.loads(values[0])
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
            raise Invalid("tags must be a JSON array of strings",
                          detail=[{"field": "tags", "message": "not a JSON array of strings"}])
        return parsed
    return [v for v in values if v.strip()]


def _flag(value: str | None, default: bool = True) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise Invalid("extract_code_examples must be true or false",
                  detail=[{"field": "extract_code_examples", "message": f"got {value[:20]!r}"}])


@router.post("/documents/upload")
async def upload_documents(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Multipart `file` (one or more), `knowledge_type`, `tags` -> `{"progressId"}`; the work runs as a job."""
    limit = runtime.settings.max_upload_size
    body_limit = limit + MULTIPART_OVERHEAD
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedType("send multipart/form-data with one or more `file` fields",
                              detail=[{"field": "file", "message": "not multipart/form-data"}])
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_limit:
        raise _too_large(limit)  # refused before a single body byte is read

    async def counted() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:  # a lying or absent Content-Length: stop reading right here
                raise _too_large(limit)
            yield chunk

    parser = MultiPartParser(request.headers, counted(), max_files=runtime.settings.upload_max_files,
                             max_fields=50, max_part_size=MULTIPART_OVERHEAD)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Invalid(f"invalid multipart upload: {exc.message}",
                      detail=[{"field": "file", "message": exc.message}]) from None
    try:
        uploads = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
        files = [IncomingFile(f.filename, await f.read(), f.content_type or "") for f in uploads]
        if sum(len(f.data) for f in files) > limit:
            raise _too_large(limit)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        tags = _tags([v for k, v in form.multi_items() if k == "tags" and isinstance(v, str)])
        job_id = await UploadService(runtime).upload(
            files, knowledge_type=fields.get("knowledge_type") or "technical", tags=tags,
            extract_code_examples=_flag(fields.get("extract_code_examples")))
    finally:
        await form.close()
    return {"success": True, "progressId": job_id, "message": "upload accepted; processing started",
            "filenames": [sanitize_filename(f.filename) for f in files]}
