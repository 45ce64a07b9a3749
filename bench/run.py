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
  upstream request per call. The client side of all 16 clients runs in one process on the same cores.
- Answer size is the JSON of the `tools/call` result (structuredContent and content together).
- `bench/sim_proc.py` sets `TCP_NODELAY` on the simulator's socket: without it every simulator answer stalls
  ~40 ms on the client's delayed ACK (both servers alike), which would swamp the per-call figures.
- Figures move by ±10% with the machine's load (other processes share the 2 cores); compare ratios of one run.

Where the time goes (timers inside each server process, and the client's share measured apart):

- 4-job list through the Python SDK client, goal not met. The CPU rows split the call: our server process spends
  ~0.7-1.6 ms more per call than the forwarder's (building the listing, its text and resource links, and the SDK
  serializing a 3x larger result), and the Python client process spends ~1.5-2.6 ms more, almost all of it the SDK
  client validating `structuredContent` against the `outputSchema` that the contract declares (jsonschema: ~0.45
  ms for the summary and page, ~0.24 ms per job). The forwarder declares no schema, so its answer skips that
  check; the diagnostic row shows our call with it off. A server that did no work at all but declared this schema
  would still pay the client's check, ~0.35x of the forwarder's whole call, more than the 0.3x the goal allows.
  The SDK client (mcp 2.3) compiles the validator once; what it pays is jsonschema's walk, ~10 us for each value
  and subschema it visits (~130 in this answer). Measured on 2026-11-30: `null` first in each `anyOf` is slower
  (a failed non-null branch costs more); leaving out the nulls that say nothing (the `estimatedEndAt` of an ended
  job, the `reason` of one that did not fail) saves ~15% of it (3,595 against 4,189 Python calls), not enough, and
  changes the contract's shape.
- The same call through the TypeScript SDK's client (`bench/ts_client/calls.mjs`, `@modelcontextprotocol/sdk` 1.32.2),
  which checks the same `outputSchema` with ajv, compiled once: its check costs ~0.2 ms per call, so the ratio there
  is close to our server's own share, and sits at the goal's bound: 1.27x-1.32x on 2026-11-30 in twelve runs of this
  part alone, alternating the code of the day before and the day's (1.27x-1.30x against 1.27x-1.32x: no difference
  shows), 1.23x-1.29x in earlier runs, 1.31x before the server stopped re-validating its own result; with the `since`
  argument (its `null` in every answer), the evening of 11-30, two whole runs 1.296x and one of this part alone 1.31x;
  in a later session of 11-30, with a failure group's `collectionCount`, three whole runs 1.29x, 1.26x and 1.32x and
  two runs of this part alone 1.29x and 1.32x (our server's CPU a call, timed in process against the code of the
  session before, alternating: no difference shows); the afternoon of 11-30, with a cursor that carries a digest of
  the jobs up to it and failure reasons cut to their bytes (a first page pays five `json.dumps` more), a whole run
  1.29x; since the evening of 11-30 every answer's JSON is also searched, on its way out, for an echo of the key
  broken apart (~60-80 us a 4-job answer, timed in process); the evening of 11-30, a later session (a cursor that
  checks itself, a listed reason, source and spec cut by bytes too), whole runs 1.300x and 1.35x, then 1.32x at
  its last commit; in the session after (fixes from audits of waits, set-up, summaries and the words a model reads),
  a whole run 1.300x at its last code; in the session after (a stalled job told, stdin read through a wrapper that
  mends or answers the lines the SDK cannot parse, CORS for the origins allowed), on a quieter machine (both servers
  ~30% faster), whole runs of its code 1.34x and 1.32x, and 1.32x of the code before it in between: no difference
  shows; at its last code, two whole runs 1.300x and 1.303x (the table above). That share, ~0.7-1 ms more CPU than
  the forwarder's: about
  half is building and checking the listing (pydantic models, times, the summary), the rest the upstream plumbing
  the forwarder does without (the shared in-flight request, the whole-request timeout, the rate limiter, the token
  scan) and the SDK's handling of a larger result. Each of those costs 10-100 us. Building the listing of 4 jobs takes
  ~0.3 ms of CPU in a loop of its own but ~0.9 ms inside the server's call (timed with the thread's CPU clock on
  11-30): between two calls the caches have served the SDK, httpx and the client, so that part costs what the code
  it runs touches, more than what a loop of it shows. (tenacity's bookkeeping, ~0.1 ms a call,
  runs only once an attempt has failed; the SDK's second validation of the result against the model it was dumped
  from, ~50 us, is skipped.)
- 10,000-job list: at its bound, met in some runs and not in others, as the machine's load moves both servers.
  2026-11-29: whole runs gave 0.52x (a review process sharing the cores) and 0.49x (quiet), then three runs of this
  part alone 0.49x, 0.52x, 0.51x; whole runs of the two days before, 0.51x-0.61x. The evening of 11-29, with ~1 ms
  less of our CPU a call (a listing's text made once, not twice; completed jobs split off by comparing their state;
  measured A/B over stdio, 0.95x of the server's CPU): a whole run 0.52x, two runs of this part alone 0.500x and
  0.51x; with the client's outputSchema check off, 0.47x-0.48x; the night after, a whole run 0.52x (0.49x with the
  check off); on 11-30, whole runs 0.49x, 0.52x and 0.500x (0.46x-0.49x), then 0.51x (0.47x) once the token check
  looks for the key's first 12 characters, which an echo of it cut short holds, rather than its whole longest run:
  ~0.5 ms more a call (CPython finds a longer needle faster). Later on 11-30, our code's call unchanged at 44-47 ms: a
  whole run 0.54x (the forwarder at 85 ms, against its 89-91 ms in the two runs after), two runs of this part alone
  0.52x and 0.497x; that evening, whole runs 0.52x and 0.51x (0.47x-0.48x with the check off, the forwarder at 88-90
  ms); in a later session of 11-30, whole runs 0.500x, 0.56x (the forwarder at 82 ms, ours at 46 ms) and 0.45x (a
  quieter machine: both servers ~15% faster); the afternoon of 11-30, a whole run 0.51x (0.50x with the check off,
  the forwarder at 87 ms); that evening, in a later session, a whole run 0.53x (0.51x with the check off, the
  forwarder at 91 ms) and 0.52x (0.50x), then 0.55x (0.50x) at its last commit, whose listing of 10,000 jobs takes
  the time it took before (timed in process, alternating); in the session after, a run of this part alone 0.496x
  (0.49x with the check off) and a whole run 0.54x (0.51x) at its last code, its listing of 10,000 jobs again as
  fast as before (in process, alternating); in the session after, whole runs of its code 0.56x and 0.504x (the
  forwarder at 37 and 57 ms), and 0.52x of the code before it in between; at its last code, two whole runs 0.505x
  and 0.39x (the forwarder at 42 and 60 ms; the table above), the first of which, begun as a CI run ended, gave cold
  start 1.22x, and the cold-start part alone then 1.04x and 1.00x. The token check's pieces, timed on their own over the
  2.3 MB: the lower-casing ~1.8 ms, the search for a `\\u` escape of a letter or digit ~2 ms (the answer holds ~80,000
  backslashes, each a candidate), the search for the key's start ~1 ms; one regular expression for both searches is
  ~10x slower, and a search for `\\u` alone is no faster than the expression. Timers in our process on 11-29: reading
  the 2.3 MB answer ~10-13 ms of CPU (httpx hands it over in ~37 pieces of 64 KiB), the token check on each piece as
  it arrives ~3-5 ms (it lower-cases each piece, so that an echo in another letter case is seen), msgspec decoding the
  documented shape straight into checked records ~8-11 ms, ordering and the summary ~7 ms (only the state groups a
  page or the summary reads are sorted; one pass tells which failures a later refresh fixed), and the client parsing
  and checking the page of 10 jobs ~4-6 ms (its CPU row; ~2-4 ms of it the outputSchema check, as the diagnostic row
  shows). The forwarder's process spends ~20-26 ms; most of its call is the client parsing a 2.6 MB message (~60 ms).
- Memory reuse: by default glibc maps a block above 128 KiB on its own and hands freed memory at its heap's top
  back to the system, so each 10,000-job answer faulted in ~1,000-1,200 fresh pages, ~3 ms of CPU a call. The
  server now asks glibc at start (`cli.keep_freed_heap`: blocks up to 32 MiB from the heap, 16 MiB kept at its
  top), and a call faults none: in one partial run with it on and off, 50 ms against 54 ms a call (server CPU 39.7
  against 42.6 ms); peak RSS is unchanged (87-88 MiB), ~5 MB more stays resident after a large answer. Left out:
  msgspec keeping `externalSource` undecoded until a job is shown (~1 ms) would let escapes in it past the token
  check's re-encoding; reading in 256 KiB pieces, what asyncio reads from a socket at a time, instead of httpcore's
  64 KiB (a class attribute of httpcore, for the whole process): ~2 ms less CPU per 10,000-job answer over plain
  HTTP (0.47x-0.50x in six runs), but nothing over TLS, where anyio hands over one 16 KiB record per read whatever
  the size asked, and allocates the size asked for each: Zilliz Cloud endpoints are https://, and the benchmark's
  simulator is plain HTTP, so it would have moved this figure and not the users';
  `type` lists instead of `anyOf` for nullable fields (the client's check of a 4-job answer makes 28% fewer Python
  calls: 2,984 against 4,157, counted; its time is too noisy here to read closer than 4-40%) fail the Inspector's
  portability lint.
- Cold start: importing `mcp.server` is most of both (1.02x-1.09x in the runs of 11-30, the bare server's own
  start moving by 6% between runs). Ours adds its settings, its modules and the tool schemas
  (~80 ms), and saves more by keeping Python's cyclic garbage collector off until the server is built: start-up
  makes about a million objects and next to no garbage, and collecting during it cost ~20% of the start. The
  HTTP client is built on the first upstream call, not at startup.

Machine:

{facts_lines}
"""


if __name__ == "__main__":
    raise SystemExit(main())
