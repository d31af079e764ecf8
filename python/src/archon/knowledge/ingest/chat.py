"""A minimal OpenAI-compatible chat client (`POST {base_url}/chat/completions`) for ingestion's LLM steps.

httpx rather than the `openai` package: that package is only a transitive dependency here (through
crawl4ai), and the embedder already speaks the same HTTP API with the same retry rules. Retries
408/409/429/5xx and network errors, honouring `Retry-After`/`retry-after-ms` up to a cap (else
jittered exponential backoff); other errors fail at once. Messages never include the API key.
No tools are ever offered to the model: it reads crawled text, which may try to instruct it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_ATTEMPTS = 3
MAX_RETRY_WAIT = 20.0  # longer Retry-After waits are cut to this: ingestion must keep moving


class ChatError(Exception):
    """The chat model could not answer (after retries, or with an error a retry cannot fix)."""


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from `retry-after-ms` or a numeric `Retry-After` header (None when absent or a date)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")[:200]
    return str(error or body)[:200]


class ChatClient:
    """One chat model at one OpenAI-compatible endpoint; `complete()` returns the answer's text."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_attempts: int = MAX_ATTEMPTS, base_delay: float = 0.5,
                 max_retry_wait: float = MAX_RETRY_WAIT) -> None:
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_retry_wait = max_retry_wait
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        # Reasoning models refuse `max_tokens`; learnt from the first 400 that says so.
        self._length_field = "max_tokens"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self._timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections (the next request opens new ones)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 200,
                       temperature: float = 0.2) -> str:
        """The model's answer to `messages` (stripped); raises ChatError when it cannot be had."""
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            payload: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                       self._length_field: max_tokens}
            wait: float | None = None
            try:
                response = await self._http().post("/chat/completions", json=payload)
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code == 200:
                    return self._answer(response)
                problem = f"HTTP {response.status_code}"
                if response.status_code == 400 and "max_completion_tokens" in response.text \
                        and self._length_field == "max_tokens":
                    self._length_field = "max_completion_tokens"
                    continue
                status = response.status_code
                if not (status in (408, 409, 429) or status >= 500):
                    raise ChatError(f"chat model {self.model!r} at {self.base_url} refused the request "
                                    f"({problem}: {_error_message(response)})")
                wait = retry_after_seconds(response)
            if attempt == self.max_attempts:
                break
            backoff = random.uniform(self.base_delay / 2, self.base_delay * 2 ** (attempt - 1))
            delay = min(self.max_retry_wait, wait if wait is not None else backoff)
            log.debug("chat request to %s failed (%s); retry in %.1fs", self.base_url, problem, delay)
            await asyncio.sleep(delay)
        raise ChatError(f"chat model {self.model!r} at {self.base_url} failed after {self.max_attempts} "
                        f"attempts ({problem})")

    def _answer(self, response: httpx.Response) -> str:
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatError(f"chat model {self.model!r} returned an unreadable response ({exc})") from exc
        if not isinstance(content, str) or not content.strip():
            raise ChatError(f"chat model {self.model!r} returned an empty answer")
        return content.strip()
