"""Ready-to-paste MCP client configuration with this instance's real URLs, command and paths.

The API key itself never appears: snippets carry the placeholder `<ARCHON_API_KEY>` where a header goes.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from archon.config import Settings

KEY_PLACEHOLDER = "<ARCHON_API_KEY>"


class ClientSnippet(BaseModel):
    """One client's configuration: where it goes and what to paste."""

    client: str
    transport: str
    where: str
    config: dict[str, Any] | None = None
    command: str | None = None


class ClientConfigs(BaseModel):
    """Everything `/api/mcp/config` returns."""

    server_name: str
    streamable_http_url: str
    sse_url: str
    stdio_command: list[str]
    stdio_env: dict[str, str]
    auth_required: bool
    clients: list[ClientSnippet]


def public_host(settings: Settings) -> str:
    """The host name a local client should dial (a wildcard bind is reached through localhost)."""
    if settings.host in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{settings.host}]" if ":" in settings.host else settings.host


def mcp_urls(settings: Settings) -> tuple[str, str]:
    """(streamable HTTP URL, SSE URL) of this instance."""
    base = f"http://{public_host(settings)}:{settings.mcp_port}"
    return f"{base}/mcp", f"{base}/sse"


def archon_executable() -> str:
    """Absolute path of the `archon` command that belongs to this installation."""
    beside = Path(sys.executable).with_name("archon")
    if beside.exists():
        return str(beside)
    return shutil.which("archon") or "archon"


def stdio_env(settings: Settings) -> dict[str, str]:
    """The non-secret environment the stdio server needs to open the same knowledge base."""
    env = {
        "ARCHON_DATA_DIR": str(settings.data_dir.resolve()),
        "EMBEDDING_PROVIDER": settings.embedding_provider,
        "EMBEDDING_MODEL": settings.embedding_model,
    }
    if settings.mcp_tools != "all":
        env["ARCHON_MCP_TOOLS"] = settings.mcp_tools
    return env


def build_configs(settings: Settings) -> ClientConfigs:
    """Snippets for Cursor, Claude Desktop, Claude Code, Windsurf and VS Code."""
    http_url, sse_url = mcp_urls(settings)
    auth = settings.api_key is not None
    headers = {"Authorization": f"Bearer {KEY_PLACEHOLDER}"} if auth else None
    command = [archon_executable(), "mcp"]
    env = stdio_env(settings)
    header_flag = f" --header {shlex.quote('Authorization: Bearer ' + KEY_PLACEHOLDER)}" if auth else ""
    env_flags = "".join(f" -e {k}={shlex.quote(v)}" for k, v in env.items())

    def with_headers(entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "headers": headers} if headers else entry

    clients = [
        ClientSnippet(
            client="cursor",
            transport="streamable-http",
            where="~/.cursor/mcp.json",
            config={"mcpServers": {"archon": with_headers({"url": http_url})}},
        ),
        ClientSnippet(
            client="claude-desktop",
            transport="stdio",
            where="claude_desktop_config.json",
            config={"mcpServers": {"archon": {"command": command[0], "args": command[1:], "env": env}}},
        ),
        ClientSnippet(
            client="claude-code",
            transport="streamable-http",
            where="shell",
            command=f"claude mcp add --transport http archon {http_url}{header_flag}",
        ),
        ClientSnippet(
            client="claude-code-stdio",
            transport="stdio",
            where="shell",
            command=f"claude mcp add archon{env_flags} -- {shlex.join(command)}",
        ),
        ClientSnippet(
            client="windsurf",
            transport="streamable-http",
            where="~/.codeium/windsurf/mcp_config.json",
            config={"mcpServers": {"archon": with_headers({"serverUrl": http_url})}},
        ),
        ClientSnippet(
            client="vscode",
            transport="streamable-http",
            where=".vscode/mcp.json",
            config={"servers": {"archon": with_headers({"type": "http", "url": http_url})}},
        ),
        ClientSnippet(
            client="sse",
            transport="sse",
            where="any client that only speaks SSE",
            config={"mcpServers": {"archon": with_headers({"url": sse_url})}},
        ),
    ]
    return ClientConfigs(
        server_name="archon",
        streamable_http_url=http_url,
        sse_url=sse_url,
        stdio_command=command,
        stdio_env=env,
        auth_required=auth,
        clients=clients,
    )
