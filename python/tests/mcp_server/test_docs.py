"""docs/mcp.md is a tested contract: every tool, each of its parameters and every client snippet is documented."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from archon.config import Settings
from archon.mcp_server import client_config
from archon.mcp_server.server import build_mcp_server
from archon.runtime import RuntimeHolder

DOC = Path(__file__).resolve().parents[3] / "docs" / "mcp.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^### `([a-z_]+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def test_every_tool_and_parameter_is_documented() -> None:
    server = build_mcp_server(RuntimeHolder(), Settings(_env_file=None))
    sections = _sections()
    tools = asyncio.run(server.list_tools())
    assert len(tools) >= 21
    for tool in tools:
        assert tool.name in sections, f"tool {tool.name} is not documented in docs/mcp.md"
        for parameter in tool.input_schema.get("properties", {}):
            assert f"`{parameter}`" in sections[tool.name], f"{tool.name}({parameter}) is not documented"
    documented_only = set(sections) - {t.name for t in tools}
    assert not documented_only, f"docs/mcp.md documents tools that do not exist: {documented_only}"


def test_every_client_snippet_is_in_the_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_config, "archon_executable", lambda: "/path/to/Archon/python/.venv/bin/archon")
    configs = client_config.build_configs(Settings(_env_file=None, data_dir=Path("/path/to/Archon/data")))
    text = DOC.read_text()
    for snippet in configs.clients:
        assert f"`{snippet.client}`" in text, snippet.client
        rendered = json.dumps(snippet.config, indent=2) if snippet.config is not None else snippet.command
        assert rendered is not None and rendered in text, f"the {snippet.client} snippet in docs/mcp.md is stale"


def test_every_control_endpoint_and_tool_set_is_documented() -> None:
    from archon.mcp_server.router import router

    text = DOC.read_text()
    for route in router.routes:
        assert f"`/api{route.path}" in text, route.path  # type: ignore[attr-defined]
    for tool_set in ("all", "read-only", "knowledge", "tasks"):
        assert f"`{tool_set}`" in text
