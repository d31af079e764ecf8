"""The OpenAI-compatible embedder against a stub server on 127.0.0.1 (the only thing we fake: a remote API)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archon.config import Settings
from archon.knowledge.embeddings import EmbeddingError, create_embedder
from archon.knowledge.embeddings.openai import OpenAIEmbedder
from tests.conftest import LiveServer


class Stub:
    """Scripted responses, then real-looking embeddings; records every request."""

    def __init__(self) -> None:
        self.script: list[Response] = []
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.vector: list[float] | None = None

    async def embeddings(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(body)
        self.auth.append(request.headers.get("authorization", ""))
        if self.script:
            return self.script.pop(0)
        dims = body.get("dimensions", 8)
        data = [{"object": "embedding", "index": i,
                 "embedding": self.vector or [float(len(text) + 1)] + [0.5] * (dims - 1)}
                for i, text in reversed(list(enumerate(body["input"])))]  # out of order on purpose
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})


@pytest.fixture
async def stub() -> AsyncIterator[tuple[Stub, str]]:
    state = Stub()
    app = Starlette(routes=[Route("/v1/embeddings", state.embeddings, methods=["POST"])])
    async with LiveServer(app) as server:
        yield state, f"{server.url}/v1"


def embedder(base_url: str, **kw: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder("stub-model", api_key="sk-test-secret", base_url=base_url, dimensions=8, base_delay=0.01,
                          **kw)


async def test_batches_orders_and_normalises(stub: tuple[Stub, str]) -> None:
    state, url = stub
    e = embedder(url, batch_size=3)
    texts = [f"text {'x' * i}" for i in range(7)] + [""]
    vectors = await e.embed(texts)
    assert len(vectors) == 8 and len(state.requests) == 3
    assert [len(r["input"]) for r in state.requests] == [3, 3, 2]
    assert state.requests[0]["dimensions"] == 8 and state.requests[0]["model"] == "stub-model"
    assert state.requests[2]["input"][-1] == " "  # empty input is never sent as ""
    assert all(abs(sum(x * x for x in v) - 1) < 1e-6 for v in vectors)
    assert vectors[0][0] < vectors[6][0]  # order kept although the stub answered in reverse
    assert state.auth[0] == "Bearer sk-test-secret"


async def test_429_with_retry_after_and_500_are_retried(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.script = [JSONResponse({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, 429,
                                 headers={"Retry-After": "0.2"}),
                    JSONResponse({"error": {"message": "boom"}}, 500),
                    Response("bad gateway", 502)]
    import time

    start = time.monotonic()
    vectors = await embedder(url).embed(["a", "b"])
    assert len(vectors) == 2 and len(state.requests) == 4
    assert time.monotonic() - start >= 0.2  # Retry-After was honoured


async def test_gives_up_after_max_attempts_with_a_clear_error(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.script = [JSONResponse({"error": {"message": "down"}}, 503) for _ in range(3)]
    e = embedder(url, max_attempts=3)
    with pytest.raises(EmbeddingError, match="still failed after 3 attempts"):
        await e.embed(["a"])
    assert len(state.requests) == 3 and e.status().startswith("unavailable")


@pytest.mark.parametrize(("status", "body", "message"), [
    (401, {"error": {"message": "Incorrect API key provided: sk-test-***", "code": "invalid_api_key"}},
     "rejected the API key"),
    (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, "quota"),
    (400, {"error": {"message": "input too long"}}, "rejected"),
    (404, {"error": {"message": "model not found"}}, "was not found"),
])
async def test_auth_quota_and_bad_requests_fail_fast(stub: tuple[Stub, str], status: int, body: dict[str, Any],
                                                     message: str) -> None:
    state, url = stub
    state.script = [JSONResponse(body, status)]
    with pytest.raises(EmbeddingError, match=message) as info:
        await embedder(url).embed(["a"])
    assert len(state.requests) == 1
    assert "sk-test-secret" not in info.value.message


async def test_zero_or_wrong_size_vectors_are_errors_never_stored(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.vector = [0.0] * 8
    with pytest.raises(EmbeddingError, match="zero"):
        await embedder(url).embed(["a"])
    state.vector = [1.0] * 5
    with pytest.raises(EmbeddingError, match="5-dimension"):
        await embedder(url).embed(["a"])


async def test_connection_refused_is_retried_then_reported() -> None:
    e = OpenAIEmbedder("m", api_key="k", base_url="http://127.0.0.1:9/v1", max_attempts=2, base_delay=0.01)
    with pytest.raises(EmbeddingError, match="ConnectError"):
        await e.embed(["a"])


async def test_factory_builds_the_openai_provider(stub: tuple[Stub, str], tmp_path: Any) -> None:
    _state, url = stub
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding_provider="openai",  # type: ignore[call-arg]
                        embedding_model="nomic-embed-text", embedding_base_url=url)
    e = create_embedder(settings)
    assert (e.provider, e.model, e.dimensions) == ("openai", "nomic-embed-text", 768)
    no_key = create_embedder(Settings(_env_file=None, data_dir=tmp_path,  # type: ignore[call-arg]
                                      embedding_provider="openai"))
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        await no_key.embed(["a"])
