"""The real console script over streamable HTTP: where it listens, whom it answers, what a client can hold, and
how it shares upstream.

Each server is spawned as ``zilliz-refresh-mcp --transport http --port 0`` against the simulator; the URL
is read from the line it prints once bound (no sleeps). Bad configurations are run to their exit code. Timeouts
too long to wait for in a test run in-process, under the production uvicorn settings with the timeout shortened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import h11
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zilliz_refresh_mcp import transport
from zilliz_refresh_mcp.cli import _client_url as client_url
from zilliz_refresh_mcp.cli import listen
from zilliz_refresh_mcp.config import load_settings
from zilliz_refresh_mcp.server import build_server
from zilliz_refresh_mcp.simulator import Fault, SimulatedCluster, SimulatorServer, demo_cluster
from zilliz_refresh_mcp.transport import (
    CONNECTION_LIMIT,
    MAX_SESSIONS,
    BearerTokenGate,
    EndStreamsOnStop,
    HeadersWithin,
    StoppingServer,
    http_app,
    security_settings,
    server_config,
)
from zilliz_refresh_mcp.upstream import LIST_ROUTE

from .conftest import console_script

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOOL = "list_refresh_jobs"
POOL_SIZE = 16  # ZillizClient's connection limit
CALLS = 100
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any ZILLIZ_* of the developer's, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZILLIZ_")}
    return env | values


@dataclass
class Served:
    """A running server: its URL, and its stderr as it comes (drained by a thread so it never blocks)."""

    proc: subprocess.Popen[str]
    url: str
    port: int
    stderr: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None  # drains stderr into ``stderr`` until the process ends


@pytest.fixture(scope="module")
def upstream() -> Iterator[SimulatorServer]:
    """The demo cluster plus 100 collections with one job each, for calls that cannot share a request."""
    cluster = demo_cluster()
    for index in range(CALLS):
        cluster.add_job("default", f"ext_p{index:03d}", started_minutes_ago=30, duration_minutes=10)
    with SimulatorServer(cluster) as simulator:
        yield simulator


@pytest.fixture
def cluster(upstream: SimulatorServer) -> Iterator[SimulatedCluster]:
    upstream.cluster.requests.clear()
    upstream.cluster.faults.clear()
    yield upstream.cluster
    upstream.cluster.faults.clear()


def spawn(simulator: SimulatorServer, *args: str, **env: str) -> Served:
    """Start the console script over HTTP; return once it printed the URL it serves."""
    proc = subprocess.Popen(
        [console_script(), "--transport", "http", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(
            **{
                "ZILLIZ_CLUSTER_ENDPOINT": simulator.url,
                "ZILLIZ_TOKEN": simulator.cluster.token,
                "ZILLIZ_RATE_LIMIT_PER_SECOND": "1000",
                "ZILLIZ_LOG_LEVEL": "INFO",
            }
            | env
        ),
    )
    assert proc.stderr is not None
    watchdog = threading.Timer(60, proc.kill)  # a server that never announces itself fails the test, not CI
    watchdog.start()
    lines: list[str] = []
    try:
        for line in proc.stderr:  # the server prints its URL once it is bound
            lines.append(line)
            if "serving MCP on " in line:
                break
    finally:
        watchdog.cancel()
    assert lines and "serving MCP on " in lines[-1], f"server did not announce its URL: {''.join(lines)}"
    url = lines[-1].rsplit(" ", 1)[-1].strip()
    served = Served(proc, url, int(url.rsplit(":", 1)[1].split("/")[0]), lines)
    served.reader = threading.Thread(target=lambda: served.stderr.extend(proc.stderr or ()), daemon=True)
    served.reader.start()
    return served


def wait_request(request_id: int, job_id: int | str, *, seconds: int) -> dict[str, Any]:
    """A wait_for_refresh_job call that asks for progress notifications: they tell the test the wait is under way."""
    arguments = {"jobId": str(job_id), "timeoutSeconds": seconds}
    params = {"name": "wait_for_refresh_job", "arguments": arguments, "_meta": {"progressToken": "p"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - only when shutdown hangs
        served.proc.kill()
        served.proc.wait()


@pytest.fixture(scope="module")
def plain(upstream: SimulatorServer) -> Iterator[Served]:
    served = spawn(upstream)
    yield served
    stop(served)


BEARER = "mcp-bearer-" + "x7Kq2" * 6


@pytest.fixture(scope="module")
def gated(upstream: SimulatorServer) -> Iterator[Served]:
    served = spawn(upstream, "--mcp-bearer-token", BEARER)
    yield served
    stop(served)


def run_config(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env=clean_env(**env),
    )


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


# --- where it listens ------------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a local socket listens on for ``port``, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def other_local_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent by a UDP connect
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else str(address)


def test_binds_to_loopback_by_default(plain: Served) -> None:
    assert plain.url.startswith("http://127.0.0.1:") and plain.url.endswith("/mcp")
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(plain.port) == {"127.0.0.1"}
    address = other_local_address()
    if address is not None:  # reachable only on loopback
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address, plain.port), timeout=5):
            pass


# --- whom it answers -------------------------------------------------------------------------------


async def test_foreign_host_or_origin_is_refused(plain: Served, cluster: SimulatedCluster) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        evil_host = await http.post(plain.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": "evil.example"})
        evil_origin = await http.post(
            plain.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": "http://evil.example"}
        )
        rebound = await http.post(
            plain.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": f"evil.example:{plain.port}"}
        )
        own = await http.post(
            plain.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": f"http://localhost:{plain.port}"}
        )
    assert evil_host.status_code == 421
    assert rebound.status_code == 421
    assert evil_origin.status_code == 403
    assert own.status_code == 200  # the control: the same request from a loopback origin works
    assert cluster.requests == []


async def test_a_server_bound_to_another_loopback_address_answers_requests_addressed_to_it(
    upstream: SimulatorServer, cluster: SimulatedCluster
) -> None:
    """127.0.0.2 needs no bearer token (it is loopback), so requests naming it as Host must get through."""
    served = spawn(upstream, "--host", "127.0.0.2")
    try:
        assert served.url.startswith("http://127.0.0.2:")
        async with httpx2.AsyncClient(timeout=30) as http:
            own = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS)  # Host: 127.0.0.2:<port>
            from_page = await http.post(
                served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": f"http://127.0.0.2:{served.port}"}
            )
            foreign = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": "evil.example"})
    finally:
        stop(served)
    assert own.status_code == 200 and from_page.status_code == 200
    assert foreign.status_code == 421


async def test_a_bind_to_every_address_says_the_url_clients_use_and_answers_it(upstream: SimulatorServer) -> None:
    """``--host 0.0.0.0`` prints that address in its URL, which no client can connect to: the line before it names
    the URL of the first allowed host, which the server answers (behind the bearer token)."""
    served = spawn(
        upstream,
        "--host",
        "0.0.0.0",  # noqa: S104
        ZILLIZ_MCP_BEARER_TOKEN=BEARER,
        ZILLIZ_MCP_ALLOWED_HOSTS="mcp.example:*,other.example",
    )
    try:
        note = f"zilliz-refresh-mcp: 0.0.0.0 is every address of this machine: clients use http://mcp.example:{served.port}/mcp\n"
        assert served.stderr[-2:] == [note, f"zilliz-refresh-mcp: serving MCP on http://0.0.0.0:{served.port}/mcp\n"]
        async with httpx2.AsyncClient(timeout=30) as http:
            named = await http.post(
                f"http://127.0.0.1:{served.port}/mcp",
                json=INITIALIZE,
                headers=MCP_HEADERS | {"Host": f"mcp.example:{served.port}", "Authorization": f"Bearer {BEARER}"},
            )
    finally:
        stop(served)
    assert named.status_code == 200


@pytest.mark.parametrize(
    ("host", "allowed", "said"),
    [
        ("0.0.0.0", "mcp.example:9000", "http://mcp.example:9000/mcp"),  # noqa: S104 - the port clients connect to
        ("::", "mcp.example:*", "http://mcp.example:8000/mcp"),
        ("0.0.0.0", "[fe80::2]:*", "http://[fe80::2]:8000/mcp"),  # noqa: S104
        # Without a port, only a Host header without one matches: a reverse proxy's, on its default port.
        (
            "0.0.0.0",  # noqa: S104
            "mcp.example",
            "https://mcp.example/mcp, through a reverse proxy in front that sends Host: mcp.example",
        ),
        ("0.0.0.0", "fe80::1,mcp.example:*", "http://mcp.example:8000/mcp"),  # noqa: S104 - the first that matches
        ("10.0.0.5", "mcp.example:*", None),  # a bind to one address: its own URL says where
    ],
)
def test_the_url_clients_use_is_the_first_allowed_host_that_a_host_header_can_match(
    host: str, allowed: str, said: str | None
) -> None:
    settings = load_settings(demo=True, transport="http", host=host, mcp_bearer_token=BEARER, mcp_allowed_hosts=allowed)
    assert client_url(settings, 8000) == said
    if allowed == "mcp.example":  # on port 80, a Host header without a port is this server's own
        assert client_url(settings, 80) == "http://mcp.example/mcp"


def test_an_ipv6_bind_is_allowed_as_a_host_header_writes_it() -> None:
    settings = load_settings(
        demo=True, transport="http", host="fe80::1", mcp_bearer_token="t" * 32, mcp_allowed_hosts="mcp.example"
    )
    allowed = security_settings(settings).allowed_hosts
    assert "[fe80::1]:*" in allowed and "fe80::1:*" not in allowed
    wildcard = load_settings(
        demo=True, transport="http", host="::", mcp_bearer_token="t" * 32, mcp_allowed_hosts="mcp.example"
    )
    assert "[::]:*" not in security_settings(wildcard).allowed_hosts  # a wildcard bind names no host


async def test_allowed_hosts_and_origins_match_whatever_case_they_were_written_in(
    upstream: SimulatorServer, cluster: SimulatedCluster
) -> None:
    """Host names are case-insensitive and an origin has no trailing slash: the SDK compares exactly, so the
    entries are written as clients send them, and so are the headers that clients send in capitals."""
    served = spawn(upstream, "--allowed-host", "MCP.Example:*", "--allowed-origin", "https://App.Example/")
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            named = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": "mcp.example:8443"})
            from_app = await http.post(
                served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": "https://app.example"}
            )
            as_typed = await http.post(  # Python's http.client keeps the URL's capitals in Host
                served.url,
                json=INITIALIZE,
                headers=MCP_HEADERS | {"Host": "MCP.Example:8443", "Origin": "https://APP.example"},
            )
            elsewhere = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": "Evil.Example"})
            # Media types are case-insensitive too (RFC 9110): an audit found these refused 415.
            capitals = {"Content-Type": "Application/JSON", "Accept": "Application/JSON, Text/Event-Stream"}
            media = await http.post(served.url, json=INITIALIZE, headers=capitals)
    finally:
        stop(served)
    assert named.status_code == 200
    assert from_app.status_code == 200
    assert as_typed.status_code == 200
    assert elsewhere.status_code == 421
    assert media.status_code == 200, media.text


async def test_a_browser_of_an_origin_the_user_allowed_may_call_and_read_the_answers(
    upstream: SimulatorServer, gated: Served
) -> None:
    """An audit: a page on an allowed origin (MCP Inspector's Direct connection) was stopped by the browser, as the
    preflight got 405, or 401 with a bearer token, and no answer said the page may read it. Loopback origins, allowed
    by default, get no such answer: any page served on the machine would read the jobs."""
    served = spawn(
        upstream, "--mcp-bearer-token", BEARER, "--allowed-origin", "http://localhost:6274,https://app.example:*"
    )
    # What a client of the 2026-07-28 revision sends besides: its routing headers.
    headers = "content-type,authorization,mcp-protocol-version,mcp-method,mcp-name"
    asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers}
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            preflights = {
                origin: await http.options(served.url, headers={"Origin": origin, **asks})
                for origin in (
                    "http://localhost:6274",
                    "https://App.Example:8443",
                    "http://localhost:5173",
                    "https://app.example",  # no port: "app.example:*" asks for one, as the Origin check does
                )
            }
            signed = MCP_HEADERS | {"Authorization": f"Bearer {BEARER}"}
            called = await http.post(served.url, json=INITIALIZE, headers=signed | {"Origin": "http://localhost:6274"})
            unsigned = await http.post(
                served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": "http://localhost:6274"}
            )
            local = await http.post(served.url, json=INITIALIZE, headers=signed | {"Origin": "http://localhost:5173"})
            not_allowed = await http.options(gated.url, headers={"Origin": "http://localhost:6274", **asks})
    finally:
        stop(served)
    for origin in ("http://localhost:6274", "https://App.Example:8443"):
        preflight = preflights[origin]
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        assert set(headers.split(",")) <= set(preflight.headers["access-control-allow-headers"].split(", "))
        assert "POST" in preflight.headers["access-control-allow-methods"]
    for refused in ("http://localhost:5173", "https://app.example"):
        assert "access-control-allow-origin" not in preflights[refused].headers
    assert called.status_code == 200 and called.headers["access-control-allow-origin"] == "http://localhost:6274"
    assert "mcp-session-id" in called.headers["access-control-expose-headers"].lower()
    assert unsigned.status_code == 401 and unsigned.headers["access-control-allow-origin"] == "http://localhost:6274"
    assert local.status_code == 200 and "access-control-allow-origin" not in local.headers
    assert "access-control-allow-origin" not in not_allowed.headers and not_allowed.status_code in (401, 405)


async def test_a_browser_may_end_its_session_resume_a_stream_and_read_why_it_was_refused_and_only_its_origin(
    upstream: SimulatorServer,
) -> None:
    """A mutation audit: what the CORS answers allow beyond a POST was untested. A page of an allowed origin may
    DELETE its session and resume a stream (Last-Event-ID), and read WWW-Authenticate on a 401; the dots of the
    allowed origin are dots, not any character (``mcpXexample.com`` is another site)."""
    served = spawn(upstream, "--mcp-bearer-token", BEARER, "--allowed-origin", "https://mcp.example.com")
    origin = "https://mcp.example.com"
    asks = {"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "mcp-session-id,last-event-id"}
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            preflight = await http.options(served.url, headers={"Origin": origin, **asks})
            elsewhere = await http.options(served.url, headers={"Origin": "https://mcpXexample.com", **asks})
            unsigned = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS | {"Origin": origin})
    finally:
        stop(served)
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
    assert {"mcp-session-id", "last-event-id"} <= set(preflight.headers["access-control-allow-headers"].split(", "))
    assert "access-control-allow-origin" not in elsewhere.headers
    assert unsigned.status_code == 401 and unsigned.headers["access-control-allow-origin"] == origin
    assert "www-authenticate" in unsigned.headers["access-control-expose-headers"].lower().split(", ")


async def test_bearer_token_is_required_when_set(gated: Served, cluster: SimulatedCluster) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        missing = await http.post(gated.url, json=INITIALIZE, headers=MCP_HEADERS)
        wrong = await http.post(gated.url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": "Bearer nope"})
        bare = await http.post(gated.url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": BEARER})
        right = await http.post(gated.url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": f"bearer {BEARER}"})
    for refused in (missing, wrong, bare):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "ZILLIZ_MCP_BEARER_TOKEN" in refused.text
    assert right.status_code == 200  # the scheme is case-insensitive
    async with httpx2.AsyncClient(timeout=30) as http:
        for pair in ([f"Bearer {BEARER}", "Bearer nope"], ["Bearer nope", f"Bearer {BEARER}"]):
            twice = await http.post(
                gated.url,
                json=INITIALIZE,
                headers=[*MCP_HEADERS.items(), *(("Authorization", value) for value in pair)],
            )
            assert twice.status_code == 400, pair  # which one counts differs between proxies: neither does
            assert "one Authorization header" in twice.text
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(gated.url, http_client=http)) as client,
    ):
        result = await client.call_tool(TOOL, {"state": ["failed"]})
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["summary"]["total"] == 1
    assert BEARER not in "".join(gated.stderr)


def test_non_loopback_bind_without_bearer_token_exits_2() -> None:
    done = run_config("--transport", "http", "--host", "0.0.0.0", ZILLIZ_DEMO="true")  # noqa: S104
    assert done.returncode == 2
    assert len(error_lines(done)) == 1, done.stderr
    assert "ZILLIZ_MCP_BEARER_TOKEN" in done.stderr


def test_non_loopback_bind_without_allowed_hosts_exits_2() -> None:
    done = run_config("--transport", "http", "--demo", ZILLIZ_HOST="0.0.0.0", ZILLIZ_MCP_BEARER_TOKEN="t" * 32)  # noqa: S104
    assert done.returncode == 2
    assert len(error_lines(done)) == 1, done.stderr
    assert "ZILLIZ_MCP_ALLOWED_HOSTS" in done.stderr


def test_plain_http_to_a_remote_cluster_exits_2_unless_allowed(upstream: SimulatorServer) -> None:
    done = run_config(ZILLIZ_CLUSTER_ENDPOINT="http://milvus.internal:19530", ZILLIZ_TOKEN="k" * 32)
    assert done.returncode == 2
    assert len(error_lines(done)) == 1, done.stderr
    assert "ZILLIZ_CLUSTER_ENDPOINT" in done.stderr and "use https://" in done.stderr
    assert "k" * 32 not in done.stderr
    # With the opt-in it starts (the endpoint is only reached when a tool is called).
    served = spawn(upstream, ZILLIZ_CLUSTER_ENDPOINT="http://milvus.internal:19530", ZILLIZ_ALLOW_INSECURE_HTTP="true")
    stop(served)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_request_body_over_64_kib_is_refused(plain: Served, cluster: SimulatedCluster, chunked: bool) -> None:
    """A body over 64 KiB is refused before it is parsed (a list of empty objects parses to 20 times its size);
    an initialize padded to just under that is answered."""
    message = json.dumps(INITIALIZE).encode()
    fits = message + b" " * (64 * 1024 - len(message))
    over = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_refresh_jobs"}}' + b" " * 64 * 1024

    async def pieces(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    async with httpx2.AsyncClient(timeout=30) as http:
        refused = await http.post(plain.url, content=pieces(over) if chunked else over, headers=MCP_HEADERS)
        answered = await http.post(plain.url, content=pieces(fits) if chunked else fits, headers=MCP_HEADERS)
    assert refused.status_code == 413
    assert answered.status_code == 200
    assert cluster.requests == []


async def test_a_protocol_version_or_a_batch_the_server_does_not_take_is_refused_in_words_that_say_why(
    plain: Served, cluster: SimulatedCluster
) -> None:
    """The SDK took an unknown MCP-Protocol-Version for the 2026-07-28 era's and asked for that era's `params._meta`;
    it answered a batch with 1 kB of pydantic errors. Neither is sent upstream, and the server goes on answering."""
    ping = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    async with httpx2.AsyncClient(timeout=30) as http:
        old = await http.post(plain.url, json=ping, headers=MCP_HEADERS | {"MCP-Protocol-Version": "2024-01-01"})
        batch = await http.post(plain.url, content=b"\r\n  " + json.dumps([ping, ping]).encode(), headers=MCP_HEADERS)
        in_pieces = await http.post(
            plain.url, content=pieces_of(b"   ", b"", b"[" + json.dumps(ping).encode() + b"]"), headers=MCP_HEADERS
        )
        answered = await http.post(plain.url, json=INITIALIZE, headers=MCP_HEADERS)
        newest = await http.post(plain.url, json=ping, headers=MCP_HEADERS | {"MCP-Protocol-Version": "2026-07-28"})
    assert old.status_code == 400
    error = old.json()["error"]
    assert "MCP-Protocol-Version header says '2024-01-01'" in error["message"]
    assert "2025-06-18" in error["message"] and "_meta" not in error["message"]
    assert error["data"]["requested"] == "2024-01-01"
    for refused in (batch, in_pieces):
        assert refused.status_code == 400
        assert refused.json()["error"] == {
            "code": -32600,
            "message": "Invalid Request: a batch (a JSON array) is not taken; send one JSON-RPC message a request",
        }
    assert answered.status_code == 200 and "serverInfo" in answered.text
    assert newest.status_code == 400 and "_meta" in newest.text  # a version it speaks: the SDK's own answer
    assert cluster.requests == []


def test_requests_the_sdk_left_unanswered_or_crossed_are_refused_and_a_stream_asked_to_resume_is_opened(
    upstream: SimulatorServer,
) -> None:
    """An audit: a request whose id is null, true, a fraction, a list or an object, or that has none, was taken for a
    notification (202, nothing run); a request given the id of another still under way in its session took that
    one's answer, or left its POST open for ever; a GET with Last-Event-ID was answered 500."""
    movies = next(job.job_id for job in upstream.cluster.jobs if job.collection_name == "ext_movies")
    served = spawn(upstream)
    try:
        with httpx2.Client(timeout=30) as http:
            session = http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS).headers["mcp-session-id"]
            headers = MCP_HEADERS | {"Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18"}
            http.post(served.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
            listed = {"name": TOOL, "arguments": {}}
            upstream.cluster.requests.clear()
            unusable = [
                http.post(
                    served.url,
                    json={"jsonrpc": "2.0", "method": "tools/call", "params": listed} | id_member,
                    headers=headers,
                )
                for id_member in ({}, {"id": None}, {"id": True}, {"id": 1.5}, {"id": [7]}, {"id": {"a": 7}})
            ]
            assert [(answer.status_code, answer.json()) for answer in unusable] == [
                (
                    400,
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {
                            "code": -32600,
                            "message": "Invalid Request: a request needs an id that is a string or an integer",
                        },
                    },
                )
            ] * 6
            assert upstream.cluster.requests == []  # none was run
            wait = wait_request(7, movies, seconds=2)
            with http.stream("POST", served.url, json=wait, headers=headers) as events:
                lines = events.iter_lines()
                assert any("notifications/progress" in line for line in lines)  # the wait is under way
                crossed = http.post(served.url, json={"jsonrpc": "2.0", "id": "7", "method": "ping"}, headers=headers)
                answer = next(json.loads(line[5:]) for line in lines if line.startswith("data:") and '"result"' in line)
                assert not [line for line in lines if line.startswith("data:")]  # read to its end: answered
            again = http.post(served.url, json={"jsonrpc": "2.0", "id": "7", "method": "ping"}, headers=headers)
            with http.stream("GET", served.url, headers=headers | {"Last-Event-ID": "0"}) as resumed:
                resumed_status, resumed_type = resumed.status_code, resumed.headers["content-type"]
    finally:
        stop(served)
    assert crossed.status_code == 400
    assert crossed.json()["id"] == "7"
    assert "id '7' is another request's of this session, still under way" in crossed.json()["error"]["message"]
    assert answer["id"] == 7 and answer["result"]["structuredContent"]["timedOut"] is True  # its own answer
    assert again.status_code == 200 and '"result":{}' in again.text.replace(" ", "")  # once the first is answered
    assert (resumed_status, resumed_type) == (200, "text/event-stream")
    assert not any("Traceback" in line or "ERROR" in line for line in served.stderr), served.stderr


async def test_a_request_answered_but_not_yet_ended_does_not_free_the_id_a_later_request_holds() -> None:
    """A review: request A's id was freed when its answer was sent, and again when the SDK's task for it ended, later:
    by then request B held the id, and a third request C with it reached the SDK while B was under way (the crossing
    this refusal exists for). A stand-in for the SDK, whose tasks end when the test says."""
    a_answered, a_may_end, b_started, b_may_end = anyio.Event(), anyio.Event(), anyio.Event(), anyio.Event()
    reached: list[str] = []

    async def sdk(scope: Scope, receive: Receive, send: Send) -> None:
        method = json.loads((await receive())["body"])["method"]
        reached.append(method)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if method == "ping" or len(reached) > 2:
            await send({"type": "http.response.body", "body": b"{}"})
        elif len(reached) == 1:  # A: answered, its task ends later
            await send({"type": "http.response.body", "body": b"A"})
            a_answered.set()
            await a_may_end.wait()
        else:  # B: under way until the test ends it
            b_started.set()
            await b_may_end.wait()
            await send({"type": "http.response.body", "body": b"B"})

    app = transport.PlainRefusals(sdk)

    async def post(method: str, statuses: list[int]) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method}).encode()
        scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"mcp-session-id", b"s1")]}
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(scope, receive, send)
        statuses.append(sent[0]["status"])

    a: list[int] = []
    b: list[int] = []
    c: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(post, "tools/call", a)
            await a_answered.wait()
            tasks.start_soon(post, "tools/call", b)  # the id, free once A was answered
            await b_started.wait()
            a_may_end.set()
            while not a:  # A's task ends (a checkpoint, not a sleep: each turn lets A's finally run)
                await anyio.lowlevel.checkpoint()
            await post("ping", c)  # C, while B is under way
            b_may_end.set()
    assert (a, b, c) == ([200], [200], [400])
    assert reached == ["tools/call", "tools/call"]


def pieces_of(*parts: bytes) -> AsyncIterator[bytes]:
    """A request body sent in ``parts``, chunked."""

    async def sent() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return sent()


# --- what a client can hold -------------------------------------------------------------------------


class QuickHeaders(HeadersWithin):
    header_timeout = 0.3  # the production timeout (10 s), shortened for the test


@contextmanager
def served_in_thread(app: ASGIApp) -> Iterator[int]:
    """``app`` behind the production uvicorn settings (with QuickHeaders) on 127.0.0.1; yields the port."""
    sock = listen("127.0.0.1", 0)  # listening already: clients may connect before uvicorn starts
    server = uvicorn.Server(server_config(app, protocol=QuickHeaders))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def closed_by_server(conn: socket.socket) -> bool:
    """Whether the server closes ``conn`` without answering, within the socket's timeout (the deadline)."""
    try:
        return conn.recv(1024) == b""
    except TimeoutError:
        return False


def status_of_a_get(conn: socket.socket) -> int:
    """Sends a GET of /mcp on ``conn`` and reads the whole answer (h11 parses it); returns its status."""
    client = h11.Connection(h11.CLIENT)
    conn.sendall(client.send(h11.Request(method="GET", target="/mcp", headers=[("Host", "127.0.0.1")])) or b"")
    conn.sendall(client.send(h11.EndOfMessage()) or b"")
    status = 0
    while not isinstance(event := client.next_event(), h11.EndOfMessage):
        if event is h11.NEED_DATA:
            client.receive_data(conn.recv(4096))
        elif isinstance(event, h11.Response):
            status = event.status_code
    return status


def test_a_client_that_never_finishes_its_headers_is_disconnected() -> None:
    """Slowloris: half a request line and headers, fresh or on a kept-alive connection, is closed once the
    header timeout passes, before the bearer-token gate runs; a request whose headers came in time is answered
    however long its response takes."""
    release = threading.Event()

    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to start
            return
        await anyio.to_thread.run_sync(release.wait, 10)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    assert server_config(held).limit_concurrency == CONNECTION_LIMIT
    half = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    request = b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with served_in_thread(BearerTokenGate(held, BEARER)) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as fresh:
            fresh.sendall(half)
            assert closed_by_server(fresh)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as kept:
            assert status_of_a_get(kept) == 401  # the gate's answer; the connection stays open
            kept.sendall(half)  # the next request: its first bytes stop uvicorn's keep-alive timer
            assert closed_by_server(kept)
    with served_in_thread(held) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as slow_answer:
        slow_answer.sendall(request)  # headers in at once; the app holds its answer
        with socket.create_connection(("127.0.0.1", port), timeout=5) as clock:
            clock.sendall(half)
            assert closed_by_server(clock)  # a header timeout has passed since the held request came in
        release.set()
        assert slow_answer.recv(1024).startswith(b"HTTP/1.1 200 ")


async def test_sessions_are_bounded_in_number_and_idle_time(upstream: SimulatorServer) -> None:
    """Past MAX_SESSIONS open sessions a new one is refused (503) while the open ones still work; an idle
    session expires after SESSION_IDLE_SECONDS (too long to wait for: read from the SDK's session manager)."""
    settings = load_settings(cluster_endpoint=upstream.url, token=upstream.cluster.token, transport="http")
    mcp = build_server(settings)
    http_app(mcp, settings)
    assert mcp.session_manager.session_idle_timeout == 300.0  # "after 5 minutes without a request", the README says
    served = spawn(upstream)
    try:
        async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=16)) as http:
            opened = await asyncio.gather(
                *(http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS) for _ in range(MAX_SESSIONS))
            )
            assert {answer.status_code for answer in opened} == {200}
            refused = await http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS)
            session = {"Mcp-Session-Id": opened[0].headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            still_open = await http.post(served.url, json=ping, headers=MCP_HEADERS | session)
    finally:
        stop(served)
    assert refused.status_code == 503
    assert still_open.status_code == 200


# --- sharing upstream -------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:ping is removed")  # legacy sessions may ping; the SDK warns regardless
async def test_100_concurrent_calls_share_requests_and_one_pool(plain: Served, cluster: SimulatedCluster) -> None:
    sessions = 10
    release = threading.Event()

    async def call(client: Client, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(TOOL, arguments)
        assert not result.is_error, result.content
        structured: dict[str, Any] | None = result.structured_content
        assert structured is not None
        return structured

    async def run(arguments_of: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = [{}] * len(arguments_of)
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300), limits=httpx2.Limits(max_connections=None))
            )
            clients = [
                # The initialize handshake of today's hosts (and ping, which the 2026-07-28 era dropped).
                await stack.enter_async_context(
                    Client(streamable_http_client(plain.url, http_client=http), mode="legacy")
                )
                for _ in range(sessions)
            ]

            async def one(index: int) -> None:
                answers[index] = await call(clients[index % sessions], arguments_of[index])

            async with anyio.create_task_group() as calls:
                for index in range(len(arguments_of)):
                    calls.start_soon(one, index)
                await anyio.wait_all_tasks_blocked()  # every call is sent, and waits for its answer
                for client in clients:  # a round trip on every session: the server has read the calls
                    await client.send_ping()
                release.set()  # now the one upstream request may answer
        return answers

    # 100 identical questions while the first upstream request is held: one request answers them all.
    cluster.inject(Fault.hold(release, route=LIST_ROUTE))
    try:
        same = await run([{"state": ["failed"]}] * CALLS)
    finally:
        release.set()
    assert all(answer["summary"]["total"] == 1 for answer in same)
    assert {answer["jobs"][0]["collectionName"] for answer in same} == {"ext_music"}
    shared_requests = [seen for seen in cluster.requests if seen.route == LIST_ROUTE]
    assert 1 <= len(shared_requests) <= 5, f"{len(shared_requests)} upstream requests for {CALLS} identical calls"

    # 100 different questions at once: 100 upstream requests, over one pool of at most 16 connections.
    cluster.requests.clear()
    different = await run([{"collectionName": f"ext_p{index:03d}"} for index in range(CALLS)])
    assert [answer["jobs"][0]["collectionName"] for answer in different] == [f"ext_p{i:03d}" for i in range(CALLS)]
    assert len(cluster.requests) == CALLS
    ports = {seen.peer_port for seen in cluster.requests}
    assert None not in ports
    assert len(ports) <= POOL_SIZE, f"{len(ports)} upstream connections"


async def test_a_stream_that_ends_itself_once_the_stop_is_asked_ends_cleanly_before_shutdown_begins() -> None:
    """sse-starlette ends a GET stream as soon as uvicorn is asked to exit, which may be before uvicorn's loop starts
    its shutdown: from the signal on (``stopping``), a stream the app leaves open is ended as a stream should be."""
    sent: list[Message] = []
    asked_to_stop = anyio.Event()

    async def event_stream(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: ping\n\n", "more_body": True})
        await asked_to_stop.wait()  # then returns, the stream left open

    async def record(message: Message) -> None:
        sent.append(message)

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    ends = EndStreamsOnStop(event_stream, on_stop=lambda: None)
    async with anyio.create_task_group() as calls:
        calls.start_soon(ends, {"type": "http"}, nothing, record)
        with anyio.fail_after(5):
            while len(sent) < 2:
                await anyio.wait_all_tasks_blocked()
        ends.stopping()  # the signal handler's call; shutdown() and stop() have not begun
        asked_to_stop.set()
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def _nothing_to_read() -> Message:
    return {"type": "http.disconnect"}


async def test_the_signal_that_stops_the_server_marks_the_stop_before_uvicorn_notices() -> None:
    """handle_exit is what the SIGINT/SIGTERM handler calls: from then on a request is answered 503 by the wrapper,
    before uvicorn's loop has begun shutdown()."""
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    async def never_called(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app is not asked once the server is stopping")

    streams = EndStreamsOnStop(never_called, on_stop=lambda: None)
    server = StoppingServer(server_config(streams), streams)
    server.handle_exit(signal.SIGTERM, None)
    await streams({"type": "http"}, _nothing_to_read, record)
    assert server.should_exit
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 503


async def test_a_stop_that_cuts_a_send_before_it_wrote_answers_503_and_a_client_that_stopped_reading_holds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's send waits for a slow client to read before it writes: cut there, the response has not begun, and
    its 503 must begin it. And the last frame to a client that reads nothing more gives up after the grace."""
    monkeypatch.setattr(transport, "STOP_GRACE_SECONDS", 0.05)
    written: list[Message] = []
    stalled = anyio.Event()

    async def slow_client(message: Message) -> None:
        if not written and message["type"] == "http.response.start" and message["status"] == 200:
            stalled.set()
            await anyio.sleep_forever()  # the drain the stop cuts: nothing written
        written.append(message)

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    streams = EndStreamsOnStop(answering, on_stop=lambda: None)
    async with anyio.create_task_group() as calls:
        calls.start_soon(streams, {"type": "http"}, _nothing_to_read, slow_client)
        with anyio.fail_after(5):
            await stalled.wait()
        await streams.stop(grace_seconds=0.05)
    assert [(m["type"], m.get("status")) for m in written] == [
        ("http.response.start", 503),
        ("http.response.body", None),
    ]

    async def gone_client(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            await anyio.sleep_forever()  # the last frame is never taken

    pinged = anyio.Event()

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: ping\n\n", "more_body": True})
        pinged.set()
        await anyio.sleep_forever()  # an event stream, ended by the stop

    left_open = EndStreamsOnStop(streaming, on_stop=lambda: None)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as calls:
            calls.start_soon(left_open, {"type": "http"}, _nothing_to_read, gone_client)
            await pinged.wait()
            await left_open.stop(grace_seconds=0.05)  # cuts the stream; its last frame is given up, not waited on
        await left_open({"type": "http"}, _nothing_to_read, gone_client)  # a request during the stop: its 503 too


def test_a_host_written_in_capitals_is_allowed_as_clients_send_it() -> None:
    settings = load_settings(demo=True, transport="http", host="LocalHost")
    allowed = security_settings(settings)
    assert allowed.allowed_hosts == [entry.lower() for entry in allowed.allowed_hosts]
    assert "localhost:*" in allowed.allowed_hosts


async def test_stopping_ends_the_streams_of_the_2026_protocol_cleanly_and_at_once(upstream: SimulatorServer) -> None:
    """Protocol 2026-07-28 (the SDK client's default): a listen stream and a call still running are open when the
    server stops. The listen ends with the server's graceful close (not SubscriptionLost), the call's stream ends
    cleanly, and nothing is logged as an error: uvicorn no longer waits out its graceful timeout to cancel them."""
    served = spawn(upstream)
    try:
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60)) as http,
            Client(streamable_http_client(served.url, http_client=http)) as client,
        ):
            running = await client.call_tool(TOOL, {"state": ["running"]})
            assert running.structured_content is not None
            job_id = running.structured_content["jobs"][0]["jobId"]
            failures: list[BaseException] = []
            progressing = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                progressing.set()  # the wait has read the job: the call is running

            async def wait_on() -> None:
                try:
                    arguments = {"jobId": job_id, "timeoutSeconds": 40}
                    await client.call_tool("wait_for_refresh_job", arguments, progress_callback=on_progress)
                except Exception as err:  # the answer of a server that stops mid-call
                    failures.append(err)

            async with anyio.create_task_group() as calls:
                calls.start_soon(wait_on)
                with anyio.fail_after(10):
                    await progressing.wait()
                async with client.listen(resource_subscriptions=[f"zilliz://refresh-jobs/{job_id}"]) as stream:
                    served.proc.terminate()
                    with anyio.fail_after(10):
                        async for _ in stream:  # raises SubscriptionLost unless the server ends it gracefully
                            pass
            # Its answer had begun (a progress event): the stream ends as a stream should, without an answer.
            assert [str(err) for err in failures] == ["SSE stream ended without a response"]
    finally:
        stop(served)
    assert served.reader is not None
    served.reader.join(timeout=30)
    assert served.proc.returncode == -15
    assert not any("ERROR" in line or "Traceback" in line for line in served.stderr), served.stderr


def test_stopping_ends_an_open_event_stream_cleanly(upstream: SimulatorServer) -> None:
    """A client's GET stream is open when the server stops: it ends as a stream should (a broken chunked body would
    raise while it is read), and the stop is not logged as an error."""
    served = spawn(upstream)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    try:
        with httpx2.Client(timeout=30) as http:
            answer = http.post(served.url, json=initialize, headers=headers)
            assert answer.status_code == 200
            headers |= {"Mcp-Session-Id": answer.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
            http.post(served.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
            with http.stream("GET", served.url, headers={**headers, "Accept": "text/event-stream"}) as events:
                assert events.status_code == 200
                served.proc.terminate()
                events.read()  # until the server ends the stream
    finally:
        stop(served)
    assert served.reader is not None
    served.reader.join(timeout=30)
    assert not any("ERROR" in line for line in served.stderr), served.stderr


def _logged(served: Served, needle: str, *, within: float = 20.0) -> bool:
    """Whether the server's stderr shows ``needle`` within ``within`` seconds (its reader thread collects it)."""
    ended = threading.Event()
    deadline = threading.Timer(within, ended.set)
    deadline.start()
    try:
        while not any(needle in line for line in served.stderr):
            if ended.wait(0.05):
                return any(needle in line for line in served.stderr)
        return True
    finally:
        deadline.cancel()


def test_a_call_whose_client_drops_its_connection_is_cancelled(upstream: SimulatorServer) -> None:
    """Over the 2025-era protocol the SDK runs a call on after its client left: a wait of minutes, polling the
    cluster and holding one of the 16 waits. The connection dropped before the answer, the call is cancelled."""
    movies = next(job.job_id for job in upstream.cluster.jobs if job.collection_name == "ext_movies")
    served = spawn(upstream)
    try:
        with httpx2.Client(timeout=30) as http:
            answer = http.post(served.url, json=INITIALIZE, headers=MCP_HEADERS)
            headers = MCP_HEADERS | {
                "Mcp-Session-Id": answer.headers["mcp-session-id"],
                "Mcp-Protocol-Version": "2025-06-18",
            }
            http.post(served.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
            listed = http.post(
                served.url,
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": TOOL, "arguments": {}}},
                headers=headers,
            )
            assert listed.status_code == 200 and '"isError":false' in listed.text.replace(" ", "")
            wait = wait_request(3, movies, seconds=300)
            with http.stream("POST", served.url, json=wait, headers=headers) as events:
                assert events.status_code == 200
                for line in events.iter_lines():
                    if "notifications/progress" in line:  # the wait is under way
                        break
            # Leaving the stream unread closes its connection: the client is gone, its call not answered.
        assert _logged(served, "request 3: its client left before the answer; cancelled")
        assert _logged(served, f"wait for refresh job {movies} cancelled")
    finally:
        stop(served)
    assert not any("request 2:" in line for line in served.stderr)  # an answered call is left alone
    assert not any("Traceback" in line for line in served.stderr), served.stderr


async def test_a_cancel_notice_that_meets_its_session_closed_is_dropped_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that leaves mid-call and ends its session (a host quitting): the cancel notice may reach the session
    as it closes. The SDK then logs an error with a traceback and raises, and uvicorn logged "Exception in ASGI
    application": both for a call that closed with its session anyway."""
    sdk_log = logging.getLogger("mcp.server.streamable_http")

    async def closing_session(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if b"notifications/cancelled" in message.get("body", b""):
            try:
                raise anyio.ClosedResourceError  # as the SDK's stream writer, closed by the DELETE
            except anyio.ClosedResourceError:
                sdk_log.exception("Error handling POST request")
                raise
        await receive()  # the client leaves before the answer

    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}
    messages: list[Message] = [{"type": "http.request", "body": json.dumps(call).encode()}, {"type": "http.disconnect"}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        raise AssertionError("no answer was sent")

    scope: Scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"mcp-session-id", b"s")]}
    with caplog.at_level(logging.INFO):
        await transport.CancelOnDisconnect(closing_session)(scope, receive, send)
        try:
            raise anyio.ClosedResourceError
        except anyio.ClosedResourceError:
            sdk_log.exception("another request's error")  # not a cancel notice's: kept
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == ["another request's error"]
    assert "request 7: its session closed meanwhile, and the call with it" in caplog.text
