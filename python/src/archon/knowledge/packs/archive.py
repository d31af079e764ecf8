"""The knowledge-pack archive (pure): write members with checksums, and read an untrusted pack safely.

A pack is a zip file with a fixed set of member names (see docs/packs.md). Reading never extracts
to disk: every member is read into memory through a counted, bounded stream after the central
directory (names, sizes, types, count) was checked, so a hostile archive is refused before any
decompression work and the database is never touched by an invalid pack.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from archon.errors import Invalid

PACK_FORMAT = "archon-pack"
PACK_FORMAT_VERSION = 1
SCHEMA_VERSION = 1  # the shape of the JSON Lines rows below; bump on an incompatible change

MANIFEST = "manifest.json"
SOURCES = "sources.jsonl"
PAGES = "pages.jsonl"
CHUNKS = "chunks.jsonl"
CODE_EXAMPLES = "code_examples.jsonl"
CHUNK_VECTORS = "chunk_vectors.f32"
CODE_VECTORS = "code_vectors.f32"
DATA_MEMBERS = (SOURCES, PAGES, CHUNKS, CODE_EXAMPLES, CHUNK_VECTORS, CODE_VECTORS)
MEMBERS = (MANIFEST, *DATA_MEMBERS)
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_RATIO = 200  # compressed -> uncompressed; text compresses ~5-10x, a bomb 1000x+


class PackError(Invalid):
    """The archive is not a valid, intact knowledge pack; nothing was changed."""

    error = "invalid_pack"


def _refuse(message: str) -> PackError:
    return PackError(f"invalid knowledge pack: {message}", detail=[{"field": "file", "message": message}])


@dataclass
class PackContents:
    """A verified pack, fully in memory."""

    manifest: dict[str, Any]
    sources: list[dict[str, Any]]
    pages: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    code_examples: list[dict[str, Any]]
    chunk_vectors: np.ndarray
    code_vectors: np.ndarray

    @property
    def model(self) -> dict[str, Any]:
        return dict(self.manifest["embedding_model"])


class PackWriter:
    """Writes members into a zip, hashing as it goes; `finish(manifest)` adds the manifest with checksums."""

    def __init__(self, target: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.files: dict[str, dict[str, Any]] = {}

    def write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> None:
        """One JSON object per line, UTF-8."""
        self.write_bytes(name, b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()
                                        + b"\n" for r in rows))

    def write_vectors(self, name: str, vectors: np.ndarray) -> None:
        """Row-major little-endian float32, no header (the shape is in the manifest)."""
        self.write_bytes(name, np.ascontiguousarray(vectors, dtype="<f4").tobytes())

    def write_bytes(self, name: str, data: bytes) -> None:
        self.zip.writestr(name, data)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def finish(self, manifest: dict[str, Any]) -> None:
        """Add manifest.json (with the member checksums) and close the zip."""
        self.zip.writestr(MANIFEST, json.dumps({**manifest, "files": self.files}, indent=2, ensure_ascii=False))
        self.zip.close()


def _check_directory(zf: zipfile.ZipFile, *, max_bytes: int, archive_size: int) -> None:
    infos = zf.infolist()
    if len(infos) > len(MEMBERS):
        raise _refuse(f"{len(infos)} members; a pack has at most {len(MEMBERS)}")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
            raise _refuse(f"member {name[:100]!r} has an absolute or parent-relative path")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(f"member {name[:100]!r} is a symbolic link")
        if name not in MEMBERS:
            raise _refuse(f"unexpected member {name[:100]!r}")
        if name in seen:
            raise _refuse(f"member {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise _refuse(f"member {name!r} is encrypted")
        seen.add(name)
        total += info.file_size
    if total > max_bytes:
        raise _refuse(f"{total} bytes uncompressed exceed the limit of {max_bytes} (ARCHON_PACK_MAX_BYTES)")
    if total > MAX_RATIO * max(archive_size, 1) and total > 1024 * 1024:
        raise _refuse(f"compression ratio {total // max(archive_size, 1)}:1 looks like a zip bomb")
    missing = [m for m in MEMBERS if m not in seen]
    if missing:
        raise _refuse(f"missing member(s) {', '.join(missing)}")


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The member's bytes, refusing more than `limit` whatever the header claims."""
    out = io.BytesIO()
    try:
        with zf.open(name) as stream:
            while block := stream.read(1024 * 1024):
                if out.tell() + len(block) > limit:
                    raise _refuse(f"member {name!r} is larger than declared")
                out.write(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _refuse(f"member {name!r} is corrupted ({type(exc).__name__})") from None
    return out.getvalue()


def _jsonl(name: str, data: bytes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise _refuse(f"{name} line {number} is not JSON") from None
        if not isinstance(row, dict):
            raise _refuse(f"{name} line {number} is not an object")
        rows.append(row)
    return rows


def _check_manifest(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise _refuse("manifest.json is not an Archon pack manifest")
    version = manifest.get("pack_format_version")
    if not isinstance(version, int) or version > PACK_FORMAT_VERSION or version < 1:
        raise _refuse(f"pack format version {version!r} is not supported (this Archon reads {PACK_FORMAT_VERSION})")
    model = manifest.get("embedding_model")
    if (not isinstance(model, dict) or not isinstance(model.get("provider"), str)
            or not isinstance(model.get("model"), str) or not isinstance(model.get("dimensions"), int)
            or not 1 <= model["dimensions"] <= 16000):
        raise _refuse("manifest.json embedding_model needs provider, model and dimensions (1-16000)")
    files, counts = manifest.get("files"), manifest.get("counts")
    if not isinstance(files, dict) or not isinstance(counts, dict):
        raise _refuse("manifest.json needs files and counts")
    for name in DATA_MEMBERS:
        entry = files.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or not isinstance(entry.get("bytes"), int):
            raise _refuse(f"manifest.json has no checksum for {name}")
    return manifest


def _vectors(name: str, data: bytes, rows: int, dims: int) -> np.ndarray:
    if len(data) != rows * dims * 4:
        raise _refuse(f"{name} holds {len(data)} bytes, expected {rows} x {dims} float32")
    array = np.frombuffer(data, dtype="<f4").reshape(rows, dims)
    if rows and not np.all(np.isfinite(array)):
        raise _refuse(f"{name} contains NaN or infinite values")
    if rows and not np.all(np.any(array != 0, axis=1)):
        raise _refuse(f"{name} contains an all-zero vector")
    return array


def read_pack(data: bytes, *, max_bytes: int) -> PackContents:
    """Verify and load a pack: directory checks, bounded reads, checksums, manifest and row shapes."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise _refuse("not a zip archive, or truncated") from None
    with zf:
        _check_directory(zf, max_bytes=max_bytes, archive_size=len(data))
        raw_manifest = _read_member(zf, MANIFEST, MAX_MANIFEST_BYTES)
        try:
            manifest = _check_manifest(json.loads(raw_manifest))
        except ValueError:
            raise _refuse("manifest.json is not JSON") from None
        members: dict[str, bytes] = {}
        for name in DATA_MEMBERS:
            expected = manifest["files"][name]
            body = _read_member(zf, name, min(max_bytes, int(expected["bytes"])))
            if hashlib.sha256(body).hexdigest() != expected["sha256"]:
                raise _refuse(f"checksum mismatch for {name}")
            members[name] = body
    contents = PackContents(
        manifest=manifest, sources=_jsonl(SOURCES, members[SOURCES]), pages=_jsonl(PAGES, members[PAGES]),
        chunks=_jsonl(CHUNKS, members[CHUNKS]), code_examples=_jsonl(CODE_EXAMPLES, members[CODE_EXAMPLES]),
        chunk_vectors=np.empty((0, 0)), code_vectors=np.empty((0, 0)))
    dims = int(manifest["embedding_model"]["dimensions"])
    contents.chunk_vectors = _vectors(CHUNK_VECTORS, members[CHUNK_VECTORS], len(contents.chunks), dims)
    contents.code_vectors = _vectors(CODE_VECTORS, members[CODE_VECTORS], len(contents.code_examples), dims)
    _check_rows(contents)
    return contents


def _strings(pack: PackContents) -> list[str]:
    """Every text value a row carries (NUL cannot be stored in Postgres text)."""
    out: list[str] = []
    for rows in (pack.sources, pack.pages, pack.chunks, pack.code_examples):
        for row in rows:
            out.extend(json.dumps(v) if not isinstance(v, str) else v for v in row.values())
    return out


def _check_rows(pack: PackContents) -> None:
    """Every row has the fields import needs, and references stay inside the pack."""
    source_ids = set()
    for s in pack.sources:
        if not isinstance(s.get("source_id"), str) or not s["source_id"] or len(s["source_id"]) > 200:
            raise _refuse("sources.jsonl: every source needs a source_id (1-200 characters)")
        source_ids.add(s["source_id"])
    if not source_ids:
        raise _refuse("the pack holds no source")
    if any("\x00" in text or "\\u0000" in text for text in _strings(pack)):
        raise _refuse("a text field contains a NUL character")
    for i, p in enumerate(pack.pages):
        if p.get("source_id") not in source_ids or not isinstance(p.get("url"), str) \
                or not isinstance(p.get("markdown"), str) or not isinstance(p.get("content_hash"), str):
            raise _refuse(f"pages.jsonl row {i + 1} is incomplete or names an unknown source")
    for name, rows, text_key in ((CHUNKS, pack.chunks, "content"), (CODE_EXAMPLES, pack.code_examples, "code")):
        for i, row in enumerate(rows):
            page = row.get("page")
            if not isinstance(page, int) or not 0 <= page < len(pack.pages) or not isinstance(row.get(text_key), str):
                raise _refuse(f"{name} row {i + 1} is incomplete or points at no page")
    counts = pack.manifest["counts"]
    actual = {"sources": len(pack.sources), "pages": len(pack.pages), "chunks": len(pack.chunks),
              "code_examples": len(pack.code_examples)}
    for key, value in actual.items():
        if counts.get(key) != value:
            raise _refuse(f"manifest counts say {counts.get(key)!r} {key}, the pack holds {value}")
