"""The MCP Inspector CLI, a third-party client (pinned in tests/mcp_server/inspector), over stdio and HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from archon.config import Settings
from tests.conftest import LiveServer
from tests.mcp_server.conftest import ARCHON

INSPECTOR = Path(__file__).parent / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
TIMEOUT = 120


@pytest.fixture(scope="module")
def inspector() -> Path:
    if not INSPECTOR.exists():
        pytest.fail("the MCP Inspector is not installed: run `make install` (npm ci in tests/mcp_server/inspector)")
    return INSPECTOR


async def run_inspector(inspector: Path, *args: str) -> Any:
    """Run `mcp-inspector --cli ...` without blocking the event loop the servers run on; return its JSON."""
    proc = await asyncio.create_subprocess_exec(
        str(inspector), "--cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(TIMEOUT):
        out, err = await proc.communicate()
    assert proc.returncode == 0, (out.decode()[-2000:], err.decode()[-2000:])
    return json.loads(out)


def _stdio_env(settings: Settings) -> list[str]:
    assert settings.database_url is not None
    env = {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "ARCHON_DATA_DIR": str(settings.data_dir),
        "EMBEDDING_PROVIDER": "hash",
        "HF_HUB_OFFLINE": "1",
        "CRAWL4AI_NO_CLOUD_NOTICE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


async def test_inspector_over_stdio_lists_and_calls_tools(app: Any, settings: Settings, inspector: Path) -> None:
    env = _stdio_env(settings)
    listed = await run_inspector(inspector, *env, str(ARCHON), "mcp", "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert {"search_knowledge", "get_document", "create_task", "update_task", "list_projects", "crawl_url"} <= names
    created = await run_inspector(
        inspector,
        *env,
        str(ARCHON),
        "mcp",
        "--method",
        "tools/call",
        "--tool-name",
        "create_project",
        "--tool-arg",
        "title=From Inspector",
    )
    assert created["isError"] is False and created["structuredContent"]["title"] == "From Inspector"
    projects = (await app.state.mcp.call_tool("list_projects", {})).structured_content
    assert [p["title"] for p in projects["projects"]] == ["From Inspector"]


async def test_inspector_over_streamable_http_and_sse(mcp_live: LiveServer, inspector: Path) -> None:
    listed = await run_inspector(inspector, f"{mcp_live.url}/mcp", "--transport", "http", "--method", "tools/list")
    assert "list_tasks" in {t["name"] for t in listed["tools"]}
    failed = await run_inspector(
        inspector,
        f"{mcp_live.url}/mcp",
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "get_task",
        "--tool-arg",
        "task_id=00000000-0000-0000-0000-000000000000",
    )
    assert failed["isError"] is True and "not_found" in failed["content"][0]["text"]
    resources = await run_inspector(inspector, f"{mcp_live.url}/sse", "--method", "resources/templates/list")
    assert "archon://sources/{source_id}" in {t["uriTemplate"] for t in resources["resourceTemplates"]}
