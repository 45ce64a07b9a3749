"""Benchmark zilliz-refresh-mcp against minimal reference servers, side by side, on 127.0.0.1 only.

    .venv/bin/python bench/run.py            # about 2 minutes on 2 cores; writes BENCHMARKS.md
    .venv/bin/python bench/run.py --quick    # fewer rounds, a smoke run (does not write BENCHMARKS.md)

Every measurement alternates the two servers (A B A B ...) and reports the median. The simulated
cluster runs in its own process (bench/sim_proc.py); MCP clients are the SDK's ``Client``, with the
initialize handshake (``mode="legacy"``) that today's hosts use and the client response cache off.

1. cold start: spawn -> initialize -> tools/list over stdio; ours vs bench/bare_server.py.
2. per-call latency over stdio, 4-job list; ours vs bench/forward_server.py (forwards upstream unprocessed).
3. per-call latency over stdio, 10,000-job list; same pair.
4. streamable HTTP throughput with 16 concurrent clients (4-job list), and each server's peak RSS.
5. per-call latency over stdio, 4-job list, through the MCP TypeScript SDK's client (bench/ts_client/, Node.js
   and npm needed; installed from its lock into .bench-work/): hosts written in TypeScript check outputSchema
   with ajv, far faster than the Python SDK's jsonschema check.

zilliz-refresh-mcp runs with ZILLIZ_RATE_LIMIT_PER_SECOND=1000: its default (20/s, the documented Zilliz
limit) would throttle a loop of calls against the simulator by design, and the forwarder has no limiter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
_BESIDE = Path(PY).with_name("zilliz-refresh-mcp")  # the entry point of this venv, else the one on PATH
OURS = str(_BESIDE) if _BESIDE.exists() else shutil.which("zilliz-refresh-mcp") or "zilliz-refresh-mcp"
TOOL = "list_refresh_jobs"
HTTP_CLIENTS = 16
UNCHECKED = "  the same, the client's outputSchema check off (diagnostic)"
TS_CLIENT = BENCH / "ts_client"
TS_WORK = ROOT / ".bench-work" / "ts-client"
SERVER_CPU = "  CPU per call in the server process (mean)"
CLIENT_CPU = "  CPU per call in the client process (mean; check on)"
TS_LATENCY = "call latency, 4-job list, stdio, TypeScript SDK client (vs forwarder)"
TS_CLIENT_CPU = "  CPU per call in the TypeScript client process (mean; ajv check on)"
ALL_PARTS = {"cold", "small", "ts", "big", "http"}
_SERVING = re.compile(r"serving MCP on (http://127\.0\.0\.1:\d+/mcp)")


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Simulator:
    url: str
    token: str
    process: subprocess.Popen[str]


@contextmanager
def simulator(jobs: int) -> Iterator[Simulator]:
    """A simulated cluster with ``jobs`` jobs (4: one per state), in a separate process."""
    proc = subprocess.Popen(
        [PY, str(BENCH / "sim_proc.py"), str(jobs)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:")
        yield Simulator(info["url"], info["token"], proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=15)


def server_env(sim: Simulator) -> dict[str, str]:
    return {
        "ZILLIZ_CLUSTER_ENDPOINT": sim.url,
        "ZILLIZ_TOKEN": sim.token,
        "ZILLIZ_RATE_LIMIT_PER_SECOND": "1000",
    }


def ours_stdio(sim: Simulator) -> StdioServerParameters:
    return StdioServerParameters(command=OURS, args=[], env=server_env(sim))


def forward_stdio(sim: Simulator) -> StdioServerParameters:
    return StdioServerParameters(command=PY, args=[str(BENCH / "forward_server.py")], env=server_env(sim))


def bare_stdio() -> StdioServerParameters:
    return StdioServerParameters(command=PY, args=[str(BENCH / "bare_server.py")], env={})


def children(marker: str) -> list[int]:
    """Pids of this process's children whose command line contains ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and marker in cmdline:
            found.append(int(entry.name))
    return found


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads (Linux /proc schedstat, in nanoseconds)."""
    return sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_of(marker: str) -> float | None:
    peaks = [p for pid in children(marker) if (p := peak_rss_mib(pid)) is not None]
    return max(peaks) if peaks else None


@contextmanager
def http_server(argv: list[str], env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """Start a server with ``--transport http --port 0``; yield its URL (read from stderr) and pid."""
    proc = subprocess.Popen(
        [*argv, "--transport", "http", "--port", "0"],
        env=os.environ | env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    stderr = proc.stderr
    url = None
    seen = []
    for line in stderr:
        seen.append(line)
        match = _SERVING.search(line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError(f"{argv[0]} did not start:\n{''.join(seen)}")
    drain = threading.Thread(target=lambda: [None for _ in stderr], daemon=True)
    drain.start()
    try:
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- measurements ------------------------------------------------------------------------------


@dataclass
class Pair:
    """Samples for ours (A) and the reference (B)."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)

    def medians(self) -> tuple[float, float]:
        return statistics.median(self.a), statistics.median(self.b)


@asynccontextmanager
async def session(server: Any) -> AsyncIterator[Client]:
    async with Client(server, mode="legacy", cache=None) as client:
        yield client


async def cold_start(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with session(params) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    assert tools.tools, "no tools listed"
    return elapsed


async def timed_call(client: Client, arguments: dict[str, Any], cpu: list[float] | None = None) -> tuple[float, int]:
    """One call's wall time and answer size; adds the client process's CPU time for it to ``cpu``."""
    started, cpu_started = time.perf_counter(), own_cpu_seconds()
    result = await client.call_tool(TOOL, arguments)
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(own_cpu_seconds() - cpu_started)
    if result.is_error:
        raise RuntimeError(f"tool error: {result.content}")
    return elapsed, len(result.model_dump_json(by_alias=True, exclude_none=True))


async def bench_cold(rounds: int) -> Pair:
    pair = Pair()
    with simulator(4) as sim:
        ours, bare = ours_stdio(sim), bare_stdio()
        await cold_start(ours)  # warm the OS page cache and .pyc files, untimed
        await cold_start(bare)
        for _ in range(rounds):
            pair.a.append(await cold_start(ours))
            pair.b.append(await cold_start(bare))
    return pair


async def _no_validation(name: str, result: Any) -> None:
    return None


@dataclass
class Calls:
    """Per-call latencies: ours and the forwarder's, alternating; also ours with the client's check off."""

    pair: Pair
    unchecked: Pair  # a: ours, client-side outputSchema validation off; b: the forwarder (the same samples)
    server_cpu: Pair  # CPU seconds per call in each server process (one mean each, over all measured calls)
    client_cpu: Pair  # CPU seconds per call in this (client) process, outputSchema check on
    sizes: tuple[int, int]
    peaks: tuple[float | None, float | None]


async def bench_calls(jobs: int, calls: int, warmup: int) -> Calls:
    """Alternating calls over open stdio sessions; also answer sizes and each server's peak RSS.

    A third session to our server has the SDK client's outputSchema validation (jsonschema) turned off,
    to tell our server's cost from the client's cost of checking what our schema declares.
    """
    pair, unchecked, client_cpu = Pair(), Pair(), Pair()
    sizes = (0, 0)
    with simulator(jobs) as sim:
        async with session(ours_stdio(sim)) as a, session(forward_stdio(sim)) as b:
            pids = (children("zilliz-refresh-mcp"), children("forward_server.py"))
            async with session(ours_stdio(sim)) as c:
                c.session.validate_tool_result = _no_validation  # type: ignore[method-assign]
                for _ in range(warmup):
                    for client in (a, b, c):
                        await timed_call(client, {})
                server_started = [sum(map(cpu_seconds, group)) for group in pids]
                for _ in range(calls):
                    time_a, size_a = await timed_call(a, {}, client_cpu.a)
                    time_b, size_b = await timed_call(b, {}, client_cpu.b)
                    time_c, _ = await timed_call(c, {})
                    pair.a.append(time_a)
                    pair.b.append(time_b)
                    unchecked.a.append(time_c)
                    sizes = (size_a, size_b)
                server_used = [
                    sum(map(cpu_seconds, group)) - before for group, before in zip(pids, server_started, strict=True)
                ]
                unchecked.b = pair.b
                peaks = (peak_of("zilliz-refresh-mcp"), peak_of("forward_server.py"))
    server_cpu = Pair([server_used[0] / calls], [server_used[1] / calls])
    client_cpu = Pair([sum(client_cpu.a) / calls], [sum(client_cpu.b) / calls])
    return Calls(pair, unchecked, server_cpu, client_cpu, sizes, peaks)


def ts_client() -> tuple[str, Path] | None:
    """Node.js and bench/ts_client installed from its lock in .bench-work/; None without Node.js and npm, or when
    npm cannot install it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    TS_WORK.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "calls.mjs"):
        shutil.copyfile(TS_CLIENT / name, TS_WORK / name)
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"],
        cwd=TS_WORK,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if installed.returncode != 0:  # offline, say: the other rows still stand
        print(f"    npm ci in {TS_WORK} failed; TypeScript rows skipped:\n{installed.stderr[-1500:]}", file=sys.stderr)
        return None
    return node, TS_WORK


def bench_ts_calls(calls: int, warmup: int) -> tuple[Pair, Pair] | None:
    """4-job calls through the TypeScript SDK's client, alternating ours and the forwarder: (latency, client CPU)."""
    installed = ts_client()
    if installed is None:
        return None
    node, work = installed
    with simulator(4) as sim:
        env = server_env(sim)
        servers = [
            {"name": "ours", "command": OURS, "args": [], "env": env},
            {"name": "forwarder", "command": PY, "args": [str(BENCH / "forward_server.py")], "env": env},
        ]
        config = work / "config.json"
        config.write_text(json.dumps({"calls": calls, "warmup": warmup, "servers": servers}))
        done = subprocess.run(
            [node, str(work / "calls.mjs"), str(config)], capture_output=True, text=True, timeout=600, cwd=work
        )
    if done.returncode != 0:
        raise RuntimeError(f"the TypeScript client failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    ours, forwarder = report["ours"], report["forwarder"]
    seconds = Pair([ms / 1000 for ms in ours["ms"]], [ms / 1000 for ms in forwarder["ms"]])
    return seconds, Pair([ours["cpuMs"] / 1000], [forwarder["cpuMs"] / 1000])


async def load(clients: list[Client], seconds: float) -> float:
    """Calls per second with every client calling in a loop for ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker(client: Client) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await timed_call(client, {})
            done += 1

    async with anyio.create_task_group() as tg:
        for client in clients:
            tg.start_soon(worker, client)
    return done / (time.perf_counter() - started)


async def bench_http(rounds: int, seconds: float) -> tuple[Pair, tuple[float | None, float | None]]:
    pair = Pair()
    with (
        simulator(4) as sim,
        http_server([OURS], server_env(sim)) as (url_a, pid_a),
        http_server([PY, str(BENCH / "forward_server.py")], server_env(sim)) as (url_b, pid_b),
    ):
        async with AsyncExitStack() as stack:
            group_a = [await stack.enter_async_context(session(url_a)) for _ in range(HTTP_CLIENTS)]
            group_b = [await stack.enter_async_context(session(url_b)) for _ in range(HTTP_CLIENTS)]
            await load(group_a, 0.5)  # warm-up
            await load(group_b, 0.5)
            for _ in range(rounds):
                pair.a.append(await load(group_a, seconds))
                pair.b.append(await load(group_b, seconds))
        peaks = (peak_rss_mib(pid_a), peak_rss_mib(pid_b))
    return pair, peaks


# --- report ------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    ours: str
    reference: str
    ratio: str = ""
    goal: str = ""
    met: str = ""


def ratio_row(what: str, pair: Pair, scale: float, unit: str, goal: float | None, fmt: str = "{:.1f}") -> Row:
    a, b = pair.medians()
    ratio = a / b
    met = "" if goal is None else ("yes" if ratio <= goal else "NO")
    shown = f"{ratio:.2f}"
    if goal is not None and shown == f"{goal:.2f}":
        shown = f"{ratio:.3f}"  # at the line: one more digit shows which side of it
    return Row(
        what,
        fmt.format(a * scale) + f" {unit}",
        fmt.format(b * scale) + f" {unit}",
        f"{shown}x",
        f"<= {goal:.2f}x" if goal is not None else "",
        met,
    )


def mib(value: float | None) -> str:
    return f"{value:.0f} MiB" if value is not None else "n/a"


def table(rows: list[Row]) -> str:
    header = Row("measure", "zilliz-refresh-mcp", "reference", "ratio", "goal", "met")
    cells = [[r.what, r.ours, r.reference, r.ratio, r.goal, r.met] for r in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(6)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": f"{os.cpu_count()} ({cpu})",
        "python": platform.python_version(),
        "os": platform.platform(),
        "load average at start": " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "n/a",
        "mcp": version("mcp"),
        "zilliz-refresh-mcp": version("zilliz-refresh-mcp"),
    }


def step(label: str) -> Callable[[], None]:
    print(f"... {label}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    return lambda: print(f"    done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> str:
    rows: list[Row] = []
    if "cold" in args.only:
        done = step(f"cold start, {args.rounds} rounds each")
        cold = await bench_cold(args.rounds)
        done()
        rows.append(
            ratio_row("cold start: spawn, initialize, tools/list (vs bare MCPServer)", cold, 1000, "ms", 1.10, "{:.0f}")
        )
    if "small" in args.only:
        done = step(f"4-job list over stdio, {args.calls} calls each")
        small = await bench_calls(4, args.calls, warmup=20)
        small_sizes = small.sizes
        done()
        rows.append(ratio_row("call latency, 4-job list, stdio (vs forwarder)", small.pair, 1000, "ms", 1.30, "{:.2f}"))
        rows.append(ratio_row(UNCHECKED, small.unchecked, 1000, "ms", None, "{:.2f}"))
        rows.append(ratio_row(SERVER_CPU, small.server_cpu, 1000, "ms", None, "{:.2f}"))
        rows.append(ratio_row(CLIENT_CPU, small.client_cpu, 1000, "ms", None, "{:.2f}"))
    if "ts" in args.only:
        done = step(f"4-job list over stdio through the TypeScript SDK client, {args.calls} calls each")
        ts = bench_ts_calls(args.calls, warmup=20)
        done()
        if ts is None:
            rows.append(Row(TS_LATENCY, "skipped: no Node.js and npm, or npm ci failed", ""))
        else:
            rows.append(ratio_row(TS_LATENCY, ts[0], 1000, "ms", 1.30, "{:.2f}"))
            rows.append(ratio_row(TS_CLIENT_CPU, ts[1], 1000, "ms", None, "{:.2f}"))
    if "big" in args.only:
        done = step(f"10,000-job list over stdio, {args.big_calls} calls each")
        big = await bench_calls(10_000, args.big_calls, warmup=2)
        big_sizes, stdio_peaks = big.sizes, big.peaks
        done()
        big_row = ratio_row("call latency, 10,000-job list, stdio (vs forwarder)", big.pair, 1000, "ms", 0.50, "{:.0f}")
        rows.append(big_row)
        rows.append(ratio_row(UNCHECKED, big.unchecked, 1000, "ms", None, "{:.0f}"))
        rows.append(ratio_row(SERVER_CPU, big.server_cpu, 1000, "ms", None, "{:.1f}"))
        rows.append(ratio_row(CLIENT_CPU, big.client_cpu, 1000, "ms", None, "{:.1f}"))
    if "small" in args.only:
        rows.append(Row("answer size, 4-job list (result JSON)", f"{small_sizes[0]:,} B", f"{small_sizes[1]:,} B"))
    if "big" in args.only:
        rows.append(
            Row(
                "answer size, 10,000-job list (result JSON)",
                f"{big_sizes[0]:,} B",
                f"{big_sizes[1]:,} B",
                f"{big_sizes[0] / big_sizes[1]:.3f}x",
            )
        )
    if "http" in args.only:
        done = step(f"HTTP, {HTTP_CLIENTS} clients, {args.rounds_http} rounds of {args.http_seconds:g} s each")
        http, http_peaks = await bench_http(args.rounds_http, args.http_seconds)
        done()
        a, b = http.medians()
        rows.append(
            Row(
                f"HTTP throughput, {HTTP_CLIENTS} clients, 4-job list (higher is better)",
                f"{a:.0f} calls/s",
                f"{b:.0f} calls/s",
                f"{a / b:.2f}x",
            )
        )
    if "big" in args.only:
        rows.append(
            Row("peak RSS (VmHWM), stdio, after the 10,000-job calls", mib(stdio_peaks[0]), mib(stdio_peaks[1]))
        )
    if "http" in args.only:
        rows.append(Row("peak RSS (VmHWM), HTTP, after the throughput rounds", mib(http_peaks[0]), mib(http_peaks[1])))
    return table(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a short smoke run; does not write BENCHMARKS.md")
    p.add_argument("--rounds", type=int, default=25, help="cold starts per server (default 25)")
    p.add_argument("--calls", type=int, default=300, help="4-job calls per server (default 300)")
    p.add_argument("--big-calls", type=int, default=25, help="10,000-job calls per server (default 25)")
    p.add_argument("--rounds-http", type=int, default=3, help="HTTP load rounds per server (default 3)")
    p.add_argument("--http-seconds", type=float, default=5.0, help="seconds per HTTP load round (default 5)")
    p.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=ALL_PARTS,
        help="comma-separated parts to run: cold,small,ts,big,http (default: all; a partial run writes no report)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md", help="report file (default BENCHMARKS.md)")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.calls, args.big_calls, args.rounds_http, args.http_seconds = 3, 40, 3, 1, 2.0

    facts = machine()
    started = time.perf_counter()
    figures = anyio.run(run, args)
    elapsed = time.perf_counter() - started
    print()
    print(figures)
    print()
    print(", ".join(f"{k}: {v}" for k, v in facts.items()) + f"; run took {elapsed:.0f} s")
    if not args.quick and args.only == ALL_PARTS:
        args.out.write_text(report(facts, figures, args, elapsed))
        print(f"wrote {args.out}")
    return 0


def report(facts: dict[str, str], figures: str, args: argparse.Namespace, elapsed: float) -> str:
    facts_lines = "\n".join(f"- {k}: {v}" for k, v in facts.items())
    return f"""# Benchmarks

Produced by `.venv/bin/python bench/run.py` ({elapsed:.0f} s). Each figure is the median of runs that alternate
the two servers (A B A B...): {args.rounds} cold starts, {args.calls} calls of the 4-job list,
{args.big_calls} calls of the 10,000-job list, {args.rounds_http} HTTP rounds of {args.http_seconds:g} s, per server.

{figures}

- **References**: `bench/bare_server.py` is an `MCPServer` with one trivial tool; `bench/forward_server.py` is an
  `MCPServer` with one pooled `httpx2.AsyncClient` that forwards upstream's `/list` answer unprocessed, as one text
  block. Ratios are ours / reference (lower is better, except throughput).
- **Setup**: the simulated cluster (`zilliz_refresh_mcp.simulator`) runs in its own process on 127.0.0.1; clients
  are the MCP Python SDK's `Client` with the initialize handshake (`mode="legacy"`), response cache off; the
  TypeScript rows use `Client` of `@modelcontextprotocol/sdk` 1.32.2 on the machine's Node.js, tools listed first as
  a host does. Latency is the client-side time of one `tools/call` (send, server work, upstream round trip, receive,
  parse and check).
- zilliz-refresh-mcp runs with `ZILLIZ_RATE_LIMIT_PER_SECOND=1000`: its default (20/s, the documented Zilliz
  limit) would throttle a loop of calls against the simulator by design; the forwarder has no limiter.
- Over HTTP, identical concurrent calls share one upstream request in zilliz-refresh-mcp; the forwarder sends one
  upstream request per call. The client side of all 16 clients runs in one process on the same cores. This row
  moves most from run to run: on 2026-12-01 the forwarder gave 156-362 calls/s, ours 149-235, and runs alternating
  this code and a99ea16's showed no difference for ours (223 and 199 against 235 and 194). A scale audit measured
  that the SDK's HTTP client (httpx2) sends a request's headers and body in two writes, and waits ~40 ms on the
  server's delayed ACK over a kept-alive connection, both servers alike.
- Answer size is the JSON of the `tools/call` result (structuredContent and content together).
- `bench/sim_proc.py` sets `TCP_NODELAY` on the simulator's socket: without it every simulator answer stalls
  ~40 ms on the client's delayed ACK (both servers alike), which would swamp the per-call figures.
- Figures move by ±10% with the machine's load (other processes share the 2 cores); compare ratios of one run.

Where the time goes (timers inside each server process, and the client's share measured apart):

- **4-job list, Python SDK client: not met, and out of reach while the contract declares an `outputSchema`.** The
  CPU rows split the call. Our server process spends ~0.7-1.6 ms more per call than the forwarder's (building the
  listing, its text and resource links; the SDK serializing a 3x larger result). The client process spends ~1.3-2.6
  ms more, almost all of it the SDK client validating `structuredContent` against the tool's `outputSchema`
  (jsonschema, its validator compiled once: ~10 us for each value and subschema it visits, ~130 in this answer).
  The forwarder declares no schema, so its answers skip that check; the diagnostic row shows our call without it.
  A server that did no work at all but declared this schema would still pay, in the client, ~0.35x of the
  forwarder's whole call: more than the 0.3x the goal allows.
- **4-job list, TypeScript SDK client: at the bound.** Its ajv checks the same schema, compiled once, in ~0.2 ms,
  so the ratio is close to our server's own share. Runs from 2026-11-29 to 2026-12-01 gave 1.23x-1.35x, most of
  them 1.29x-1.33x; runs alternating one day's code and the next showed no difference beyond that spread. Our
  extra ~0.7-1 ms of CPU: about half is building and checking the listing (pydantic models, times, the summary),
  the rest the plumbing the forwarder does without (the shared in-flight request, the whole-request timeout, the
  rate limiter, the scan of each answer for the key), 10-100 us each. A 4-job listing takes ~0.3 ms to build in a
  loop of its own and ~0.9 ms inside a call, where the caches have just served the SDK, httpx and the client.
- **10,000-job list: at the bound.** Runs from 2026-11-28 on gave 0.39x-0.61x, most of them 0.49x-0.56x; most of
  the spread is the forwarder's (37-91 ms a call), whose call is mostly its client parsing a 2.6 MB message. Our
  process, timed inside: reading the 2.3 MB upstream answer ~10-13 ms of CPU (httpx hands it over in 64 KiB pieces),
  the key scan of each piece ~3-5 ms, msgspec decoding the documented shape into checked records ~8-11 ms, ordering
  and the summary ~7 ms (only the state groups a page or the summary reads are sorted); then the client's parse and
  check of the 10-job page, ~4-6 ms.
- **Cold start: met** (0.91x-1.09x). Importing `mcp.server` is most of both. Ours adds its settings, its modules
  and the tool schemas (~80 ms), and saves more by keeping Python's cyclic garbage collector off until the server
  is built: start-up makes about a million objects and next to no garbage, and collecting during it cost ~20%. The
  HTTP client is built on the first upstream call.
- **Memory reuse**: by default glibc maps each block above 128 KiB on its own and returns freed memory at its
  heap's top, so each 10,000-job answer faulted in ~1,100 fresh pages (~3 ms of CPU). `cli.keep_freed_heap` asks
  glibc at start to serve blocks up to 32 MiB from the heap and keep 16 MiB at its top: 50 ms against 54 ms a
  call, peak RSS unchanged, ~5 MB more resident after a large answer.

Tried and left out:

- `type` lists instead of `anyOf` for nullable fields: the Python client's check makes 28% fewer Python calls
  (counted), but the schema then fails MCP Inspector's portability lint.
- Leaving out the nulls that say nothing (an ended job's `estimatedEndAt`): ~15% less of that check, not enough,
  and it changes the contract's shape. `null` first in each `anyOf` is slower.
- Reading the upstream answer in 256 KiB pieces instead of httpcore's 64 KiB: ~2 ms less a 10,000-job answer over
  plain HTTP, nothing over TLS (anyio hands over one 16 KiB record per read), which is what Zilliz Cloud speaks. It
  would move this benchmark, not what users see.
- msgspec keeping `externalSource` undecoded until a job is shown (~1 ms): escapes in it would pass the key scan.
- One regular expression for the key scan's two searches: ~10x slower than two plain searches.

Machine:

{facts_lines}
"""


if __name__ == "__main__":
    raise SystemExit(main())
