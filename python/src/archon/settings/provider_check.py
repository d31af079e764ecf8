"""Check an API key with one minimal real call to its provider (OpenAI-compatible `/models` or a tiny embedding)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from archon.errors import Invalid
from archon.observability.logging import redactor
from archon.settings.schemas import CredentialTestResult

# OpenAI-compatible endpoints of the providers users store keys for; any other key needs `base_url`.
DEFAULT_BASE_URLS = {
    "OPENAI_API_KEY": "https://api.openai.com/v1",
    "OPENROUTER_API_KEY": "https://openrouter.ai/api/v1",
    "ANTHROPIC_API_KEY": "https://api.anthropic.com/v1",
    "GOOGLE_API_KEY": "https://generativelanguage.googleapis.com/v1beta/openai",
    "GEMINI_API_KEY": "https://generativelanguage.googleapis.com/v1beta/openai",
    "GROK_API_KEY": "https://api.x.ai/v1",
    "XAI_API_KEY": "https://api.x.ai/v1",
    "MISTRAL_API_KEY": "https://api.mistral.ai/v1",
}
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MAX_MESSAGE = 300


def default_base_url(key: str) -> str:
    """The provider endpoint for a well-known key name; 422 for others (the caller must give base_url)."""
    try:
        return DEFAULT_BASE_URLS[key]
    except KeyError:
        raise Invalid(f"base_url: required to test {key} (no default endpoint for this key name)",
                      detail=[{"field": "base_url", "message": "required for this key name"}]) from None


def scrub(message: str, secret: str) -> str:
    """Remove the secret and any recognisable piece of it (providers echo masked prefixes) from a message."""
    message = message.replace(secret, "***")
    windows = {secret[i:i + 8] for i in range(0, max(len(secret) - 7, 0))} if len(secret) >= 8 else set()
    prefix = secret[:6] if len(secret) >= 10 else None

    def token(match: re.Match[str]) -> str:
        word = match.group(0)
        if (prefix and prefix in word) or any(w in word for w in windows):
            return "***"
        return word

    message = re.sub(r"\S{6,}", token, message)
    return redactor.redact(message)[:_MAX_MESSAGE]


def _provider_message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        # Not an API's error document: never relay the page itself (this call goes wherever base_url says).
        return response.reason_phrase or "unexpected answer"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
        if body.get("detail"):
            return str(body["detail"])
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Google wraps errors in a list
        return _provider_message_from(body[0])
    return response.reason_phrase


def _provider_message_from(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(item.get("message", "error"))


def _headers(key: str, secret: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    if key == "ANTHROPIC_API_KEY":  # Anthropic's /v1/models authenticates with x-api-key
        headers.update({"x-api-key": secret, "anthropic-version": "2023-06-01"})
    return headers


_METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})


async def refuse_metadata_endpoints(base_url: str, *, field: str = "base_url") -> None:
    """422 for link-local and cloud-metadata hosts: never a provider, and the key must not go there.

    Loopback and private addresses stay allowed (Ollama, LM Studio, vLLM on this machine or the LAN).
    """
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    message = "link-local and cloud metadata addresses are refused"
    refused = Invalid(f"{field}: {message}", detail=[{"field": field, "message": message}])
    if host in _METADATA_NAMES:
        raise refused
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return  # unresolvable: the call itself reports "could not reach"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if (mapped or address).is_link_local or str(address) == "fd00:ec2::254":
            raise refused


async def check_key(key: str, secret: str, *, base_url: str, mode: str = "models",
                    model: str | None = None) -> CredentialTestResult:
    """One real call with `secret`; ok on 2xx, otherwise the provider's message (scrubbed of the key)."""
    started = time.perf_counter()
    base = base_url.rstrip("/")
    await refuse_metadata_endpoints(base)
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
            if mode == "embedding":
                response = await client.post(f"{base}/embeddings", headers=_headers(key, secret),
                                             json={"model": model or "text-embedding-3-small", "input": "ok"})
            else:
                response = await client.get(f"{base}/models", headers=_headers(key, secret))
    except httpx.HTTPError as exc:
        reason = scrub(str(exc) or type(exc).__name__, secret)
        return CredentialTestResult(key=key, ok=False, status_code=None, base_url=base,
                                    message=f"could not reach {base}: {reason}",
                                    latency_ms=round((time.perf_counter() - started) * 1000, 1))
    latency = round((time.perf_counter() - started) * 1000, 1)
    if response.is_success:
        return CredentialTestResult(key=key, ok=True, status_code=response.status_code, base_url=base,
                                    message="ok", latency_ms=latency)
    message = scrub(_provider_message(response), secret)
    return CredentialTestResult(key=key, ok=False, status_code=response.status_code, base_url=base,
                                message=f"{response.status_code}: {message}", latency_ms=latency)
