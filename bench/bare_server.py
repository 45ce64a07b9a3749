"""The reference for cold start: a bare MCPServer with one trivial tool, over stdio."""

from __future__ import annotations

from mcp.server import MCPServer

mcp: MCPServer = MCPServer("bare", log_level="WARNING")


@mcp.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    mcp.run("stdio")
