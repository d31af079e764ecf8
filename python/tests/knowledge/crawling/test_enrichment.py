"""Contextual embeddings and LLM code summaries in a real crawl job, against a local OpenAI-compatible
chat stub on 127.0.0.1 that records every request (the remote chat API is the only thing faked)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archon.knowledge.ingest.chat import MAX_ATTEMPTS, ChatClient
from archon.knowledge.ingest.enrichment import CONCURRENCY, FAILURES_BEFORE_OFF, one_line
from archon.knowledge.ingest.pipeline import embedding_text
from archon.knowledge.models import ChunkInput
from archon.runtime import Runtime
from archon.settings.credentials import CredentialService
from archon.settings.reembed_repository import CHUNKS, ReembedRepository
from archon.settings.schemas import CredentialCreate
from archon.settings.service import RuntimeSettingsService
from tests.conftest import LiveServer
from tests.knowledge.crawling.conftest import run_crawl
from tests.knowledge.crawling.site import Response as SiteResponse
from tests.knowledge.crawling.site import Site

CANARY_KEY = "sk-chat-canary-7f3a9d"
CONTEXT_MARK = "CTXMARK"
SUMMARY_MARK = "SUMMARYMARK"
LEAD = "The widget factory assembles widgets from parts."


class ChatStub:
    """Answers chat completions (or replays `script` first); records bodies, auth headers and times."""

    def __init__(self) -> None:
        self.script: list[Response] = []
        self.always: Response | None = None
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.times: list[float] = []

    async def completions(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(body)
        self.auth.append(request.headers.get("authorization", ""))
        self.times.append(time.monotonic())
        if self.script:
            return self.script.pop(0)
        if self.always is not None:
            return self.always
        system = body["messages"][0]["content"]
        if "situate" in system:
            chunk = body["messages"][1]["content"].split("<chunk>\n", 1)[1]
            answer = f"{CONTEXT_MARK} {len(chunk)}: part of the widget guide.\nignored second line"
        else:
            answer = f"{SUMMARY_MARK}: builds a widget with the factory."
        return JSONResponse({"id": "x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": "stop"}]})


@pytest.fixture
async def chat() -> AsyncIterator[tuple[ChatStub, str]]:
    stub = ChatStub()
    app = Starlette(routes=[Route("/v1/chat/completions", stub.completions, methods=["POST"])])
    async with LiveServer(app) as server:
        yield stub, f"{server.url}/v1"


def _page() -> bytes:
    sections = "".join(
        f"<h2>Part {i}</h2><p>{f'Section {i} explains widget assembly step {i} in detail. ' * 22}</p>"
        for i in range(5))
    code = ("from widgets import Factory\n\nfactory = Factory(parts=['gear', 'spring'])\n"
            "widget = factory.assemble(color='blue', size=3)\nprint(widget.describe())\n")
    return (f"<html><head><title>Widget guide</title></head><body><main><h1>Widget guide</h1>{sections}"
            f"<h2>Example</h2><p>{LEAD} It needs a list of parts.</p><pre><code class=\"language-python\">{code}"
            "</code></pre></main></body></html>").encode()


async def _configure(runtime: Runtime, url: str, *, contextual: bool = True) -> None:
    await CredentialService(runtime).create(CredentialCreate(key="CHAT_KEY", value=CANARY_KEY))
    await RuntimeSettingsService(runtime).update({"chat_model": "stub-chat", "chat_base_url": url,
                                                  "chat_api_key_name": "CHAT_KEY",
                                                  "use_contextual_embeddings": contextual})


async def _stored(runtime: Runtime, source_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with runtime.db.connection() as conn:
        chunks = list(await (await conn.execute(
            "SELECT c.id, c.content, c.headings, c.metadata, e.embedding FROM archon_chunks c "
            "JOIN archon_chunk_embeddings e ON e.chunk_id = c.id WHERE c.source_id = %s ORDER BY c.chunk_index",
            (source_id,))).fetchall())
        examples = list(await (await conn.execute(
            "SELECT title, summary FROM archon_code_examples WHERE source_id = %s", (source_id,))).fetchall())
    return chunks, examples


def _no_key_logged(caplog: pytest.LogCaptureFixture, job_log: list[str]) -> None:
    assert not any(CANARY_KEY in record.getMessage() for record in caplog.records)
    assert not any(CANARY_KEY in line for line in job_log)


async def test_contexts_are_embedded_and_code_summaries_stored(runtime: Runtime, site: Site,
                                                               chat: tuple[ChatStub, str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    stub, url = chat
    await _configure(runtime, url)
    site.set("/guide", SiteResponse(_page()))
    caplog.set_level(logging.DEBUG)

    job, source = await run_crawl(runtime, url=site.url("/guide"), crawl_type="single", render="http")
    assert job.status == "completed", job.error
    chunks, examples = await _stored(runtime, source.source_id)
    assert len(chunks) >= 3 and len(examples) == 1

    # One request per chunk and per code example, no tools offered, the stored key sent as the bearer.
    assert len(stub.requests) == len(chunks) + 1
    assert all("tools" not in body and body["model"] == "stub-chat" for body in stub.requests)
    assert set(stub.auth) == {f"Bearer {CANARY_KEY}"}

    for chunk in chunks:
        context = chunk["metadata"]["context"]
        assert context.startswith(CONTEXT_MARK) and "\n" not in context  # first line only
        assert CONTEXT_MARK not in chunk["content"]  # the stored content stays the original
        # The stored vector is the embedding of context + heading path + content.
        expected = "\n\n".join((context, " > ".join(chunk["headings"]), chunk["content"]))
        [vector] = await runtime.embedder.embed([expected])
        assert np.allclose(np.asarray(chunk["embedding"].to_list()), np.asarray(vector), atol=1e-5)
        assert embedding_text(ChunkInput(content=chunk["content"], headings=list(chunk["headings"]),
                                         metadata={"context": context})) == expected
    # A re-embed (model switch) builds the same text from the stored row.
    items = await ReembedRepository(runtime.db).missing(CHUNKS, 10**9, after_id=0, limit=100)
    by_id = {item.id: item.text for item in items}
    assert all(by_id[c["id"]].startswith(c["metadata"]["context"] + "\n\n") for c in chunks)

    assert examples[0]["summary"] == f"{SUMMARY_MARK}: builds a widget with the factory."
    _no_key_logged(caplog, job.log)


async def test_summaries_only_when_contextual_embeddings_are_off(runtime: Runtime, site: Site,
                                                                  chat: tuple[ChatStub, str]) -> None:
    stub, url = chat
    await _configure(runtime, url, contextual=False)
    site.set("/guide", SiteResponse(_page()))

    job, source = await run_crawl(runtime, url=site.url("/guide"), crawl_type="single", render="http")
    assert job.status == "completed", job.error
    chunks, examples = await _stored(runtime, source.source_id)
    assert len(stub.requests) == 1 and "code example" in stub.requests[0]["messages"][0]["content"]
    assert all("context" not in c["metadata"] for c in chunks)
    assert examples[0]["summary"].startswith(SUMMARY_MARK)


@pytest.mark.parametrize("failure", [
    JSONResponse({"error": {"message": "internal error"}}, 500),
    JSONResponse({"error": {"message": "rate limited", "code": "rate_limit_exceeded"}}, 429,
                 headers={"Retry-After": "0.05"}),
], ids=["500", "429"])
async def test_failing_chat_model_never_fails_the_job(runtime: Runtime, site: Site, chat: tuple[ChatStub, str],
                                                      caplog: pytest.LogCaptureFixture, failure: Response) -> None:
    stub, url = chat
    stub.always = failure
    await _configure(runtime, url)
    site.set("/guide", SiteResponse(_page()))
    caplog.set_level(logging.INFO)

    job, source = await run_crawl(runtime, url=site.url("/guide"), crawl_type="single", render="http")
    assert job.status == "completed", job.error
    chunks, examples = await _stored(runtime, source.source_id)
    assert chunks and all("context" not in c["metadata"] for c in chunks)
    assert examples[0]["summary"] == LEAD  # the heuristic summary: the sentence before the code
    # Each call was retried, then the job stopped asking after FAILURES_BEFORE_OFF failures in a row.
    assert MAX_ATTEMPTS <= len(stub.requests) <= (CONCURRENCY + FAILURES_BEFORE_OFF) * MAX_ATTEMPTS
    assert len(stub.requests) < (len(chunks) + 1) * MAX_ATTEMPTS
    warnings = [r for r in caplog.records if r.name.startswith("archon.knowledge.ingest")
                and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "stub-chat" in warnings[0].getMessage()
    _no_key_logged(caplog, job.log)


async def test_retry_after_is_honoured_then_contexts_are_written(runtime: Runtime, site: Site,
                                                                  chat: tuple[ChatStub, str]) -> None:
    stub, url = chat
    stub.script = [JSONResponse({"error": {"message": "slow down"}}, 429, headers={"Retry-After": "0.6"})]
    await _configure(runtime, url)
    site.set("/guide", SiteResponse(_page()))

    job, source = await run_crawl(runtime, url=site.url("/guide"), crawl_type="single", render="http")
    assert job.status == "completed", job.error
    chunks, examples = await _stored(runtime, source.source_id)
    assert all(c["metadata"]["context"].startswith(CONTEXT_MARK) for c in chunks)
    assert examples[0]["summary"].startswith(SUMMARY_MARK)
    assert len(stub.requests) == len(chunks) + 2  # the refused request was sent again
    first = stub.times[0]
    retried = [t for t in stub.times[1:] if t - first >= 0.55]
    assert len(retried) >= 1  # the retry waited for Retry-After (other requests ran meanwhile)


async def test_chat_client_switches_to_max_completion_tokens(chat: tuple[ChatStub, str]) -> None:
    stub, url = chat
    stub.script = [JSONResponse({"error": {"message": "Unsupported parameter: 'max_tokens'. Use "
                                                      "'max_completion_tokens' instead."}}, 400)]
    client = ChatClient("stub-chat", base_url=url, api_key="k")
    try:
        answer = await client.complete([{"role": "system", "content": "describe code examples"},
                                        {"role": "user", "content": "x"}], max_tokens=50)
    finally:
        await client.aclose()
    assert answer.startswith(SUMMARY_MARK)
    assert "max_tokens" in stub.requests[0] and stub.requests[1]["max_completion_tokens"] == 50
    assert "max_tokens" not in stub.requests[1]


def test_one_line_keeps_the_first_line_without_quotes() -> None:
    assert one_line('\n  "This chunk covers   setup."\nMore text') == "This chunk covers setup."
    assert len(one_line("x" * 1000)) == 300
