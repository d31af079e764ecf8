"""The HTTP rerank provider against a rerank API stub on 127.0.0.1 (Cohere/Jina shape and TEI shape)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from archon.knowledge.rerank_http import HttpReranker, RerankError, parse_scores
from archon.knowledge.search import SearchService, forget_active_model
from archon.runtime import Runtime
from archon.settings.credentials import CredentialService
from archon.settings.schemas import CredentialCreate
from tests.conftest import LiveServer, free_port, make_settings
from tests.knowledge.search_corpus import load_corpus

SECRET = "rk-test-0123456789abcdef"


class RerankStub:
    """Scores a document 10 when it mentions 'Timeouts', else by position (last document first)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.mode = "cohere"  # cohere | tei | error | garbage | slow | top1

    async def rerank(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((body, dict(request.headers)))
        docs = body.get("documents") or body.get("texts") or []
        scores = [10.0 if "Timeouts" in d else float(i) / 100 for i, d in enumerate(docs)]
        ranked = sorted(range(len(docs)), key=lambda i: -scores[i])
        if self.mode == "error":
            return JSONResponse({"message": "model overloaded"}, status_code=503)
        if self.mode == "garbage":
            return PlainTextResponse("<html>bad gateway</html>")
        if self.mode == "slow":
            await asyncio.sleep(3)
        if self.mode == "tei":
            return JSONResponse([{"index": i, "score": scores[i]} for i in ranked])
        if self.mode == "top1":
            ranked = ranked[:1]
        return JSONResponse({"id": "x", "results": [{"index": i, "relevance_score": scores[i]} for i in ranked]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/rerank", self.rerank, methods=["POST"])])


@pytest.fixture
async def stub() -> AsyncIterator[tuple[RerankStub, str]]:
    s = RerankStub()
    async with LiveServer(s.app()) as server:
        yield s, server.url + "/v1"


async def _runtime(database_url: str, data_dir: Path, base: str, **overrides: object) -> Runtime:
    forget_active_model()
    rt = await Runtime.start(make_settings(database_url, data_dir, rerank_url=base, rerank_timeout=1.0,
                                           rerank_remote_model="rerank-test", **overrides))
    await load_corpus(rt)
    return rt


async def test_http_rerank_orders_results_and_sends_the_stored_key(
        stub: tuple[RerankStub, str], database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server, base = stub
    caplog.set_level(logging.DEBUG)
    rt = await _runtime(database_url, tmp_path / "d", base)
    try:
        await CredentialService(rt).create(CredentialCreate(key="RERANK_API_KEY", value=SECRET))
        plain = await SearchService(rt).query("asyncio concurrently", match_count=5, rerank=False)
        assert not plain.reranked and not server.requests
        response = await SearchService(rt).query("asyncio concurrently", match_count=5, rerank=True)
        assert response.reranked and not response.notices
        assert "Timeouts" in response.results[0].headings  # the stub's top document is first
        assert response.results[0].score == 10.0
        body, headers = server.requests[-1]
        assert body["model"] == "rerank-test" and body["query"] == "asyncio concurrently"
        assert len(body["documents"]) >= len(response.results) and "texts" not in body
        assert headers["authorization"] == f"Bearer {SECRET}"
        assert SECRET not in caplog.text
    finally:
        await rt.stop()


async def test_tei_shape(stub: tuple[RerankStub, str], database_url: str, tmp_path: Path) -> None:
    server, base = stub
    server.mode = "tei"
    rt = await _runtime(database_url, tmp_path / "d", base, rerank_api="tei")
    try:
        response = await SearchService(rt).query("asyncio concurrently", match_count=3, rerank=True)
        assert response.reranked and "Timeouts" in response.results[0].headings
        body, headers = server.requests[-1]
        assert body["texts"] and body["truncate"] is True and "documents" not in body and "model" not in body
        assert "authorization" not in headers  # no credential stored, no variable: no header
    finally:
        await rt.stop()


@pytest.mark.parametrize("mode", ["error", "garbage", "slow"])
async def test_rerank_failure_still_answers_with_a_notice(
        stub: tuple[RerankStub, str], database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        mode: str) -> None:
    server, base = stub
    server.mode = mode
    caplog.set_level(logging.DEBUG)
    rt = await _runtime(database_url, tmp_path / "d", base)
    try:
        await CredentialService(rt).create(CredentialCreate(key="RERANK_API_KEY", value=SECRET))
        unranked = await SearchService(rt).query("asyncio concurrently", match_count=3, rerank=False)
        response = await SearchService(rt).query("asyncio concurrently", match_count=3, rerank=True)
        assert not response.reranked
        assert [r.chunk_id for r in response.results] == [r.chunk_id for r in unranked.results]
        assert len(response.notices) == 1 and "rerank failed" in response.notices[0]
        expected = {"error": "HTTP 503: model overloaded", "garbage": "not JSON", "slow": "Timeout"}[mode]
        assert expected in response.notices[0]
        assert SECRET not in response.notices[0] and SECRET not in caplog.text
    finally:
        await rt.stop()


async def test_unreachable_rerank_api_still_answers(database_url: str, tmp_path: Path) -> None:
    rt = await _runtime(database_url, tmp_path / "d", f"http://127.0.0.1:{free_port()}")
    try:
        response = await SearchService(rt).query("asyncio", match_count=2, rerank=True)
        assert not response.reranked and len(response.results) == 2
        assert "rerank failed" in response.notices[0] and "ConnectError" in response.notices[0]
    finally:
        await rt.stop()


async def test_server_returning_only_its_top_n(stub: tuple[RerankStub, str]) -> None:
    server, base = stub
    server.mode = "top1"
    reranker = HttpReranker(base)
    try:
        scores = await reranker.score("q", ["a", "Timeouts b", "c"])
    finally:
        await reranker.aclose()
    assert scores[1] == 10.0 and scores[0] > scores[2]  # unscored documents keep their order, below the top


def test_parse_scores_rejects_bad_answers() -> None:
    assert parse_scores({"results": [{"index": 1, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.9}]},
                        2) == [0.9, 0.5]
    assert parse_scores([{"index": 0, "score": 1}], 1) == [1.0]
    for bad in ({"results": [{"index": 5, "relevance_score": 1}]}, {"results": [{"index": 0}]}, {"nope": 1},
                {"results": []}, {"results": [{"index": True, "relevance_score": 1}]}):
        with pytest.raises(RerankError):
            parse_scores(bad, 2)
