"""Rerank through a served model: `POST {base}/rerank` (Cohere, Jina, vLLM, Infinity, TEI and compatibles).

Two request shapes cover the common servers:
- `cohere` (Cohere v2, Jina, vLLM, Infinity, llama.cpp, Xinference, OpenVINO):
  `{"model", "query", "documents": [...]}` -> `{"results": [{"index", "relevance_score"}]}`
- `tei` (Hugging Face text-embeddings-inference): `{"query", "texts": [...], "truncate": true}`
  -> `[{"index", "score"}]`
Either response shape is accepted whatever the request shape. The API key comes from a stored
credential (or the environment variable of the same name), is sent only as a bearer header, and is
never logged nor put into an error message.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx

log = logging.getLogger(__name__)

RerankApi = Literal["cohere", "tei"]
KeySource = Callable[[], Awaitable[str | None]]
_KEY_TTL = 5.0  # seconds a looked-up key is reused; a rotated credential is picked up within this delay


class RerankError(Exception):
    """The rerank endpoint failed or answered something unusable (the message never holds the key)."""


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)[:200]
    return str(body)[:200]


def parse_scores(body: Any, count: int) -> list[float]:
    """One score per document, in input order, from a Cohere-style or TEI-style response."""
    items = body.get("results", body.get("data")) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise RerankError("rerank endpoint answered without a results list")
    scores: dict[int, float] = {}
    for item in items:
        if not isinstance(item, dict):
            raise RerankError("rerank endpoint answered a result that is not an object")
        index = item.get("index")
        score = item.get("relevance_score", item.get("score"))
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            raise RerankError(f"rerank endpoint answered an invalid index {index!r} for {count} documents")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise RerankError(f"rerank endpoint answered no numeric score for document {index}")
        scores[index] = float(score)
    if not scores:
        raise RerankError("rerank endpoint answered no scores")
    # A server that returns only its top N (top_n defaults): the rest keep their order, below every scored one.
    floor = min(scores.values()) - 1.0
    return [scores.get(i, floor - i * 1e-6) for i in range(count)]


class HttpReranker:
    """Scores passages with a served cross-encoder over HTTP."""

    def __init__(self, base_url: str, *, api: RerankApi = "cohere", model: str | None = None,
                 api_key: KeySource | None = None, timeout: float = 10.0, max_chars: int = 4000,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = base_url.rstrip("/") + "/rerank"
        self.api = api
        self.model = model
        self.name = f"{api}:{model or base_url}"
        self.max_chars = max_chars  # servers truncate to their window anyway; this bounds the upload
        self._api_key = api_key
        self._key: tuple[float, str | None] | None = None
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def _bearer(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        now = time.monotonic()
        if self._key is None or now - self._key[0] > _KEY_TTL:
            self._key = (now, await self._api_key())
        key = self._key[1]
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, query: str, passages: list[str]) -> dict[str, Any]:
        docs = [p[:self.max_chars] for p in passages]
        if self.api == "tei":
            return {"query": query, "texts": docs, "truncate": True}
        body: dict[str, Any] = {"query": query, "documents": docs}
        if self.model:
            body["model"] = self.model
        return body

    async def score(self, query: str, passages: list[str]) -> list[float]:
        """One relevance score per passage, in order; raises RerankError on any failure."""
        if not passages:
            return []
        try:
            response = await self._client.post(self.url, json=self._body(query, passages),
                                               headers=await self._bearer())
        except httpx.HTTPError as exc:  # httpx messages name the URL and the OS error, never the headers
            raise RerankError(f"rerank endpoint {self.url} failed: {type(exc).__name__} {exc}"[:300]) from None
        if response.status_code >= 400:
            raise RerankError(f"rerank endpoint answered HTTP {response.status_code}: {_error_text(response)}")
        try:
            body = response.json()
        except ValueError:
            raise RerankError("rerank endpoint answered something that is not JSON") from None
        return parse_scores(body, len(passages))

    async def aclose(self) -> None:
        await self._client.aclose()


def credential_key(runtime: Any, name: str) -> KeySource:
    """The stored credential `name` (decrypted per call, cached briefly by the reranker), else $name."""

    async def lookup() -> str | None:
        from archon.settings.credentials import CredentialService

        value = await CredentialService(runtime).secret(name)
        if value is None:
            value = os.environ.get(name) or None
            if value is not None:
                from archon.observability.logging import redactor

                redactor.add(value)
        return value

    return lookup
