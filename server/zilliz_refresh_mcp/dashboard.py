"""The MCP App view of ``list_refresh_jobs``: a dashboard that hosts with MCP Apps support render.

The tool carries ``_meta.ui.resourceUri`` itself (it is registered with ``MCPServer.tool``, not through
``mcp.server.apps.Apps``, whose tools exist only for clients that negotiate the extension), so every
client sees the same tool and the same result; hosts without Apps support just ignore the meta and
show the text content. The HTML is one self-contained document (``dashboard.html``, shipped as
package data) that talks to its host over postMessage and never reaches the network.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Final

from mcp.server import MCPServer
from mcp.server.apps import APP_MIME_TYPE
from mcp.server.mcpserver.resources import TextResource

DASHBOARD_URI: Final = "ui://refresh-jobs/dashboard.html"
DASHBOARD_MIME: Final = APP_MIME_TYPE  # "text/html;profile=mcp-app"
TOOL_UI_META: Final[dict[str, Any]] = {"ui": {"resourceUri": DASHBOARD_URI}}

# No csp entry: the view needs no network, so hosts apply their most restrictive policy.
_RESOURCE_UI_META: Final[dict[str, Any]] = {"ui": {"prefersBorder": True}}


@cache
def dashboard_html() -> str:
    """The dashboard document, read from the package once."""
    return resources.files(__package__ or "zilliz_refresh_mcp").joinpath("dashboard.html").read_text("utf-8")


def register_dashboard(mcp: MCPServer[Any]) -> None:
    """Serve the dashboard as a static ``ui://`` resource to every client."""
    mcp.add_resource(
        TextResource(
            uri=DASHBOARD_URI,
            name="refresh-jobs-dashboard",
            title="Refresh jobs dashboard",
            description="Interactive view of list_refresh_jobs results, for hosts that render MCP Apps.",
            mime_type=DASHBOARD_MIME,
            meta=_RESOURCE_UI_META,
            text=dashboard_html(),
        )
    )


__all__ = ["DASHBOARD_MIME", "DASHBOARD_URI", "TOOL_UI_META", "dashboard_html", "register_dashboard"]
