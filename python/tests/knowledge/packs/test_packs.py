from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from archon.errors import Conflict
from archon.jobs.service import JobService
from archon.knowledge.embeddings.hashing import HashingEmbedder
from archon.knowledge.packs import archive
from archon.knowledge.packs.service import PackService
from archon.knowledge.search import SearchService, forget_active_model
from archon.knowledge.search_models import SearchFilters
from archon.knowledge.service import KnowledgeService
from archon.runtime import Runtime
from tests.knowledge.packs.conftest import wait_job
from tests.knowledge.search_corpus import BIZ, DOCS, link_project, load_corpus

QUERIES = ("connection pool", "pricing plan", "async def", "refund policy")


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    forget_active_model()


async def _ranked(runtime: Runtime, source: str) -> list[list[tuple[str, str, float]]]:
    service = SearchService(runtime)
    out = []
    for query in QUERIES:
        response = await service.query(query, match_count=5, filters=SearchFilters(source_ids=(source,)),
                                        rerank=False)
        out.append([(r.url, r.content, round(r.score, 6)) for r in response.results])
    return out


async def _counts(runtime: Runtime, source: str) -> dict[str, int]:
    return await KnowledgeService(runtime).repository.counts(source)


async def test_pack_round_trip_gives_identical_search_results(runtime: Runtime) -> None:
    await load_corpus(runtime)
    before = {s: await _ranked(runtime, s) for s in (DOCS, BIZ)}
    counts = {s: await _counts(runtime, s) for s in (DOCS, BIZ)}
    assert any(before[DOCS]) and counts[DOCS]["chunk_count"] > 0
    service = PackService(runtime)
    data = await service.export([DOCS, BIZ])
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    e = runtime.embedder
    assert manifest["embedding_model"] == {"provider": e.provider, "model": e.model, "dimensions": e.dimensions}
    assert manifest["counts"]["chunks"] == counts[DOCS]["chunk_count"] + counts[BIZ]["chunk_count"]
    assert set(manifest["files"]) == set(archive.DATA_MEMBERS)
    knowledge = KnowledgeService(runtime)
    await knowledge.delete_source(DOCS)
    await knowledge.delete_source(BIZ)

    job_id, ids = await service.start_import(data)
    job = await wait_job(runtime, job_id)
    assert job.status == "completed", job.error
    assert ids == [DOCS, BIZ] and job.progress["vectorsReused"] is True
    for s in (DOCS, BIZ):
        assert await _counts(runtime, s) == counts[s]
        assert (await knowledge.get_source(s)).status == "ready"
    assert {s: await _ranked(runtime, s) for s in (DOCS, BIZ)} == before
    sources = await knowledge.list_sources(per_page=100)
    assert not [s for s in sources.items if s.source_id.startswith("import_")]


async def test_replace_is_atomic_and_keeps_project_links(runtime: Runtime) -> None:
    await load_corpus(runtime)
    project = await link_project(runtime, BIZ)
    service = PackService(runtime)
    data = await service.export([BIZ])
    with pytest.raises(Conflict):
        await service.start_import(data, on_conflict="keep")
    job = await wait_job(runtime, (await service.start_import(data, on_conflict="replace"))[0])
    assert job.status == "completed", job.error
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM archon_project_sources WHERE source_id = %s "
                                        "AND project_id = %s", (BIZ, project))).fetchone()
    assert row is not None and row["n"] == 1
    assert (await _counts(runtime, BIZ))["chunk_count"] > 0


async def test_import_with_another_model_re_embeds(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = PackService(runtime)
    data = await service.export([DOCS])
    await KnowledgeService(runtime).delete_source(DOCS)
    runtime.embedder = HashingEmbedder(model="hash-other", dimensions=96)  # a different active configuration
    job = await wait_job(runtime, (await service.start_import(data))[0])
    assert job.status == "completed", job.error
    assert job.progress["vectorsReused"] is False
    async with runtime.db.connection() as conn:
        rows = await (await conn.execute(
            "SELECT m.model, m.dimensions, count(*) AS n FROM archon_chunk_embeddings e "
            "JOIN archon_embedding_models m ON m.id = e.model_id WHERE e.source_id = %s GROUP BY 1, 2",
            (DOCS,))).fetchall()
    assert [(r["model"], r["dimensions"]) for r in rows] == [("hash-other", 96)]
    assert rows[0]["n"] == (await _counts(runtime, DOCS))["chunk_count"]


# --- hostile and broken archives ---------------------------------------------------------
def _good_pack() -> bytes:
    buffer = io.BytesIO()
    writer = archive.PackWriter(buffer)
    writer.write_jsonl(archive.SOURCES, [{"source_id": "src_x", "source_type": "url", "knowledge_type": "technical",
                                          "tags": [], "url": "https://x.test/", "title": "X"}])
    writer.write_jsonl(archive.PAGES, [{"source_id": "src_x", "url": "https://x.test/a", "markdown": "# A\n\nhello",
                                        "content_hash": "h", "title": "A"}])
    writer.write_jsonl(archive.CHUNKS, [{"page": 0, "chunk_index": 0, "content": "hello"}])
    writer.write_jsonl(archive.CODE_EXAMPLES, [])
    writer.write_vectors(archive.CHUNK_VECTORS, np.ones((1, 4), dtype=np.float32))
    writer.write_vectors(archive.CODE_VECTORS, np.zeros((0, 4), dtype=np.float32))
    writer.finish({"format": archive.PACK_FORMAT, "pack_format_version": 1, "schema_version": 1,
                   "embedding_model": {"provider": "hash", "model": "m", "dimensions": 4},
                   "counts": {"sources": 1, "pages": 1, "chunks": 1, "code_examples": 0}})
    return buffer.getvalue()


def _rewrite(pack: bytes, change: dict[str, bytes | None], *, extra: list[zipfile.ZipInfo] | None = None,
             method: int = zipfile.ZIP_DEFLATED) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(pack))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as out:
        for info in src.infolist():
            data = change.get(info.filename, src.read(info.filename))
            if data is not None:
                out.writestr(info.filename, data)
        for info in extra or []:
            out.writestr(info, b"x")
    return buffer.getvalue()


def _manifest_with(**fields: object) -> bytes:
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(_good_pack())).read("manifest.json"))
    manifest.update(fields)
    return json.dumps(manifest).encode()


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("sources.jsonl.lnk")
    info.external_attr = (0o120777 << 16)
    return info


HOSTILE = {
    "not_a_zip": lambda: b"hello, not a zip",
    "truncated": lambda: _good_pack()[:-40],
    "path_traversal": lambda: _rewrite(_good_pack(), {}, extra=[zipfile.ZipInfo("../../etc/evil")]),
    "absolute_path": lambda: _rewrite(_good_pack(), {}, extra=[zipfile.ZipInfo("/tmp/evil")]),
    "symlink": lambda: _rewrite(_good_pack(), {}, extra=[_symlink()]),
    "unknown_member": lambda: _rewrite(_good_pack(), {}, extra=[zipfile.ZipInfo("payload.sh")]),
    "missing_member": lambda: _rewrite(_good_pack(), {archive.CODE_VECTORS: None}),
    "wrong_checksum": lambda: _rewrite(_good_pack(), {archive.CHUNKS: b'{"page":0,"content":"evil"}\n'}),
    "bad_manifest": lambda: _rewrite(_good_pack(), {archive.MANIFEST: b"{not json"}),
    "future_version": lambda: _rewrite(_good_pack(), {archive.MANIFEST: _manifest_with(pack_format_version=99)}),
    "wrong_counts": lambda: _rewrite(_good_pack(), {archive.MANIFEST: _manifest_with(
        counts={"sources": 1, "pages": 1, "chunks": 2, "code_examples": 0})}),
    "zip_bomb": lambda: _rewrite(_good_pack(), {archive.PAGES: b" " * (9 * 1024 * 1024)}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_archives_are_refused(name: str) -> None:
    with pytest.raises(archive.PackError) as caught:
        archive.read_pack(HOSTILE[name](), max_bytes=8 * 1024 * 1024)
    assert caught.value.status == 422 and "invalid knowledge pack" in caught.value.message


def test_good_pack_is_accepted() -> None:
    pack = archive.read_pack(_good_pack(), max_bytes=8 * 1024 * 1024)
    assert pack.chunk_vectors.shape == (1, 4) and pack.pages[0]["url"] == "https://x.test/a"


def test_ratio_bomb_under_the_size_limit_is_refused() -> None:
    bomb = _rewrite(_good_pack(), {archive.PAGES: b"\0" * (6 * 1024 * 1024)})
    with pytest.raises(archive.PackError, match="zip bomb"):
        archive.read_pack(bomb, max_bytes=8 * 1024 * 1024)


def test_zero_vectors_and_nul_characters_are_refused() -> None:
    zero = _rewrite(_good_pack(), {})
    pack = zipfile.ZipFile(io.BytesIO(zero))
    manifest = json.loads(pack.read("manifest.json"))
    vectors = np.zeros((1, 4), dtype="<f4").tobytes()
    manifest["files"][archive.CHUNK_VECTORS]["sha256"] = hashlib.sha256(vectors).hexdigest()
    bad = _rewrite(zero, {archive.CHUNK_VECTORS: vectors, archive.MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(archive.PackError, match="all-zero"):
        archive.read_pack(bad, max_bytes=1 << 20)
    chunks = b'{"page":0,"chunk_index":0,"content":"a","metadata":{"k":"\\u0000"}}\n'
    manifest = json.loads(pack.read("manifest.json"))
    manifest["files"][archive.CHUNKS] = {"sha256": hashlib.sha256(chunks).hexdigest(), "bytes": len(chunks)}
    nul = _rewrite(zero, {archive.CHUNKS: chunks, archive.MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(archive.PackError, match="NUL"):
        archive.read_pack(nul, max_bytes=1 << 20)


async def test_a_failure_while_writing_leaves_the_old_source_intact(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = PackService(runtime)
    before = await _ranked(runtime, DOCS)
    counts = await _counts(runtime, DOCS)
    pack = service.verify(await service.export([DOCS]))
    pack.chunk_vectors = pack.chunk_vectors.copy()
    pack.chunk_vectors[-1] = 0  # the last page's write fails (the repository refuses zero vectors)
    jobs = JobService(runtime.db)
    job_id = await jobs.create("import", {})
    with pytest.raises(ValueError, match="zero vector"):
        await service.import_pack(pack, on_conflict="replace", reporter=jobs.reporter(job_id))
    assert await _counts(runtime, DOCS) == counts
    assert await _ranked(runtime, DOCS) == before
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM archon_sources WHERE id LIKE 'import_%%'")
                     ).fetchone()
    assert row is not None and row["n"] == 0


async def test_a_retried_import_removes_what_the_dead_attempt_left(runtime: Runtime) -> None:
    await load_corpus(runtime)
    service = PackService(runtime)
    pack = service.verify(await service.export([BIZ]))
    jobs = JobService(runtime.db)
    job_id = await jobs.create("import", {})
    leftover = f"import_{job_id.replace('-', '')[:12]}_deadbeef"
    await service.repository.create_staging_source(leftover, pack.sources[0])
    result = await service.import_pack(pack, on_conflict="replace", reporter=jobs.reporter(job_id))
    assert result["importedSources"] == [BIZ]
    assert not await service.repository.exists(leftover)


async def test_halfvec_models_export_and_import(runtime: Runtime) -> None:
    from archon.knowledge.embedding_models import EmbeddingModelRepository

    await load_corpus(runtime)
    service = PackService(runtime)
    first = await service.export([BIZ])
    await KnowledgeService(runtime).delete_source(BIZ)
    runtime.embedder = HashingEmbedder(model="hash-wide", dimensions=2100)  # > 2000: stored as halfvec
    job = await wait_job(runtime, (await service.start_import(first))[0])
    assert job.status == "completed", job.error
    models = EmbeddingModelRepository(runtime.db)
    wide = await models.ensure("hash", "hash-wide", 2100)
    assert wide.uses_halfvec
    await models.activate(wide.id)
    forget_active_model()
    second = service.verify(await service.export([BIZ]))
    assert second.model["dimensions"] == 2100 and second.chunk_vectors.shape[1] == 2100
    assert len(second.chunks) == (await _counts(runtime, BIZ))["chunk_count"] > 0
