"""Per-token scopes over MCP: a read-only caller sees only read tools and cannot call the others.

The HTTP auth layer (a read-only `ARCHON_READONLY_API_KEYS` key, or an OAuth token without the write scope)
records the caller's level in the ASGI scope; this server middleware reads it from the request that carried
each message. stdio has no request: it is a local process started by the user, with full access.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from archon.api.auth import READ, access_of
from archon.mcp_server.toolkit import error_result


def caller_is_read_only(ctx: ServerRequestContext[Any, Any]) -> bool:
    """True when the HTTP request that carried this message was authenticated with a read-only token."""
    request = ctx.request
    scope = getattr(request, "scope", None)
    return isinstance(scope, dict) and access_of(scope) == READ


class AccessGuard:
    """Server middleware: hides write tools from read-only callers and refuses their calls with a tool error."""

    def __init__(self, write_tools: Iterable[str]) -> None:
        self.write_tools = frozenset(write_tools)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("tools/list", "tools/call") or not caller_is_read_only(ctx):
            return await call_next(ctx)
        if ctx.method == "tools/list":
            result = await call_next(ctx)
            if isinstance(result, dict) and isinstance(result.get("tools"), list):
                kept = [t for t in result["tools"] if not (isinstance(t, dict) and t.get("name") in self.write_tools)]
                result = {**result, "tools": kept}
            return result
        name = str((ctx.params or {}).get("name", ""))
        if name in self.write_tools:
            return error_result("forbidden", f"this token is read-only and {name[:64]} changes data; "
                                "use a full-access token")
        return await call_next(ctx)
