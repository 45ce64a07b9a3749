"""stdio: the SDK's transport, with every line it cannot parse mended or answered, never dropped in silence.

The SDK parses each line with pydantic, which refuses JSON that the standard allows: a lone half of a UTF-16
surrogate pair (``"\\ud83d"``, what a host writes when it cuts a string between the two halves of an emoji), or a
line that begins with a byte-order mark. It drops what it cannot parse, so the host's request waits for its timeout.
Here such a line is read by the standard library, a lone surrogate becomes U+FFFD (the tool's own checks then refuse
the name, saying why), and a line that is still no JSON-RPC message is answered as JSON-RPC 2.0 says: -32700 for
one that is not JSON, -32600 for one that is not a request, or has no id that is a string or an integer (the SDK
takes it for a notification, and answers nothing). A batch (a JSON array, which only the 2025-03-26 revision
has, and the SDK does not serve) gets -32600 for each request in it, by its id. A response is never answered (this
server asks the client nothing that a bad one could be the answer to), nor is a blank line.

stdin is read by a daemon thread (``StdinLines``), and a host that closes stdout ends the server at once, with one
line on stderr: no answer can reach it any more.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
from concurrent.futures import CancelledError
from contextlib import suppress
from types import TracebackType
from typing import IO, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import TaskGroup
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from .records import map_strings, without_lone_surrogates
from .server import lowlevel

logger = logging.getLogger(__name__)


# Answers to bad lines not yet written (a few kB each): beyond, a host that writes and never reads gets none. A host
# that reads as it writes may still have hundreds waiting: stdin is read faster than stdout is written.
_PENDING_ANSWERS = 4096
_PENDING_ID_CHARS = 4 * 1024 * 1024
# A request with no id, or one that is not a string or an integer (null, true, 1.5, a list): the SDK reads it as a
# notification, and answers nothing. MCP's notifications are all named notifications/...
_NO_ID = "Invalid Request: a request needs an id that is a string or an integer"


HOST_GONE = "stdout was closed: the host quit or dropped this server; stopping"


async def serve_stdio(mcp: MCPServer[Any]) -> None:
    """Serve ``mcp`` over stdin and stdout until stdin ends, as ``MCPServer.run_stdio_async`` does, lines mended; or
    until the host closes stdout, which no answer can reach any more."""
    # Our own handle on stdin: closing it does not close the process's. fd 0 stays as it is (the SDK diverts it only
    # when it reads stdin itself): this server starts no process that could read it.
    stdin = StdinLines(
        io.TextIOWrapper(os.fdopen(os.dup(sys.stdin.fileno()), "rb"), encoding="utf-8", errors="replace")
    )
    try:
        async with stdio_server(stdin=stdin) as (lines, answers), anyio.create_task_group() as replies:
            server = lowlevel(mcp)
            await server.run(MendedLines(lines, answers, replies), answers, server.create_initialization_options())
            replies.cancel_scope.cancel()
    except* BrokenPipeError:
        logger.warning(HOST_GONE)
        # Nothing is left to write there: stdout goes nowhere, so that flushing it at exit cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class StdinLines(anyio.AsyncFile[str]):
    """stdin, line by line as the SDK's transport reads it, from a daemon thread.

    The SDK reads each line in one of anyio's worker threads, which stopping waits for and Python's exit joins: a host
    that closed stdout (it quit, or dropped this server) but not stdin left the server waiting for a line that never
    came, for ever. A daemon thread is left behind: the server stops once its transport fails.
    """

    def __init__(self, source: IO[str]) -> None:
        super().__init__(source)
        self._lines, self._read = anyio.create_memory_object_stream[str]()  # unbuffered: one line read ahead at most
        self._reader: threading.Thread | None = None

    async def readline(self) -> str:
        if self._reader is None:
            token = anyio.lowlevel.current_token()
            self._reader = threading.Thread(target=self._read_lines, args=(token,), name="stdin", daemon=True)
            self._reader.start()
        try:
            return await self._read.receive()
        except anyio.EndOfStream:
            return ""  # the end of stdin, as a file says it

    def _read_lines(self, token: anyio.lowlevel.EventLoopToken) -> None:
        with suppress(anyio.BrokenResourceError, anyio.RunFinishedError, CancelledError):  # the server stopped first
            try:
                while line := self.wrapped.readline():
                    anyio.from_thread.run(self._lines.send, line, token=token)
            except OSError as err:
                logger.warning("stdin: cannot be read (%s): taken as its end", err.strerror or err)
            anyio.from_thread.run_sync(self._lines.close, token=token)


class MendedLines:
    """The read stream of ``stdio_server``, with the lines it could not parse mended, or answered on ``answers``
    by tasks of ``replies`` (a full stdout pipe must not stop stdin being read)."""

    def __init__(
        self,
        lines: ReadStream[SessionMessage | Exception],
        answers: WriteStream[SessionMessage],
        replies: TaskGroup,
    ) -> None:
        self._lines = lines
        self._answers = answers
        self._replies = replies
        self._pending = 0
        self._pending_chars = 0  # of the ids they echo
        self._told: set[str] = set()  # the kinds of bad lines logged as warnings
        self._dropping = False

    @property
    def last_context(self) -> Any:  # the sender's context, which the SDK reads after each message
        return getattr(self._lines, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._lines.receive()
            if isinstance(item, ValidationError):
                read = read_again(item)
                if not isinstance(read, SessionMessage):
                    for error in read:
                        self._answer(error)
                    continue
                item = read
            if isinstance(item, SessionMessage) and _lacks_an_id(item):
                self._answer(_error(INVALID_REQUEST, _NO_ID, None))
                continue
            return item

    def _answer(self, error: JSONRPCError) -> None:
        # Not the line: it may hold anything. Each kind once as a warning: a host that sends thousands fills no log.
        level = logging.DEBUG if error.error.message in self._told else logging.WARNING
        self._told.add(error.error.message)
        logger.log(level, "stdin: %s; answered with error %d", error.error.message, error.error.code)
        size = len(error.id) if isinstance(error.id, str) else 0  # the id is echoed: a line may hold one of any length
        if self._pending and (self._pending >= _PENDING_ANSWERS or self._pending_chars + size > _PENDING_ID_CHARS):
            if not self._dropping:  # once until the host has read every answer waiting
                logger.warning("stdin: answers to bad lines dropped: %d wait for the host to read them", self._pending)
            self._dropping = True
            return
        self._pending += 1
        self._pending_chars += size
        self._replies.start_soon(self._send, error, size)

    async def _send(self, error: JSONRPCError, size: int) -> None:
        try:
            await self._answers.send(SessionMessage(error))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the server stopped meanwhile
        finally:
            self._pending -= 1
            self._pending_chars -= size
            self._dropping = self._dropping and self._pending > 0

    async def aclose(self) -> None:
        await self._lines.aclose()

    def __aiter__(self) -> MendedLines:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> MendedLines:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


def read_again(error: ValidationError) -> SessionMessage | list[JSONRPCError]:
    """What a line the SDK could not parse (its ``error``) holds: the message, mended; or the errors to answer it
    with, none for a blank line or a response."""
    line = next((e["input"] for e in error.errors() if e["type"] == "json_invalid"), None)
    if not isinstance(line, str):  # JSON, but no message: the errors name the whole (missing a member, or no object)
        return _refusals(
            next((e["input"] for e in error.errors() if e["type"] == "missing" or len(e["loc"]) < 2), None)
        )
    if not line.strip():
        return []
    try:
        value = json.loads(line.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return [_error(PARSE_ERROR, "Parse error: the line is not JSON, or nests too deep", None)]
    request_id = value.get("id") if isinstance(value, dict) else None
    mended = map_strings(value, without_lone_surrogates)  # in place
    if isinstance(mended, dict) and mended.get("id") != request_id:
        # Run under another id, the call's answer would reach no one, and the host would send it again.
        message = "Invalid Request: its id holds half of a UTF-16 surrogate pair, which no answer can repeat"
        return [_error(INVALID_REQUEST, message, None)]
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_python(mended, by_name=False))
    except ValidationError:
        return _refusals(mended)


def _refusals(value: Any) -> list[JSONRPCError]:
    """The errors that answer ``value``, a JSON value that is no JSON-RPC message."""
    if isinstance(value, list):
        message = "Invalid Request: a batch (a JSON array) is not taken; send one message a line"
        ids = [item["id"] for item in value if isinstance(item, dict) and "method" in item and _usable(item.get("id"))]
        return [_error(INVALID_REQUEST, message, request_id) for request_id in ids] or [
            _error(INVALID_REQUEST, message, None)
        ]
    if isinstance(value, dict) and "method" not in value and ("result" in value or "error" in value):
        logger.debug("stdin: a response that is not JSON-RPC's, to no request of this server: ignored")
        return []
    request_id = value.get("id") if isinstance(value, dict) else None
    message = "Invalid Request: not a JSON-RPC 2.0 request or notification"
    return [_error(INVALID_REQUEST, message, request_id if _usable(request_id) else None)]


def _lacks_an_id(item: SessionMessage) -> bool:
    message = item.message
    return isinstance(message, JSONRPCNotification) and not message.method.startswith("notifications/")


def _usable(request_id: Any) -> bool:
    return isinstance(request_id, str | int) and not isinstance(request_id, bool)


def _error(code: int, message: str, request_id: str | int | None) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))
