"""The MCP server (tools, resources, transports) and its /api/mcp control router."""
