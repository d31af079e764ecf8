"""R7: an upload job through a misbehaving OpenAI-compatible embedding provider (a stub on 127.0.0.1):
30 % `429` with Retry-After, 5 % `500`, then an outage (connection refused) of ARCHON_EMBED_OUTAGE_SECONDS
(6 here; `make test-reliability` runs 60). The job completes, every Retry-After is honoured, every chunk
has a non-zero vector; an exhausted quota fails the job at once with a clear message."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archon.jobs.service import JobService
from archon.knowledge.embeddings.openai import OpenAIEmbedder
from archon.knowledge.ingest.uploads import IncomingFile, UploadService
from archon.runtime import Runtime
from tests.conftest import LiveServer, free_port, make_settings

OUTAGE = float(os.environ.get("ARCHON_EMBED_OUTAGE_SECONDS", "6"))
RETRY_AFTER = 1.0 if OUTAGE < 30 else 2.0
DIMS = 8


@dataclass
class Provider:
    """Scripted faults by request number; records (arrival, status, retry_after) of every request."""

    gate: Gate
    outage_after: int = 6  # successful requests before the outage starts
    quota_exhausted: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    log: list[tuple[float, int, float | None]] = field(default_factory=list)
    successes: int = 0
    outage_started: float | None = None

    async def embeddings(self, request: Request) -> Response:
        body = json.loads(await request.body())
        now = time.monotonic()
        if self.quota_exhausted:
            return self._record(now, JSONResponse({"error": {"message": "You exceeded your current quota",
                                                             "code": "insufficient_quota"}}, 429))
        roll = self.rng.random()
        if roll < 0.30:
            return self._record(now, JSONResponse({"error": {"message": "rate limited", "code": "rate_limit_exceeded"}},
                                                  429, headers={"Retry-After": f"{RETRY_AFTER:g}"}), RETRY_AFTER)
        if roll < 0.35:
            return self._record(now, JSONResponse({"error": {"message": "internal error"}}, 500))
        self.successes += 1
        if self.successes == self.outage_after and self.outage_started is None:
            self.outage_started = now
            asyncio.get_running_loop().call_soon(self.gate.outage, OUTAGE)
        data = [{"object": "embedding", "index": i,
                 "embedding": [float(len(text) % 7 + 1)] + [float((hash(text) >> k) % 5) for k in range(DIMS - 1)]}
                for i, text in enumerate(body["input"])]
        return self._record(now, JSONResponse({"object": "list", "data": data, "model": body["model"]}))

    def _record(self, now: float, response: Response, retry_after: float | None = None) -> Response:
        self.log.append((now, response.status_code, retry_after))
        return response


class Gate:
    """A TCP forwarder in front of the stub: `outage(s)` closes it (connection refused) for `s` seconds."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.refused_until = 0.0

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    def outage(self, seconds: float) -> None:
        self.refused_until = time.monotonic() + seconds
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        asyncio.get_running_loop().call_later(seconds, lambda: asyncio.ensure_future(self.up()))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers.difference_update((writer, up_writer))


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    upstream_state: dict[str, Provider] = {}

    async def route(request: Request) -> Response:
        return await upstream_state["p"].embeddings(request)

    async with LiveServer(Starlette(routes=[Route("/v1/embeddings", route, methods=["POST"])])) as server:
        gate = Gate(server.port)
        await gate.up()
        upstream_state["p"] = state = Provider(gate)
        yield state
        await gate.close()


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, provider: Provider,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    if OUTAGE < 30:
        # The embedder's own retries (6 attempts, up to ~30 s) would absorb a short outage; with 3 the
        # short outage outlasts them, so the job-level wait-and-resume runs here too.
        defaults = OpenAIEmbedder.__init__.__kwdefaults__
        assert defaults is not None
        monkeypatch.setitem(defaults, "max_attempts", 3)
    settings = make_settings(database_url, tmp_path / "data", run_worker=True, embedding_provider="openai",
                             embedding_model="stub-embed", embedding_dimensions=DIMS, openai_api_key="sk-stub",
                             embedding_base_url=f"http://127.0.0.1:{provider.gate.port}/v1")
    rt = await Runtime.start(settings)
    yield rt
    await rt.stop()


def _files(n: int) -> list[IncomingFile]:
    # Chunks are embedded in batches of BATCH_SIZE; many small files make many requests.
    return [IncomingFile(f"fault-{i}.md", (f"# Fault tolerance {i}\n\n" + f"Paragraph {i} about retries. " * 30
                                           ).encode(), "text/markdown") for i in range(n)]


async def _finish(runtime: Runtime, job_id: str, timeout: float) -> Any:
    jobs = JobService(runtime.db)
    async with asyncio.timeout(timeout):
        while not (job := await jobs.get(job_id)).finished:
            await asyncio.sleep(0.2)
    return job


@pytest.mark.timeout(int(OUTAGE) + 240)
async def test_an_upload_survives_429s_500s_and_a_provider_outage(runtime: Runtime, provider: Provider) -> None:
    started = time.monotonic()
    job_id = await UploadService(runtime).upload(_files(12), knowledge_type="technical", tags=[],
                                                 extract_code_examples=False)
    job = await _finish(runtime, job_id, OUTAGE + 180)
    elapsed = time.monotonic() - started
    assert job.status == "completed", job.error
    assert provider.outage_started is not None, "the outage never started: too few requests"
    assert any("waiting" in line and "embedding provider" in line for line in job.log), job.log
    # Retry-After: no request reached the provider before the deadline a 429 set.
    early = [(t1 - t0, ra) for (t0, status, ra), (t1, _, _) in zip(provider.log, provider.log[1:], strict=False)
             if status == 429 and ra is not None and t1 - t0 < ra - 0.05]
    assert early == [], early
    async with runtime.db.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) AS chunks, count(e.chunk_id) AS vectors, "
            "count(*) FILTER (WHERE e.embedding IS NOT NULL AND vector_norm(e.embedding) = 0) AS zero "
            "FROM archon_chunks c LEFT JOIN archon_chunk_embeddings e ON e.chunk_id = c.id")).fetchone()
    assert row is not None and row["chunks"] >= 12 and row["vectors"] == row["chunks"] and row["zero"] == 0, row
    statuses = [s for _, s, _ in provider.log]
    assert statuses.count(429) and statuses.count(500), statuses
    # Work is not redone wholesale: successful requests stay within 1.5x the batches actually needed.
    needed = row["chunks"]  # upper bound on batches (one chunk per request at worst)
    assert provider.successes <= 1.5 * needed, (provider.successes, needed)
    print(f"\nR7: outage {OUTAGE:.0f} s; {len(statuses)} requests ({statuses.count(429)} x 429, "
          f"{statuses.count(500)} x 500, {provider.successes} ok); job completed after {elapsed:.1f} s; "
          f"{row['chunks']} chunks, 0 zero vectors")


async def test_an_exhausted_quota_fails_the_job_at_once_with_a_clear_message(runtime: Runtime,
                                                                             provider: Provider) -> None:
    provider.quota_exhausted = True
    started = time.monotonic()
    job_id = await UploadService(runtime).upload(_files(1), knowledge_type="technical", tags=[],
                                                 extract_code_examples=False)
    job = await _finish(runtime, job_id, 30)
    assert job.status == "error"
    assert "quota" in (job.error or "") and "nothing was stored" in (job.error or ""), job.error
    assert len(provider.log) == 1, "a quota error is final: no retries"
    async with runtime.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM archon_chunks")).fetchone()
    assert row is not None and row["n"] == 0
    print(f"\nR7 quota: job failed {time.monotonic() - started:.1f} s after the upload: {job.error}")
