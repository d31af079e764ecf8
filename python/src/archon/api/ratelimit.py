"""Inbound rate limits (slowapi/limits) on the expensive routes: crawl, upload, search and MCP tool calls.

One ASGI middleware instead of per-route decorators: the routes belong to several packages, and an MCP
tool call is a JSON-RPC message inside `POST /mcp` (or `/messages/`), which only a body peek can see.
A refused request gets `429` with `Retry-After` (seconds) and the usual `{"error", "detail"}` body.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from slowapi import Limiter
from slowapi.util import get_remote_address
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archon.config import Settings

MAX_PEEK_BYTES = 1024 * 1024  # JSON-RPC bodies larger than this are not inspected (the MCP SDK caps them too)


@dataclass(frozen=True)
class Rule:
    """`limits` (e.g. `20/minute;200/hour`) apply to requests whose method and path match."""

    name: str
    method: str
    path: re.Pattern[str]
    limits: tuple[RateLimitItem, ...]
    mcp_tool_call: bool = False  # counts only JSON-RPC `tools/call` messages


def rest_rules(settings: Settings) -> list[Rule]:
    """The REST app's limits: crawl start/refresh, upload, search."""
    return [
        Rule("crawl", "POST", re.compile(r"^/api/knowledge-items/(crawl|[^/]+/refresh)/?$"),
             tuple(parse_many(settings.rate_limit_crawl))),
        Rule("upload", "POST", re.compile(r"^/api/documents/upload/?$"), tuple(parse_many(settings.rate_limit_upload))),
        Rule("search", "POST", re.compile(r"^/api/rag/(query|code-examples)/?$"),
             tuple(parse_many(settings.rate_limit_search))),
    ]


def mcp_rules(settings: Settings) -> list[Rule]:
    """The MCP HTTP app's limit: `tools/call` over streamable HTTP (`/mcp`) and SSE (`/messages/`)."""
    return [Rule("mcp_tools", "POST", re.compile(r"^/(mcp|messages)/?$"),
                 tuple(parse_many(settings.rate_limit_mcp_tools)),
                 mcp_tool_call=True)]


def _tool_calls(body: bytes) -> int:
    """How many `tools/call` requests a JSON-RPC body (single or batch) carries; 0 when it is not JSON."""
    try:
        payload = json.loads(body)
    except ValueError:
        return 0
    messages = payload if isinstance(payload, list) else [payload]
    return sum(1 for m in messages if isinstance(m, dict) and m.get("method") == "tools/call")


class RateLimitMiddleware:
    """Applies `rules` per client address; in-memory moving windows (one API process per install)."""

    def __init__(self, app: ASGIApp, *, rules: list[Rule]) -> None:
        self.app = app
        self.rules = rules
        self.limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", strategy="moving-window",
                               headers_enabled=False)

    def _match(self, scope: Scope) -> Rule | None:
        if scope["type"] != "http":
            return None
        for rule in self.rules:
            if scope["method"] == rule.method and rule.path.match(scope["path"]):
                return rule
        return None

    def _hit(self, rule: Rule, key: str, cost: int) -> int | None:
        """Count the request; None when allowed, else the seconds until the window has room again."""
        strategy = self.limiter.limiter
        for item in rule.limits:
            if not strategy.hit(item, rule.name, key, cost=cost):
                reset_at, _remaining = strategy.get_window_stats(item, rule.name, key)
                return max(1, math.ceil(reset_at - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._match(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        key = get_remote_address(Request(scope))
        if not rule.mcp_tool_call:
            retry_after = self._hit(rule, key, 1)
            if retry_after is not None:
                await _refuse(send, rule, retry_after)
                return
            await self.app(scope, receive, send)
            return
        body, messages, more = await _peek(receive)
        calls = _tool_calls(body) if not more else 0
        if calls:
            retry_after = self._hit(rule, key, calls)
            if retry_after is not None:
                await _refuse(send, rule, retry_after)
                return
        await self.app(scope, _replay(messages, receive), send)


async def _peek(receive: Receive) -> tuple[bytes, list[Message], bool]:
    """Read the request body up to MAX_PEEK_BYTES; the messages are replayed to the app unchanged."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return body, messages, False
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages, False
        if len(body) > MAX_PEEK_BYTES:
            return body, messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _refuse(send: Send, rule: Rule, retry_after: int) -> None:
    limits = "; ".join(map(str, rule.limits))
    body = json.dumps({"error": "rate limit exceeded",
                       "detail": f"{rule.name}: at most {limits}; retry after {retry_after} s"}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
