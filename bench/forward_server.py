"""The least possible server: one pooled httpx2.AsyncClient, upstream records forwarded unprocessed.

Same upstream request as zilliz-refresh-mcp's list_refresh_jobs; the tool answers upstream's body as
one text block (no parsing, no structured content). Reads ZILLIZ_CLUSTER_ENDPOINT and ZILLIZ_TOKEN;
``--transport http --port 0`` serves streamable HTTP on 127.0.0.1 and prints the URL on stderr.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent

LIST_ROUTE = "/v2/vectordb/jobs/external_collection/list"


@asynccontextmanager
async def lifespan(_: MCPServer[httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=os.environ["ZILLIZ_CLUSTER_ENDPOINT"],
        headers={"Authorization": f"Bearer {os.environ['ZILLIZ_TOKEN']}"},
        timeout=30.0,
        limits=httpx2.Limits(max_connections=16, max_keepalive_connections=8),
    ) as client:
        yield client


mcp: MCPServer[httpx2.AsyncClient] = MCPServer("forward", lifespan=lifespan, log_level="WARNING")


@mcp.tool()
async def list_refresh_jobs(
    ctx: Context[httpx2.AsyncClient, Any], dbName: str = "default", collectionName: str | None = None
) -> CallToolResult:
    """Forward /list and answer upstream's body verbatim."""
    body: dict[str, Any] = {"dbName": dbName}
    if collectionName:
        body["collectionName"] = collectionName
    response = await ctx.request_context.lifespan_context.post(LIST_ROUTE, json=body)
    return CallToolResult(content=[TextContent(type="text", text=response.text)])


def main() -> None:
    if "--transport" in sys.argv and sys.argv[sys.argv.index("--transport") + 1] == "http":
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        print(f"forward: serving MCP on http://127.0.0.1:{port}/mcp", file=sys.stderr, flush=True)
        app = mcp.streamable_http_app(host="127.0.0.1")
        config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=3)
        uvicorn.Server(config).run(sockets=[sock])
    else:
        mcp.run("stdio")


if __name__ == "__main__":
    main()
