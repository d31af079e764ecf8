"""Archon's MCP tools, one module per family; each module's `register(registry)` declares its tools."""

from __future__ import annotations

from types import ModuleType

from archon.mcp_server.toolkit import ToolRegistry


def _modules() -> list[ModuleType]:
    from archon.mcp_server.tools import crawl, documents, knowledge, projects, tasks

    return [knowledge, crawl, projects, tasks, documents]


def register_all(registry: ToolRegistry) -> None:
    """Declare every tool on `registry` (ARCHON_MCP_TOOLS later selects which are offered)."""
    for module in _modules():
        module.register(registry)
