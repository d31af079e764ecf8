"""SQL for uploads: one transaction creates the sources, the job and the stored file bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from archon.db.pool import Database
from archon.jobs.events import SOURCE_ADDED, notify_knowledge
from archon.jobs.service import JobService


@dataclass(frozen=True)
class NewFile:
    source_id: str
    filename: str
    fmt: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    id: int
    filename: str
    status: str
    size_bytes: int


class UploadRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, files: list[NewFile], *, knowledge_type: str, tags: list[str],
                     extract_code_examples: bool) -> str:
        """Store sources, job and bytes atomically; return the job id."""
        jobs = JobService(self.db)
        async with self.db.transaction() as conn:
            for f in files:
                await conn.execute(
                    "INSERT INTO archon_sources (id, source_type, url, title, knowledge_type, tags, config, status) "
                    "VALUES (%s, 'file', %s, %s, %s, %s, %s, 'pending')",
                    (f.source_id, f"file://{f.filename}", f.filename, knowledge_type, tags,
                     json.dumps({"filename": f.filename, "format": f.fmt, "size_bytes": len(f.data)})))
            params: dict[str, Any] = {
                "knowledge_type": knowledge_type, "tags": tags, "extract_code_examples": extract_code_examples,
                "source_ids": [f.source_id for f in files],
                "files": [{"source_id": f.source_id, "filename": f.filename, "format": f.fmt,
                           "size_bytes": len(f.data)} for f in files],
            }
            job_id = await jobs.create("upload", params, files[0].source_id, conn=conn)
            for index, f in enumerate(files):
                await conn.execute(
                    "INSERT INTO archon_upload_files (job_id, filename, content_type, size_bytes, sha256, data) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (job_id, f"{index:04d}:{f.filename}", f.content_type, len(f.data),
                     hashlib.sha256(f.data).hexdigest(), f.data))
            for f in files:
                await notify_knowledge(conn, SOURCE_ADDED, sourceId=f.source_id)
        return job_id

    async def files(self, job_id: str) -> list[StoredFile]:
        """The job's files in upload order (without their bytes)."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT id, filename, status, size_bytes FROM archon_upload_files WHERE job_id = %s ORDER BY filename",
                (job_id,))).fetchall()
        return [StoredFile(int(r["id"]), str(r["filename"]), str(r["status"]), int(r["size_bytes"])) for r in rows]

    async def data(self, file_id: int) -> bytes:
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT data FROM archon_upload_files WHERE id = %s",
                                            (file_id,))).fetchone()
        return bytes(row["data"]) if row else b""

    async def finish(self, file_id: int, status: str, error: str | None = None) -> None:
        """Mark a file done (its bytes are dropped: the page's markdown is kept) or failed."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE archon_upload_files SET status = %s, error = %s, "
                "data = CASE WHEN %s = 'done' THEN ''::bytea ELSE data END WHERE id = %s",
                (status, error, status, file_id))
