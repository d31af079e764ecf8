"""OpenAI embeddings, and any OpenAI-compatible endpoint (Ollama, LM Studio, OpenRouter, vLLM).

Batches inputs, retries 429/5xx/network errors honouring Retry-After (else full-jitter exponential
backoff), fails fast with a clear message on auth, quota and bad-request errors, and never returns
a zero or malformed vector (such a response is an error, not something to store).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from typing import Any

import httpx

from archon.knowledge.embeddings.base import EmbeddingError, EmbeddingUnavailable

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768, "mxbai-embed-large": 1024, "all-minilm": 384, "bge-m3": 1024,
}
KNOWN_WINDOWS = {"text-embedding-3-small": 8191, "text-embedding-3-large": 8191, "text-embedding-ada-002": 8191}
BATCH_SIZE = 96
MAX_ATTEMPTS = 6
MAX_DELAY = 60.0


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _error_info(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from an OpenAI-style error body, without echoing anything secret."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or ""), str(error.get("message") or "")[:300]
    if isinstance(error, str):
        return "", error[:300]
    return "", str(body)[:200]


class OpenAIEmbedder:
    """`POST {base_url}/embeddings` with batching and backoff."""

    provider = "openai"

    def __init__(self, model: str = "text-embedding-3-small", *, api_key: str | None = None,
                 base_url: str | None = None, dimensions: int | None = None, batch_size: int = BATCH_SIZE,
                 max_attempts: int = MAX_ATTEMPTS, base_delay: float = 1.0, max_delay: float = MAX_DELAY,
                 timeout: float = 60.0) -> None:
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key
        self._requested_dimensions = dimensions
        self.dimensions = dimensions or KNOWN_DIMENSIONS.get(model, 0)  # 0: learnt from the first response
        self.max_tokens = KNOWN_WINDOWS.get(model, 512)
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._error: str | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector per text, in order, in batches of `batch_size`."""
        if not self._api_key and self.base_url == DEFAULT_BASE_URL:
            self._error = "no API key"
            raise EmbeddingError("the OpenAI embedding provider needs an API key: set OPENAI_API_KEY (or "
                                 "EMBEDDING_BASE_URL for a local OpenAI-compatible server such as Ollama)")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start:start + self.batch_size]]
            vectors.extend(await self._embed_batch(batch))
        return vectors

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        payload: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self._requested_dimensions:
            payload["dimensions"] = self._requested_dimensions
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await self._http().post("/embeddings", json=payload)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts: worth a retry
                last_problem = f"{type(exc).__name__}"
                delay = None
            else:
                if response.status_code == 200:
                    self._error = None
                    return self._parse(response, len(batch))
                self._raise_if_final(response)
                last_problem = f"HTTP {response.status_code}"
                delay = _retry_after(response)
            if attempt == self.max_attempts:
                break
            backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
            wait = min(self.max_delay, delay if delay is not None else backoff)
            log.warning("embedding request to %s failed (%s); retry %d/%d in %.1fs", self.base_url, last_problem,
                        attempt, self.max_attempts - 1, wait)
            await asyncio.sleep(wait)
        self._error = f"unavailable ({last_problem})"
        raise EmbeddingUnavailable(f"the embedding provider at {self.base_url} still failed after {self.max_attempts} "
                             f"attempts ({last_problem}); try again later")

    def _raise_if_final(self, response: httpx.Response) -> None:
        """Raise EmbeddingError for answers a retry cannot fix; return for 408/409/429/5xx."""
        status = response.status_code
        code, message = _error_info(response)
        if status == 429 and code in ("insufficient_quota", "billing_hard_limit_reached"):
            self._error = "quota exhausted"
            raise EmbeddingError(f"the embedding provider's quota is exhausted ({code}): add credit or switch "
                                 "provider; nothing was stored")
        if status in (408, 409, 429) or status >= 500:
            return
        if status in (401, 403):
            self._error = "authentication failed"
            raise EmbeddingError(f"the embedding provider rejected the API key (HTTP {status}): check "
                                 "OPENAI_API_KEY or the stored credential")
        if status == 404:
            self._error = "model not found"
            raise EmbeddingError(f"embedding model {self.model!r} was not found at {self.base_url} ({message})")
        self._error = f"HTTP {status}"
        raise EmbeddingError(f"the embedding request was rejected (HTTP {status}): {message}")

    def _parse(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            items = sorted(response.json()["data"], key=lambda item: int(item.get("index", 0)))
            raw = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"the embedding provider returned an unreadable response ({exc})") from exc
        if len(raw) != expected:
            raise EmbeddingError(f"the embedding provider returned {len(raw)} vectors for {expected} texts")
        vectors: list[list[float]] = []
        for vector in raw:
            if not self.dimensions:
                self.dimensions = len(vector)
            if len(vector) != self.dimensions:
                raise EmbeddingError(f"the embedding provider returned a {len(vector)}-dimension vector; "
                                     f"{self.model} is registered with {self.dimensions}")
            norm = math.sqrt(sum(x * x for x in vector))
            if not math.isfinite(norm) or norm == 0.0:
                raise EmbeddingError("the embedding provider returned a zero or invalid vector; nothing was stored")
            vectors.append([x / norm for x in vector])
        return vectors

    def status(self) -> str:
        return self._error or "ready"
