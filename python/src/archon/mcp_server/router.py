"""REST routes that control and observe the MCP server."""

from fastapi import APIRouter

router = APIRouter(prefix="/mcp", tags=["mcp"])
