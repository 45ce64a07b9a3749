"""Streamable HTTP: the ASGI app with DNS-rebinding protection, an optional bearer token and a body cap, whose
open streams end cleanly when the server stops."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings, host_in_url, is_loopback

MAX_REQUEST_BYTES = 1024 * 1024
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """Host/Origin checks are always on: loopback names, plus what the user allowed for other binds."""
    names = list(_LOOPBACK_HOSTS)
    bound = host_in_url(settings.host)
    if settings.host not in ("0.0.0.0", "::") and bound not in names:  # noqa: S104 - a wildcard names no host
        names.append(bound)  # the address it listens on, e.g. 127.0.0.2 or [fe80::1]
    hosts = [f"{name}:*" for name in names] + names
    loopback = [name for name in names if is_loopback(name)]  # a page served from another machine is not trusted
    origins = [f"http://{name}:*" for name in loopback] + [f"http://{name}" for name in loopback]
    hosts += settings.mcp_allowed_hosts
    origins += settings.mcp_allowed_origins
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenGate:
    """Refuses every HTTP request (and websocket) without ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the bearer token must not be empty")
        self._app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, credentials = given.partition(b" ")
        # The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._expected):
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":  # a websocket: refuse the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {"error": "unauthorized", "message": "send Authorization: Bearer <ZILLIZ_MCP_BEARER_TOKEN>"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="zilliz-refresh-mcp"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class EndStreamsOnStop:
    """Ends a response the app leaves open once the server is stopping: a client's event stream (its GET stream, a
    call still waiting) is cut by the shutdown. The client then reads a clean end of the stream, not a broken one,
    and uvicorn logs no "returned without completing response" error for an ordinary stop. A response left open
    at any other time is still uvicorn's to report."""

    def __init__(self, app: ASGIApp, stopping: Callable[[], bool]) -> None:
        self._app = app
        self._stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = ended = False

        async def tracked(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True
            await send(message)

        await self._app(scope, receive, tracked)
        if started and not ended and self._stopping():
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def http_app(mcp: MCPServer[Any], settings: Settings, *, stopping: Callable[[], bool] | None = None) -> ASGIApp:
    """The ASGI app serving ``mcp`` at ``/mcp``; ``stopping`` tells whether the server is shutting down."""
    app: ASGIApp = mcp.streamable_http_app(
        transport_security=security_settings(settings),
        max_request_body_size=MAX_REQUEST_BYTES,
        host=settings.host,
    )
    if stopping is not None:
        app = EndStreamsOnStop(app, stopping)
    if settings.mcp_bearer_token is not None:
        app = BearerTokenGate(app, settings.mcp_bearer_token.get_secret_value())
    return app
