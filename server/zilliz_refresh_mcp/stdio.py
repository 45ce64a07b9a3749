"""stdio: the SDK's transport, with every line it cannot parse mended or answered, never dropped in silence.

The SDK parses each line with pydantic, which refuses JSON that the standard allows: a lone half of a UTF-16
surrogate pair (``"\\ud83d"``, what a host writes when it cuts a string between the two halves of an emoji), or a
line that begins with a byte-order mark. It drops what it cannot parse, so the host's request waits for its timeout.
Here such a line is read by the standard library, a lone surrogate becomes U+FFFD (the tool's own checks then refuse
the name, saying why), and a line that is still no JSON-RPC message is answered as JSON-RPC 2.0 says: -32700 for
one that is not JSON, -32600 for one that is not a request (a batch among them: no revision after 2025-03-26 has
them, and the SDK serves none).
"""

from __future__ import annotations

import json
import logging
import re
from types import TracebackType
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, jsonrpc_message_adapter
from pydantic import ValidationError

from .server import lowlevel

logger = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")  # json.loads leaves a pair whole: what remains stands alone


async def serve_stdio(mcp: MCPServer[Any]) -> None:
    """Serve ``mcp`` over stdin and stdout until stdin ends, as ``MCPServer.run_stdio_async`` does, lines mended."""
    async with stdio_server() as (lines, answers):
        server = lowlevel(mcp)
        await server.run(MendedLines(lines, answers), answers, server.create_initialization_options())


class MendedLines:
    """The read stream of ``stdio_server``, with the lines it could not parse mended, or answered on ``answers``."""

    def __init__(self, lines: ReadStream[SessionMessage | Exception], answers: WriteStream[SessionMessage]) -> None:
        self._lines = lines
        self._answers = answers

    @property
    def last_context(self) -> Any:  # the sender's context, which the SDK reads after each message
        return getattr(self._lines, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._lines.receive()
            if not isinstance(item, ValidationError):
                return item
            mended = await self._mend(item)
            if mended is not None:
                return mended

    async def _mend(self, error: ValidationError) -> SessionMessage | None:
        """The message the line held, or None once the line is answered with an error."""
        line = next((e["input"] for e in error.errors() if e["type"] == "json_invalid"), None)
        value: Any = None
        if isinstance(line, str):
            try:
                value = _without_lone_surrogates(json.loads(line.lstrip("\ufeff")))
            except (ValueError, RecursionError):
                await self._answer(PARSE_ERROR, "Parse error: the line is not JSON", None)
                return None
            try:
                return SessionMessage(jsonrpc_message_adapter.validate_python(value, by_name=False))
            except ValidationError:
                pass
        else:  # JSON, but no message: the errors name the object (or array) that is not one
            value = next((e["input"] for e in error.errors() if isinstance(e["input"], dict | list)), None)
        request_id = value.get("id") if isinstance(value, dict) else None
        batch = " (a batch, a JSON array, is not taken: send one message a line)" if isinstance(value, list) else ""
        message = f"Invalid Request: not a JSON-RPC 2.0 request, notification or response{batch}"
        usable = isinstance(request_id, str | int) and not isinstance(request_id, bool)
        await self._answer(INVALID_REQUEST, message, request_id if usable else None)
        return None

    async def _answer(self, code: int, message: str, request_id: str | int | None) -> None:
        logger.warning(
            "stdin: %s; answered with error %d", message, code
        )  # the line is not shown: it may hold anything
        error = JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))
        await self._answers.send(SessionMessage(error))

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


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value
