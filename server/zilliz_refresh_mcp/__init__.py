"""zilliz-refresh-mcp: an MCP server for Zilliz Cloud / Milvus external-collection refresh jobs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zilliz-refresh-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
