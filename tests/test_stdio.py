"""stdin's lines the SDK cannot parse, in-process: what ``read_again`` answers each with, and how many answers
``MendedLines`` keeps pending for a host that does not read them. (test_e2e.py runs the console script over pipes.)"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, JSONRPCError, JSONRPCRequest, jsonrpc_message_adapter
from pydantic import ValidationError

from zilliz_refresh_mcp import stdio
from zilliz_refresh_mcp.stdio import MendedLines, read_again

pytestmark = pytest.mark.anyio


def unparsed(line: str) -> ValidationError:
    """What the SDK's stdio transport hands on for a line it cannot parse."""
    with pytest.raises(ValidationError) as caught:
        jsonrpc_message_adapter.validate_json(line, by_name=False)
    return caught.value


def answers_to(message: Any) -> list[tuple[str | int | None, int, str]]:
    read = read_again(unparsed(json.dumps(message)))
    assert isinstance(read, list), read
    return [(error.id, error.error.code, error.error.message) for error in read]


def test_a_batch_is_answered_by_its_requests_ids_only() -> None:
    """A mutation audit: a batch's response (an id, no method) was not told apart from its requests, nor an id that
    names no request (true, null), nor an empty batch, which JSON-RPC answers with one error."""
    request = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
    response = {"jsonrpc": "2.0", "id": 6, "result": {}}
    assert [answer[:2] for answer in answers_to([request, response])] == [(5, INVALID_REQUEST)]
    no_ids = [{"jsonrpc": "2.0", "id": True, "method": "ping"}, {"jsonrpc": "2.0", "id": None, "method": "ping"}]
    for batch in (no_ids, []):
        [(request_id, code, message)] = answers_to(batch)
        assert (request_id, code) == (None, INVALID_REQUEST) and "a batch" in message


def test_a_line_that_is_no_request_is_answered_by_its_id_when_it_names_one() -> None:
    """A mutation audit: ``{"id": 3}`` alone (pydantic says each member is missing) is answered by its id; a message
    with a method and a result is a bad request, not a response to ignore; ``true`` is no id to answer by."""
    for message, request_id in [
        ({"jsonrpc": "2.0", "id": 3}, 3),
        ({"jsonrpc": "2.0", "id": 9, "method": 7, "result": 1}, 9),
        ({"jsonrpc": "2.0", "id": True, "method": 7}, None),
    ]:
        [(answered_id, code, message_text)] = answers_to(message)
        assert (answered_id, code) == (request_id, INVALID_REQUEST), message
        assert answered_id is not True and message_text.startswith("Invalid Request: not a JSON-RPC 2.0 request")
    assert answers_to({"jsonrpc": "2.0", "id": 99, "error": "not an error object"}) == []  # a response: never


async def test_a_host_that_reads_no_answers_has_at_most_the_bound_pending_and_later_lines_are_answered_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mutation audit: the bound of pending answers, and their count going down once written, were untested. 100
    bad lines with stdout unread leave the bound's answers waiting (64 here; the rest are dropped) and stdin read on;
    once the host reads them, a later bad line is answered again. Each kind of bad line is one warning, its repeats
    debug lines."""
    monkeypatch.setattr(stdio, "_PENDING_ANSWERS", 64)
    lines, read_lines = anyio.create_memory_object_stream[SessionMessage | Exception](200)
    write_answers, answers = anyio.create_memory_object_stream[SessionMessage](0)  # stdout that no one reads
    ping = SessionMessage(JSONRPCRequest(jsonrpc="2.0", id="ping", method="ping"))

    def bad(request_id: int) -> ValidationError:
        return unparsed(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": 7}))

    def written() -> list[Any]:
        ids: list[Any] = []
        while True:
            try:
                message = answers.receive_nowait().message
            except anyio.WouldBlock:
                return ids
            assert isinstance(message, JSONRPCError)
            ids.append(message.id)

    caplog.set_level(logging.DEBUG, logger=stdio.__name__)
    async with lines, read_lines, write_answers, answers, anyio.create_task_group() as replies:
        mended = MendedLines(read_lines, write_answers, replies)
        for request_id in range(100):
            lines.send_nowait(bad(request_id))
        lines.send_nowait(ping)
        assert await mended.receive() is ping  # stdin read on past every bad line
        await anyio.wait_all_tasks_blocked()
        assert sorted(written()) == list(range(stdio._PENDING_ANSWERS))
        await anyio.wait_all_tasks_blocked()  # the answers written, none is pending
        lines.send_nowait(bad(100))
        lines.send_nowait(ping)
        assert await mended.receive() is ping
        await anyio.wait_all_tasks_blocked()
        assert written() == [100]
    levels = [record.levelno for record in caplog.records if "answered with error -32600" in record.getMessage()]
    assert levels == [logging.WARNING] + [logging.DEBUG] * 100
