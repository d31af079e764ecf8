"""REST for knowledge packs: GET /api/knowledge-items/{source_id}/export, POST /api/knowledge-items/import."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from archon.api.deps import RuntimeDep
from archon.errors import Invalid, TooLarge, UnsupportedType
from archon.knowledge.packs.service import PackService

router = APIRouter(tags=["knowledge"])

_FORM_OVERHEAD = 64 * 1024


@router.get("/knowledge-items/{source_id}/export", response_class=Response,
            responses={200: {"description": "The knowledge pack", "content": {"application/zip": {}}}})
async def export_pack(source_id: str, runtime: RuntimeDep) -> Response:
    """Download the source as a knowledge pack (`application/zip`, see docs/packs.md)."""
    data = await PackService(runtime).export([source_id])
    safe = "".join(ch for ch in source_id if ch.isalnum() or ch in "-_")[:80] or "source"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{safe}.archon"'})


@router.post("/knowledge-items/import")
async def import_pack(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Multipart `file` (a pack) and optional `on_conflict` (replace|keep) -> `{"progressId"}`; runs as a job."""
    service = PackService(runtime)
    limit = service.max_bytes + _FORM_OVERHEAD
    too_large = TooLarge(f"pack exceeds ARCHON_PACK_MAX_BYTES ({service.max_bytes} bytes)",
                         detail=[{"field": "file", "message": f"at most {service.max_bytes} bytes"}])
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedType("send multipart/form-data with a `file` field",
                              detail=[{"field": "file", "message": "not multipart/form-data"}])
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large

    async def counted() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large
            yield chunk

    parser = MultiPartParser(request.headers, counted(), max_files=1, max_fields=10, max_part_size=_FORM_OVERHEAD)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Invalid(f"invalid multipart upload: {exc.message}",
                      detail=[{"field": "file", "message": exc.message}]) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("a `file` field with the pack is required", detail=[{"field": "file", "message": "missing"}])
        data = await upload.read()
        field = form.get("on_conflict")
        on_conflict = field if isinstance(field, str) and field else request.query_params.get("on_conflict",
                                                                                              "replace")
        job_id, source_ids = await service.start_import(data, filename=upload.filename or "pack.archon",
                                                        on_conflict=on_conflict)
    finally:
        await form.close()
    return {"success": True, "progressId": job_id, "sourceIds": source_ids,
            "message": "pack verified; import started"}
