"""Shared fixtures: a simulated cluster on 127.0.0.1 with a controllable clock, and a server wired to it."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent

from zilliz_refresh_mcp.config import Settings, load_settings
from zilliz_refresh_mcp.server import ServerState, build_server
from zilliz_refresh_mcp.simulator import SimulatedCluster, SimulatorServer, demo_cluster


def console_script() -> str:
    """The installed zilliz-refresh-mcp program, next to this interpreter: what a host starts."""
    found = shutil.which("zilliz-refresh-mcp", path=str(Path(sys.executable).parent))
    assert found, "the console script is installed next to this interpreter"
    return found


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool's answer, as a model reads them."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


class HalfAnswers:
    """An upstream on 127.0.0.1 that reads each request, then promises a 100-byte answer, sends 9 bytes and closes;
    or (``reset``) resets the connection without a word, as a crashed process or a middlebox does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0


@asynccontextmanager
async def half_answering_upstream(*, reset: bool = False) -> AsyncIterator[HalfAnswers]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
    upstream = HalfAnswers(f"http://127.0.0.1:{port}")

    async def half_answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            upstream.answered += 1
            if reset:  # closed with no linger: an RST, not a FIN
                raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)  # noqa: S610 - anyio, not Django
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            await stream.send(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"code":0')

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, half_answer)
        yield upstream
        tg.cancel_scope.cancel()


class FakeClock:
    """Milliseconds since the epoch that move only when a test says so."""

    def __init__(self, start_ms: int | None = None) -> None:
        self.now = start_ms if start_ms is not None else time.time_ns() // 1_000_000 // 1000 * 1000
        self.step_ms = 0  # when set, every reading moves the clock on: each poll sees the job further along

    def __call__(self) -> int:
        self.now += self.step_ms
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1000)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own ZILLIZ_* variables must not leak into tests."""
    for key in list(os.environ):
        if key.startswith("ZILLIZ_"):
            monkeypatch.delenv(key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cluster(clock: FakeClock) -> SimulatedCluster:
    return demo_cluster(clock=clock)


@pytest.fixture
def simulator(cluster: SimulatedCluster) -> Iterator[SimulatorServer]:
    with SimulatorServer(cluster) as server:
        yield server


def settings_for(simulator: SimulatorServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "cluster_endpoint": simulator.url,
        "token": simulator.cluster.token,
        "timeout_seconds": 2.0,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(simulator: SimulatorServer) -> Settings:
    return settings_for(simulator)


@pytest.fixture
def mcp_server(settings: Settings, clock: FakeClock) -> MCPServer[ServerState]:
    return build_server(settings, clock=clock)


def only_https_proxy(monkeypatch: pytest.MonkeyPatch, proxy: str, *, no_proxy: str = "") -> None:
    """The environment's proxies (either letter case, as the HTTP stack reads both): ``proxy`` for https:// alone,
    and ``no_proxy`` when given."""
    for name in ("HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)
        monkeypatch.setenv("no_proxy", no_proxy)
