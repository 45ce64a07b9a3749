"""Streamable HTTP: the ASGI app with DNS-rebinding protection, an optional bearer token and a body cap, which
cancels a call whose client dropped its connection and ends its open streams cleanly when the server stops; and
the uvicorn settings that bound what a client can hold."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import socket
from collections.abc import Callable
from contextvars import ContextVar
from types import FrameType
from typing import Any, ClassVar

import anyio
import h11
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.jsonrpc import INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import Settings, host_in_url, is_loopback
from .errors import quoted, shortened

# A request carries one JSON-RPC message whose strings are capped at a few kB (guards.MAX_STRING_CHARS); parsing
# a body of `[{},{},...]` makes over 20 times its size in Python objects, so the cap stays well below a megabyte.
MAX_REQUEST_BYTES = 64 * 1024
HEADER_TIMEOUT_SECONDS = 10.0  # for a request's line and headers to arrive, from when the connection awaits them
CONNECTION_LIMIT = 512  # open connections or running requests; beyond, a request is answered 503
# The SDK's defaults (10,000 sessions, each kept 30 min after its last request) let anyone who may open a
# session pile up server tasks and memory; a host that still holds a session after this long re-initializes on
# the 404 that an expired one answers. An open GET stream or a call in flight keeps a session alive.
MAX_SESSIONS = 256  # beyond, a new session is answered 503 until one ends or expires
SESSION_IDLE_SECONDS = 300.0
STOP_GRACE_SECONDS = 1.0  # for open streams to end by themselves once the server stops, before they are cut
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
logger = logging.getLogger(__name__)


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """Host/Origin checks are always on: loopback names, plus what the user allowed for other binds."""
    names = list(_LOOPBACK_HOSTS)
    bound = host_in_url(settings.host).lower()  # as Host headers are, once LowerCaseHeaders has read them
    if settings.host not in ("0.0.0.0", "::") and bound not in names:  # noqa: S104 - a wildcard names no host
        names.append(bound)  # the address it listens on, e.g. 127.0.0.2 or [fe80::1]
    hosts = [f"{name}:*" for name in names] + names
    loopback = [name for name in names if is_loopback(name)]  # a page served from another machine is not trusted
    origins = [f"http://{name}:*" for name in loopback] + [f"http://{name}" for name in loopback]
    hosts += settings.mcp_allowed_hosts
    origins += settings.mcp_allowed_origins
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenGate:
    """Refuses every HTTP request (and websocket) without exactly one ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the bearer token must not be empty")
        self._app = app
        # Digests of equal length are compared, so the time taken tells nothing of the token's length either.
        self._expected = _digest(token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(given) > 1:
            # Proxies and frameworks disagree on which of several counts (the first, the last, all joined):
            # whichever this gate chose, a proxy in front may have checked another.
            await _refuse(scope, send, 400, "bad_request", "send one Authorization header, not several")
            return
        scheme, _, credentials = (given[0] if given else b"").partition(b" ")
        # The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        if scheme.lower() == b"bearer" and hmac.compare_digest(_digest(credentials.strip()), self._expected):
            await self._app(scope, receive, send)
            return
        await _refuse(
            scope,
            send,
            401,
            "unauthorized",
            "send Authorization: Bearer <ZILLIZ_MCP_BEARER_TOKEN>",
            (b"www-authenticate", b'Bearer realm="zilliz-refresh-mcp"'),
        )


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


async def _refuse(
    scope: Scope, send: Send, status: int, error: str, message: str, *headers: tuple[bytes, bytes]
) -> None:
    """Answers a refused request with ``status`` and a JSON body; a websocket's handshake is refused instead."""
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LowerCaseHeaders:
    """``Host``, ``Origin``, ``Content-Type`` and ``Accept`` in lower case. All four are case-insensitive, but the SDK
    compares them exactly: ``Host`` and ``Origin`` in its DNS-rebinding check, against the allowed lists (a client
    may keep the capitals of the URL it was given), and the media types (``Application/JSON`` was refused 415)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value.lower() if name in _CASE_FREE else value) for name, value in scope["headers"]]
            scope = {**scope, "headers": headers}
        await self._app(scope, receive, send)


_CASE_FREE = (b"host", b"origin", b"content-type", b"accept")


class PlainRefusals:
    """Refuses, in words that say why, the requests the SDK answers in misleading ones, or not at all:
    - an ``MCP-Protocol-Version`` it does not speak (it takes any such version for the 2026-07-28 era's, and asks
      for that era's ``params._meta``);
    - a JSON-RPC batch, which MCP dropped in 2025-06-18 (its pydantic errors, over 1 kB of them);
    - a request with no id, or one that is not a string or an integer (it takes the request for a notification,
      answers 202, and runs nothing);
    - a request whose id is that of another of its session still under way (it keys answers by the id's text: one
      of the two POSTs got the other's answer, or none, and stayed open for ever).

    And a GET that asks to resume a stream (``Last-Event-ID``) is served a new one: the server keeps no events to
    replay, and the SDK answered 500."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._under_way: set[tuple[bytes, str]] = set()  # (session id, request id as the SDK keys it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version.decode("latin-1") not in SUPPORTED_PROTOCOL_VERSIONS:
            asked = version.decode("latin-1")
            told = (
                f"Unsupported protocol version: the MCP-Protocol-Version header says {quoted(asked)}; this server "
                f"speaks {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
            )
            data = {"supported": list(SUPPORTED_PROTOCOL_VERSIONS), "requested": shortened(asked, 64)}
            await _refuse_message(send, UNSUPPORTED_PROTOCOL_VERSION, told, data=data)
            return
        if scope["method"] == "GET" and b"last-event-id" in headers:
            scope = {
                **scope,
                "headers": [(name, value) for name, value in scope["headers"] if name != b"last-event-id"],
            }
        if scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        read: list[Message] = []  # the body, handed on once read; past the cap, the SDK refuses it
        size, more = 0, True
        while more and size <= MAX_REQUEST_BYTES:
            read.append(message := await receive())
            size += len(message.get("body", b""))
            more = message["type"] == "http.request" and message.get("more_body", False)
        body = _json(b"".join(part.get("body", b"") for part in read)) if size <= MAX_REQUEST_BYTES else None
        words, request_id = _refusal(body), _request_id_of(body)
        session = headers.get(b"mcp-session-id")
        key = (session, str(request_id)) if session is not None and request_id is not None else None
        if words is None and key in self._under_way:
            words = (
                f"Invalid Request: id {quoted(str(request_id))} is another request's of this session, still under way"
            )
        if words is not None:
            await _refuse_message(send, INVALID_REQUEST, words, request_id=request_id)
            return

        async def replayed() -> Message:
            return read.pop(0) if read else await receive()

        if key is None:
            await self._app(scope, replayed, send)
            return

        owned = True  # until answered: then the id is free again, though the SDK's task ends later

        async def answering(message: Message) -> None:
            nonlocal owned
            if owned and message["type"] == "http.response.body" and not message.get("more_body", False):
                self._under_way.discard(key)
                owned = False
            await send(message)

        self._under_way.add(key)
        try:
            await self._app(scope, replayed, answering)
        finally:
            if owned:  # not answered (the client left): freed now; once answered, another request may hold it
                self._under_way.discard(key)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None  # the SDK answers -32700


def _refusal(body: Any) -> str | None:
    """Why a POST's ``body`` (its JSON) is refused here, or None: what the SDK answers well is left to it."""
    if isinstance(body, list):
        return "Invalid Request: a batch (a JSON array) is not taken; send one JSON-RPC message a request"
    if not isinstance(body, dict) or not isinstance(method := body.get("method"), str):
        return None
    if _request_id_of(body) is None and not method.startswith("notifications/"):  # MCP's notifications are so named
        return "Invalid Request: a request needs an id that is a string or an integer"
    return None


def _request_id_of(body: Any) -> int | str | None:
    """The id of the request that ``body`` is, if it is one, and its id a string or an integer."""
    if not isinstance(body, dict) or not isinstance(body.get("method"), str):
        return None
    request_id = body.get("id")
    return request_id if isinstance(request_id, int | str) and not isinstance(request_id, bool) else None


async def _refuse_message(
    send: Send, code: int, message: str, *, request_id: int | str | None = None, data: dict[str, Any] | None = None
) -> None:
    """Answers 400 with a JSON-RPC error."""
    error: dict[str, Any] = {"code": code, "message": message} | ({"data": data} if data else {})
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode()
    await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


# Set while CancelOnDisconnect posts a cancel notice: the session may be closing meanwhile (the client that left
# mid-call ended it too), and the SDK then logs the notice's failure as an error, with a traceback.
_POSTING_CANCEL: ContextVar[bool] = ContextVar("posting_cancel", default=False)


class _SessionGoneMeanwhile(logging.Filter):
    """Drops the SDK's error record of a cancel notice that met its session closed: nothing was left to cancel."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (_POSTING_CANCEL.get() and isinstance(error, anyio.ClosedResourceError | anyio.BrokenResourceError))


logging.getLogger("mcp.server.streamable_http").addFilter(_SessionGoneMeanwhile())


class CancelOnDisconnect:
    """Cancels a call whose client dropped its connection before the answer came, as the client would have.

    Over the 2025-era protocol the SDK runs such a call to its end: a wait of up to 10 minutes, polling the cluster
    and holding one of the 16 waits allowed at once. When a POST that carried a request (and a session id) ends with
    the client gone and no answer sent, the session is told ``notifications/cancelled`` for that request, posted to
    the app itself with the original request's headers. (A call of the 2026-07-28 era has no session: the SDK ends
    it itself.)"""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        if scope["type"] != "http" or scope["method"] != "POST" or b"mcp-session-id" not in headers:
            await self._app(scope, receive, send)
            return
        body = bytearray()
        gone = answered = False

        async def reading() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.request" and len(body) <= MAX_REQUEST_BYTES:
                body.extend(message.get("body", b""))
            elif message["type"] == "http.disconnect":
                gone = True
            return message

        async def sending(message: Message) -> None:
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        try:
            await self._app(scope, reading, sending)
        finally:
            if gone and not answered and (request_id := _request_id_of(_json(bytes(body)))) is not None:
                with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
                    await self._cancel(scope, request_id)

    async def _cancel(self, scope: Scope, request_id: int | str) -> None:
        notice = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "the client's connection closed"},
        }
        body = json.dumps(notice).encode()
        kept = [(name, value) for name, value in scope["headers"] if name not in _BODY_HEADERS]
        headers = [*kept, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        delivered = False

        async def once() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def discard(message: Message) -> None:
            pass

        # The client chose the id: at most 40 characters of it in the log (the formatter shows control characters).
        shown = shortened(str(request_id), 40)
        logger.info("request %s: its client left before the answer; cancelled", shown)
        posting = _POSTING_CANCEL.set(True)
        try:
            await self._app({**scope, "headers": headers}, once, discard)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.info("request %s: its session closed meanwhile, and the call with it", shown)
        finally:
            _POSTING_CANCEL.reset(posting)


_BODY_HEADERS = (b"content-type", b"content-length", b"transfer-encoding", b"content-encoding")


class EndStreamsOnStop:
    """Ends the responses still open when the server stops, at once, not when uvicorn gives up on them (after its
    graceful timeout, cancelling them with an error logged). ``stop`` first lets each stream end itself within a
    grace period: ``on_stop`` closes the listen streams, whose last frame tells the client the end is deliberate,
    and a GET stream ends on uvicorn's exit; then it cuts what is left, a call still running: a response begun ends
    as a stream should (the client reads a clean end, not a broken one), one not begun is answered 503."""

    def __init__(self, app: ASGIApp, on_stop: Callable[[], None]) -> None:
        self._app = app
        self._on_stop = on_stop
        self._calls: set[anyio.CancelScope] = set()
        self._stopping = False
        self._drained: anyio.Event | None = None  # set when the last call ends, once stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._stopping:
            await _end(scope, send, started=False)
            return
        started = ended = False

        async def tracked(message: Message) -> None:
            nonlocal started, ended
            await send(message)  # then noted: a send cut short (a client slow to read) sent nothing
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True

        with anyio.CancelScope() as call:
            self._calls.add(call)
            try:
                await self._app(scope, receive, tracked)
            finally:
                self._calls.discard(call)
                if self._drained is not None and not self._calls:
                    self._drained.set()
        if self._stopping and not ended:
            await _end(scope, send, started=started)

    def stopping(self) -> None:
        """The server is asked to stop: a stream that ends from now on ends cleanly, and new requests get 503.
        Called from the signal handler, before uvicorn's loop notices (an event stream may end in between)."""
        self._stopping = True

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """End every open response: within ``grace_seconds`` by itself, then cut."""
        self._stopping = True
        self._drained = anyio.Event()
        self._on_stop()
        if self._calls:
            with anyio.move_on_after(grace_seconds):
                await self._drained.wait()
        for call in list(self._calls):
            call.cancel()


async def _end(scope: Scope, send: Send, *, started: bool) -> None:
    """End a response as the server stops: one begun with its last frame, one not begun with 503. A client that
    stopped reading does not hold the stop (uvicorn then logs the response as incomplete)."""
    with anyio.move_on_after(STOP_GRACE_SECONDS):
        if started:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await _refuse(
                scope,
                send,
                503,
                "stopping",
                "the server is stopping; ask again once it is back",
                (b"connection", b"close"),
            )


def http_app(
    mcp: MCPServer[Any], settings: Settings, *, on_stop: Callable[[], None] = lambda: None
) -> tuple[ASGIApp, EndStreamsOnStop]:
    """The ASGI app serving ``mcp`` at ``/mcp``, and what ends its open responses when the server stops
    (``on_stop`` ends the streams the app can end gracefully)."""
    served = EndStreamsOnStop(
        LowerCaseHeaders(
            PlainRefusals(
                CancelOnDisconnect(
                    mcp.streamable_http_app(
                        transport_security=security_settings(settings),
                        max_request_body_size=MAX_REQUEST_BYTES,
                        max_sessions=MAX_SESSIONS,
                        session_idle_timeout=SESSION_IDLE_SECONDS,
                        host=settings.host,
                    )
                )
            )
        ),
        on_stop,
    )
    app: ASGIApp = served
    if settings.mcp_bearer_token is not None:
        app = BearerTokenGate(app, settings.mcp_bearer_token.get_secret_value())
    if settings.mcp_allowed_origins:
        app = _cross_origin(app, settings.mcp_allowed_origins)
    return app, served


# What a browser client sends and reads beside the body: its session, the protocol version, the token, the point
# to resume a stream from; and why a request was refused.
_CORS_REQUEST_HEADERS = [
    "content-type",
    "accept",
    "authorization",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",  # the 2026-07-28 revision's routing headers, which its requests must carry
    "mcp-name",
    "last-event-id",
]
_CORS_RESPONSE_HEADERS = ["mcp-session-id", "mcp-protocol-version", "www-authenticate"]


def _cross_origin(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """``app`` answering browsers of the ``origins`` the user allowed (``ZILLIZ_MCP_ALLOWED_ORIGINS``): their
    preflight, before the bearer token is asked for (a browser sends none with it), and the headers that let a page
    read the answer. Not the loopback origins allowed by default: any page served on this machine would then read
    the jobs. ``host:*`` allows any port given, letters in any case, as the Origin check does."""
    patterns = [re.escape(origin.removesuffix(":*")) + (r":\d+" if origin.endswith(":*") else "") for origin in origins]
    return CORSMiddleware(
        app,
        allow_origin_regex="(?i)(?:" + "|".join(patterns) + ")",
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=_CORS_REQUEST_HEADERS,
        expose_headers=_CORS_RESPONSE_HEADERS,
        max_age=600,
    )


class HeadersWithin(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request line and headers are not in within
    ``header_timeout`` seconds. uvicorn has no such timeout (its keep-alive timer stops at the first byte), so a
    client trickling a header every few seconds held its connection, and a file descriptor, for ever, before
    BearerTokenGate or any other check could run (slowloris). The body and the response are not timed: the app
    has the request by then, and refuses it or answers it as it sees fit."""

    header_timeout: ClassVar[float] = HEADER_TIMEOUT_SECONDS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._time_headers()

    def handle_events(self) -> None:
        super().handle_events()
        self._time_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start the next request cycle (keep-alive)
        self._time_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _time_headers(self) -> None:
        """The timer runs while h11 awaits the client's next request (its state IDLE): from the connection's
        start, or the end of the previous response, until that request's headers are parsed."""
        awaiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if not awaiting:
            self._stop_header_timer()
        elif self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None


class StoppingServer(uvicorn.Server):
    """uvicorn's server, ending the open responses of ``streams`` as it stops: noted from the signal on (sse-starlette
    may end a GET stream before ``shutdown`` begins), and ended before uvicorn waits for the connections. A stop
    asked by setting ``should_exit`` rather than by a signal is noted only once ``shutdown`` begins."""

    def __init__(self, config: uvicorn.Config, streams: EndStreamsOnStop) -> None:
        super().__init__(config)
        self.streams = streams

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.streams.stopping()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.streams.stop()
        await super().shutdown(sockets)


def server_config(app: ASGIApp, *, protocol: type[H11Protocol] = HeadersWithin) -> uvicorn.Config:
    """uvicorn's settings for ``app``: h11 with the header timeout, and a bound on connections and requests."""
    return uvicorn.Config(
        app,
        http=protocol,
        limit_concurrency=CONNECTION_LIMIT,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
    )
