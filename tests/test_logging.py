"""Logging as an operator sees it: the console script spawned over stdio by the SDK client, its stderr captured.

``--log-level INFO`` gives one line per upstream call (method, route, status, duration, attempt), and no
line carries the token, even when the cluster echoes the ``Authorization`` header back in an error body.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError, StdioServerParameters, stdio_client

from zilliz_refresh_mcp.simulator import Fault, SimulatedCluster, SimulatorServer, demo_cluster
from zilliz_refresh_mcp.upstream import DESCRIBE_ROUTE, LIST_ROUTE

from .conftest import console_script

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# "POST /v2/vectordb/jobs/external_collection/list -> 200 in 3 ms (attempt 1)"
CALL_LINE = re.compile(
    r"\bINFO\b.*?\b(?P<method>POST) (?P<route>/v2/\S+) -> (?P<status>\d{3}|-)(?: code (?P<code>\d+))?"
    r" in (?P<ms>\d+(?:\.\d+)?) ?ms\b"
    r".*?\battempt (?P<attempt>\d+)\b"
)


async def run_session(simulator: SimulatorServer, stderr_path: Path, **env: str) -> dict[str, Any]:
    """A host's session over stdio: list (retried once), read a job, read an unknown job. Returns the answers."""
    params = StdioServerParameters(
        command=console_script(),
        env={"ZILLIZ_CLUSTER_ENDPOINT": simulator.url, "ZILLIZ_TOKEN": simulator.cluster.token, **env},
    )
    answers: dict[str, Any] = {}
    with stderr_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listing = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_music"})
            assert not listing.is_error, listing.content
            assert listing.structured_content is not None
            job = listing.structured_content["jobs"][0]
            answers["listing"] = listing.structured_content
            answers["read"] = await client.read_resource(job["detailsUri"])
            with pytest.raises(MCPError, match="No refresh job 1"):
                await client.read_resource("zilliz://refresh-jobs/1")
    return answers


def call_lines(stderr: str) -> list[re.Match[str]]:
    return [match for line in stderr.splitlines() if (match := CALL_LINE.search(line))]


def retry_then_succeed() -> Fault:
    """A busy cluster that echoes the caller's Authorization header in its error body (as some gateways do)."""
    return Fault(
        status=503,
        body=b'{"message": "overloaded, request was {authorization}"}',
        headers={"Retry-After": "0"},
        route=LIST_ROUTE,
    )


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> SimulatedCluster:
    """The demo cluster with a recognisable token: an API key, or ``user:password`` when parametrized so."""
    kind = getattr(request, "param", "api-key")
    token = f"sk-{secrets.token_hex(20)}" if kind == "api-key" else f"ops-admin:{secrets.token_hex(12)}"
    return demo_cluster(token=token)


@pytest.fixture
def simulator(cluster: SimulatedCluster) -> Iterator[SimulatorServer]:
    with SimulatorServer(cluster) as server:
        yield server


async def test_info_logs_one_line_per_upstream_call(
    simulator: SimulatorServer, cluster: SimulatedCluster, tmp_path: Path
) -> None:
    cluster.inject(retry_then_succeed())
    stderr_path = tmp_path / "stderr.log"
    await run_session(simulator, stderr_path, ZILLIZ_LOG_LEVEL="INFO", ZILLIZ_MAX_ATTEMPTS="3")
    stderr = stderr_path.read_text(encoding="utf-8")

    lines = call_lines(stderr)
    seen = [request.route for request in cluster.requests]
    assert [m["route"] for m in lines] == seen, stderr  # one line per call, in order
    assert seen == [LIST_ROUTE, LIST_ROUTE, DESCRIBE_ROUTE, DESCRIBE_ROUTE]
    assert all(m["method"] == "POST" for m in lines)
    assert [(m["status"], m["attempt"]) for m in lines] == [("503", "1"), ("200", "2"), ("200", "1"), ("200", "1")]
    assert all(float(m["ms"]) < 30_000 for m in lines)


@pytest.mark.parametrize("cluster", ["api-key", "user-password"], indirect=True)
async def test_no_log_line_carries_the_token(
    simulator: SimulatorServer, cluster: SimulatedCluster, tmp_path: Path
) -> None:
    cluster.inject(retry_then_succeed())
    stderr_path = tmp_path / "stderr.log"
    answers = await run_session(simulator, stderr_path, ZILLIZ_LOG_LEVEL="DEBUG")
    stderr = stderr_path.read_text(encoding="utf-8")
    assert call_lines(stderr), stderr
    token = cluster.token
    _, colon, password = token.partition(":")
    pieces = [token, password] if colon else [token]  # what redaction hides; a user name is not a secret
    for piece in pieces:
        assert piece not in stderr
        assert piece not in repr(answers)
    assert "httpcore2" not in stderr  # its DEBUG lines dump every header upstream sends back
    # The echoed header reached the server (the fault did its job), and was redacted on the way out.
    assert any(request.authorization == f"Bearer {token}" for request in cluster.requests)


async def test_default_level_logs_no_call_lines(simulator: SimulatorServer, tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr.log"
    await run_session(simulator, stderr_path)
    stderr = stderr_path.read_text(encoding="utf-8")
    assert not call_lines(stderr), stderr
    assert "POST /v2/" not in stderr


async def test_a_call_failing_with_a_body_code_logs_the_code(simulator: SimulatorServer, tmp_path: Path) -> None:
    """Milvus answers most errors with HTTP 200 and a non-zero ``code``: the line must show that code."""
    stderr_path = tmp_path / "stderr.log"
    await run_session(simulator, stderr_path, ZILLIZ_LOG_LEVEL="INFO")
    unknown_job = call_lines(stderr_path.read_text(encoding="utf-8"))[-1]  # the read of zilliz://refresh-jobs/1
    assert unknown_job["route"] == DESCRIBE_ROUTE
    assert "code 65535" in unknown_job.string, unknown_job.string


async def test_an_echo_of_the_key_broken_apart_reaches_neither_answers_nor_logs(
    simulator: SimulatorServer, cluster: SimulatedCluster, tmp_path: Path
) -> None:
    """Over stdio, at DEBUG: a busy cluster's message (logged with its retry) and a failed job's reason each echo the
    key wrapped inside its first 12 characters, which a review found shown whole in both."""
    token = cluster.token
    echo = f"{token[:5]}\n{token[5:]}"
    record = {"jobId": 7, "collectionName": "ext_a", "state": "RefreshFailed", "reason": f"bad token {echo}"}
    cluster.inject(
        Fault(status=503, body=json.dumps({"message": f"overloaded, key {echo}"}).encode(), route=LIST_ROUTE),
        Fault.raw(json.dumps({"code": 0, "data": {"records": [record]}})),
    )
    params = StdioServerParameters(
        command=console_script(),
        env={
            "ZILLIZ_CLUSTER_ENDPOINT": simulator.url,
            "ZILLIZ_TOKEN": token,
            "ZILLIZ_LOG_LEVEL": "DEBUG",
            "ZILLIZ_MAX_ATTEMPTS": "2",
        },
    )
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listing = await client.call_tool("list_refresh_jobs", {})
    stderr = stderr_path.read_text(encoding="utf-8")
    assert listing.structured_content is not None, listing.content
    # "sk-" before the break is blanked or not (3 characters apart are left as words that may go on as the key does).
    assert re.fullmatch(r"bad token (sk-)?\*\*\*", listing.structured_content["jobs"][0]["reason"])
    assert re.search(r"overloaded, key (sk-)?\*\*\*", stderr), stderr
    key = token.lower().replace("-", "")
    for shown in (listing.model_dump_json(), stderr):
        joined = re.sub(r"[^0-9a-z]", "", re.sub(r"\\+[nrt]", "", shown.lower()))
        assert [key[at : at + 12] for at in range(len(key) - 11) if key[at : at + 12] in joined] == [], shown
