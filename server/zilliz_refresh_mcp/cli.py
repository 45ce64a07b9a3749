"""Command line: flags, logging, transport choice and exit codes. The only module that reads argv.

Exit codes: 0 after a clean shutdown (stdin closed, or a --check that worked), 1 when --check's call failed,
2 for bad flags or configuration (one line on stderr), 130 when interrupted (Ctrl-C), 141 when the reader of
--check's output left early (``| head``), as a shell reports a program that SIGPIPE ended. SIGTERM ends the
process as that signal does (143 in a shell), over HTTP once its open streams are ended.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import gc
import logging
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__

if TYPE_CHECKING:
    from .config import Settings

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
INTERRUPT_GRACE_SECONDS = 2.0  # after Ctrl-C, for the stdio server to stop on its own
DEMO_REQUESTS_KEPT = 1000  # the in-process demo cluster's request log, for a --demo that runs for days


_UNRECOGNIZED = "unrecognized arguments: "
_FLAG_LIKE = re.compile(r"--[a-z][a-z0-9-]{0,39}|-[A-Za-z]")  # how flags are written; a key is not
# argparse's wording; the value as repr() writes it: in double quotes when it holds a single quote and no double one
_BAD_VALUE = re.compile(r"(invalid (?:\w+ value|choice)): (['\"])(.*?)\2(?= \(choose|$)", re.DOTALL)
_SHOWN_VALUE_CHARS = 8  # "80o0", "ftp", "3s" are shown back; a key given after the wrong flag is longer


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like the configuration errors (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith(_UNRECOGNIZED):
            known = [flag for action in self._actions for flag in action.option_strings if flag.startswith("--")]
            message = _UNRECOGNIZED + _flags_only(message.removeprefix(_UNRECOGNIZED).split(" "), known)
        else:
            message = _BAD_VALUE.sub(_short_value_only, message)
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message} (see --help)\n")


def _flags_only(unrecognized: list[str], known: list[str]) -> str:
    """The flags of arguments argparse did not know, each with the one meant when a known flag is near; not their
    values: a key given after a mistyped flag (``--tokne KEY``) would stay in the host's log of the server's stderr.
    A word that is a known flag but for its dashes or letter case (``check``, ``-check``, ``--Token``) is no key:
    it is named, with the flag."""
    flags: list[str] = []
    values = 0
    for arg in unrecognized:
        name, with_value, _ = arg.partition("=")
        meant = _flag_meant(name, known)
        if _FLAG_LIKE.fullmatch(name) or (meant is not None and not with_value):  # not "-SECRET..." nor "-tKEY"
            flags.append(f"{name} (did you mean {meant}?)" if meant else name)
            values += bool(with_value)
        else:
            values += 1
    if values:
        flags.append(f"{values} value{'s' if values > 1 else ''}, not shown (give the key in ZILLIZ_TOKEN)")
    return ", ".join(flags)


def _flag_meant(name: str, known: list[str]) -> str | None:
    """The known flag that ``name`` is a slip of: its dashes or letter case, or (written as a flag) a letter or two.
    A word without dashes must be a flag's name exactly: else it may be a value, a key after a mistyped flag."""
    bare = name.lstrip("-").lower()
    if f"--{bare}" in known:
        return f"--{bare}"
    if not name.startswith("-") or not _FLAG_LIKE.fullmatch(f"--{bare}"):
        return None
    near = difflib.get_close_matches(f"--{bare}", known, n=1, cutoff=0.75)
    # "--no-check" is near "--check", and means the opposite: a switch without a --no- form is not suggested.
    return near[0] if near and near[0] != f"--{bare.removeprefix('no-')}" else None


def _short_value_only(bad: re.Match[str]) -> str:
    """A flag's bad value, shown back when short: a key given after the wrong flag (``--port KEY``) is not."""
    value = bad[3]
    if len(value) <= _SHOWN_VALUE_CHARS and ":" not in value:  # a user:password may be short
        return bad[0]
    return f"{bad[1]} ({len(value)} characters, not shown)"


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="zilliz-refresh-mcp",
        allow_abbrev=False,  # --chec would be --check, which the child's argv must not carry again
        description="MCP server for Zilliz Cloud / Milvus external-collection refresh jobs. "
        "Every flag has a ZILLIZ_* environment variable; flags win.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,  # --no-demo: off, whatever the variable says (flags win)
        default=None,
        help="ZILLIZ_DEMO: serve a simulated cluster; no credentials",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="start the server over stdio in a real MCP client session, show what an assistant sees, and exit",
    )
    up = p.add_argument_group("cluster")
    up.add_argument("--endpoint", dest="cluster_endpoint", metavar="URL", help="ZILLIZ_CLUSTER_ENDPOINT")
    up.add_argument("--token", metavar="TOKEN", help="ZILLIZ_TOKEN (prefer the variable: flags show in process lists)")
    up.add_argument("--db-name", metavar="NAME", help="ZILLIZ_DB_NAME (default: default)")
    up.add_argument("--timeout-seconds", type=float, metavar="S", help="ZILLIZ_TIMEOUT_SECONDS (default: 30)")
    up.add_argument("--max-attempts", type=int, metavar="N", help="ZILLIZ_MAX_ATTEMPTS (default: 4)")
    up.add_argument(
        "--rate-limit-per-second", type=float, metavar="R", help="ZILLIZ_RATE_LIMIT_PER_SECOND (default: 20)"
    )
    up.add_argument("--max-response-mb", type=int, metavar="MB", help="ZILLIZ_MAX_RESPONSE_MB (default: 32)")
    up.add_argument(
        "--allow-insecure-http",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ZILLIZ_ALLOW_INSECURE_HTTP: accept http:// to a non-loopback host",
    )
    up.add_argument(
        "--enable-refresh",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ZILLIZ_ENABLE_REFRESH: offer the refresh_external_collection tool",
    )
    up.add_argument(
        "--poll-interval-seconds", type=float, metavar="S", help="ZILLIZ_POLL_INTERVAL_SECONDS (default: 2)"
    )
    srv = p.add_argument_group("serving")
    srv.add_argument("--transport", type=str.lower, choices=["stdio", "http"], help="ZILLIZ_TRANSPORT (default: stdio)")
    srv.add_argument("--host", help="ZILLIZ_HOST for --transport http (default: 127.0.0.1)")
    srv.add_argument("--port", type=int, help="ZILLIZ_PORT for --transport http (default: 8000)")
    srv.add_argument(
        "--mcp-bearer-token",
        metavar="TOKEN",
        help="ZILLIZ_MCP_BEARER_TOKEN for the HTTP endpoint (prefer the variable: flags show in process lists)",
    )
    srv.add_argument(
        "--allowed-host",
        dest="mcp_allowed_hosts",
        action="append",
        metavar="HOST[:PORT]",
        help="ZILLIZ_MCP_ALLOWED_HOSTS (repeatable, or comma-separated)",
    )
    srv.add_argument(
        "--allowed-origin",
        dest="mcp_allowed_origins",
        action="append",
        metavar="ORIGIN",
        help="ZILLIZ_MCP_ALLOWED_ORIGINS (repeatable, or comma-separated)",
    )
    srv.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="ZILLIZ_LOG_LEVEL, logs on stderr (default: WARNING)",
    )
    return p


def flag_names(p: argparse.ArgumentParser) -> dict[str, str]:
    """Each setting's flag: ``{"cluster_endpoint": "--endpoint", ...}``."""
    # argparse lists its options only in `_actions` (there since Python 2.7, and in typeshed).
    return {action.dest: action.option_strings[0] for action in p._actions if action.option_strings}


# Every control character but tab, and the other line breaks str.splitlines() honours.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class RedactingFormatter(logging.Formatter):
    """Last line of defence: no log line carries a secret, whatever logged it, tracebacks included.

    A message is one line: upstream text in it (a failed poll's error) is shown with its line breaks and
    terminal escapes as ``\\n`` and ``\\x1b``, so that it cannot forge a line of its own or clear the screen.
    """

    def __init__(self, fmt: str, *secrets: str) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Cleaned before its breaks are written out as "\\n": the password after a break is a word of its own.
        message = self._redacted(record.message)
        record.message = _CONTROL.sub(lambda char: repr(char[0])[1:-1], message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return self._redacted(super().format(record))

    def _redacted(self, text: str) -> str:
        from .redaction import redact

        for secret in self._secrets:
            text = redact(text, secret)
        return text


def log_secrets(settings: Settings) -> list[str]:
    """What no log line may show: the cluster's key (or its password) and the HTTP endpoint's bearer token."""
    secrets = [settings.token_value]
    if settings.mcp_bearer_token is not None:
        secrets.append(settings.mcp_bearer_token.get_secret_value())
    return secrets


def configure_logging(level: str, *secrets: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", *secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our own per-call lines are INFO; the SDK's are noisy at that level, and httpcore2's DEBUG lines dump
    # every header upstream sends back (a gateway may echo the token in one).
    for noisy in ("mcp", "httpx2", "httpcore2", "uvicorn", "uvicorn.error", "sse_starlette"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up imports and builds ~10^6 objects and leaves next to no garbage: collecting while it runs
    # cost a fifth of the start (~170 ms). On again once the server is built (run), or on the way out.
    gc.disable()
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    from .config import (
        ENV_PREFIX,
        HTTP_ONLY_SETTINGS,
        http_only_variables,
        load_settings,
        over_stdio,
        unknown_variables,
        variables_set,
    )
    from .errors import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    flags = parser()
    args = flags.parse_args(argv)
    check = args.__dict__.pop("check")
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if v is not None}
    if isinstance(overrides.get("host"), str) and not overrides["host"].strip():
        # A blank variable is an unset one; a blank flag was typed, with its value lost (an unset shell variable).
        print(
            "zilliz-refresh-mcp: configuration error: --host: is empty: give an address to listen on, such as "
            "127.0.0.1 (the default)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        settings = load_settings(**overrides)
    except ConfigError as err:
        # A value the user gave by flag is named by that flag, not by the variable it stands for.
        flag = flag_names(flags).get(err.setting) if err.setting in overrides else None
        shown = f"{flag}: {err.problem}" if flag else str(err)
        # ZILLIZ_API_KEY or ZILLIZ_TOKN set, ZILLIZ_TOKEN required: the variable set is the answer, on the same line;
        # so is ZILLIZ_ALLOW_INSECURE beside an error that asks for ZILLIZ_ALLOW_INSECURE_HTTP. Not beside an error of
        # a setting given (a review: a quoted endpoint is no missing one), nor a mere likeness (ZILLIZ_CLUSTER_ID).
        given = variables_set() | {ENV_PREFIX + setting.upper() for setting in overrides}
        shown += "".join(
            f"; {unknown.name} is set, but this server reads {unknown.meant}"
            if unknown.surely
            else f"; {unknown.name} is set: did you mean {unknown.meant}?"
            for unknown in unknown_variables()
            if unknown.meant is not None
            and (unknown.surely or unknown.misspelt)
            and unknown.meant not in given
            and re.search(rf"\b{unknown.meant}\b", shown)
        )
        print(f"zilliz-refresh-mcp: configuration error: {shown}", file=sys.stderr)
        return EXIT_CONFIG
    names = flag_names(flags)
    http_flags = [names[setting] for setting in HTTP_ONLY_SETTINGS if setting in overrides]
    if settings.transport != "http" and http_flags:
        # Typed on this command line, they were meant: serving stdio instead would leave the user wondering.
        print(f"zilliz-refresh-mcp: configuration error: {over_stdio(http_flags)}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if check:
            import anyio

            from .check import run_check

            # The check is a stdio session, whatever transport the server is set to serve on: the HTTP
            # transport's flags (and variables, left out by run_check) are not the child's.
            http_only = {names[setting] for setting in HTTP_ONLY_SETTINGS}
            server_args = [*_without_flags([arg for arg in argv if arg != "--check"], http_only)]
            server_args += ["--transport", "stdio"]
            notes = []
            if settings.transport != "stdio":
                notes.append(f"Checking over stdio; with these settings the server serves {settings.transport}.")
            elif variables := http_only_variables():
                notes.append(f"{over_stdio(variables)}: ignored.")
            if settings.demo:
                notes.append("Demo mode: the cluster is simulated and its jobs are made up.")
            return anyio.run(run_check, server_args, notes)
        return run(settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _without_flags(argv: Sequence[str], dropped: set[str]) -> Iterator[str]:
    """``argv`` without the ``dropped`` flags and their values (``--port 0``, ``--port=0``); each takes one."""
    args = iter(argv)
    for arg in args:
        if arg in dropped:
            next(args, None)
        elif arg.partition("=")[0] not in dropped:
            yield arg


# glibc's malloc (mallopt(3)): serve blocks up to this size from the heap, not from mappings of their own; and keep
# this much free at the heap's top instead of handing it back to the system.
_M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO = -3, 32 << 20  # glibc's largest allowed value on 64-bit systems
_M_TOP_PAD, HEAP_TOP_KEPT = -2, 16 << 20


def keep_freed_heap() -> bool:
    """Have glibc reuse the memory of one large answer for the next; False where the C library is not glibc.

    By default glibc maps a block of more than 128 KiB on its own and unmaps it when freed, and hands back freed
    memory at the top of its heap past 128 KiB: every 10,000-job answer (2.3 MB read in 64 KiB pieces, joined,
    decoded into 10,000 records) then touched ~1,000 fresh pages, ~3 ms of page faults a call (BENCHMARKS.md).
    Kept, they cost ~5 MB of resident memory after such an answer.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):  # a Python built without ctypes; musl, for one, has no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO) and mallopt(_M_TOP_PAD, HEAP_TOP_KEPT))


def run(settings: Settings) -> int:
    simulator = None
    if settings.demo:
        from pydantic import SecretStr

        from .simulator import SimulatorServer, demo_cluster

        simulator = SimulatorServer(demo_cluster(keep_requests=DEMO_REQUESTS_KEPT)).start()
        settings = settings.model_copy(
            update={"cluster_endpoint": simulator.url, "token": SecretStr(simulator.cluster.token)}
        )
    configure_logging(settings.log_level, *log_secrets(settings))
    log = logging.getLogger("zilliz_refresh_mcp")
    if settings.transport != "http":
        from .config import http_only_variables, over_stdio

        # Not refused, as a flag is: a shell may export them for another use (another instance served over HTTP).
        if variables := http_only_variables():
            log.warning("%s: ignored", over_stdio(variables))
    from .config import unknown_variables

    for unknown in unknown_variables():
        log.warning("%s", unknown.warning())
    if simulator is not None:
        log.info("demo cluster serving on %s", simulator.url)

    from .config import host_in_url
    from .server import build_server

    mcp = build_server(settings)
    # What imports and start-up made lives as long as the process: frozen, it is no longer traversed
    # by every collection the calls trigger (a 4-job call: ~0.15 ms less). Then collection resumes.
    gc.freeze()
    gc.enable()
    keep_freed_heap()
    try:
        if settings.transport == "stdio":
            import anyio

            anyio.run(_serve_stdio, mcp)
        else:
            try:
                sock = listen(settings.host, settings.port)
            except OSError as err:
                # A busy port or an address this machine does not have: a setting to change, not a crash.
                print(
                    f"zilliz-refresh-mcp: cannot listen on {host_in_url(settings.host)}:{settings.port}: "
                    f"{err.strerror or err}; {_what_to_change(err)}",
                    file=sys.stderr,
                )
                return EXIT_CONFIG
            if problem := _unguarded_bind(settings, sock):
                sock.close()
                print(f"zilliz-refresh-mcp: configuration error: {problem}", file=sys.stderr)
                return EXIT_CONFIG
            serve_http(mcp, settings, sock)
    finally:
        if simulator is not None:
            simulator.stop()
    return 0


def _what_to_change(err: OSError) -> str:
    """The setting to change when the HTTP server cannot listen: the port when it is taken, else the host (a name
    that does not resolve, an address this machine does not have)."""
    if err.errno in (errno.EADDRINUSE, errno.EACCES):
        return "choose another --port (ZILLIZ_PORT; 0 picks a free one)"
    return "choose another --host (ZILLIZ_HOST): an address of this machine, or a name that resolves to one"


async def _serve_stdio(mcp: Any) -> None:
    from .stdio import serve_stdio

    with _exit_if_interrupt_hangs():
        await serve_stdio(mcp)


@contextmanager
def _exit_if_interrupt_hangs() -> Iterator[None]:
    """After Ctrl-C, the process ends within a grace period, whatever stopping waits on; a second Ctrl-C ends it now.

    Stopping waits for what cancellation cannot reach, a call in one of anyio's worker threads (the SDK's own reader
    of stdin was one, waiting for a next line that might never come, before ``stdio.StdinLines``). Chained to the
    handler that the running event loop installed (it cancels the server): stopping starts as usual. Left alone
    when SIGINT is ignored (a host may shield its servers from the terminal's Ctrl-C) or off the main thread (an
    embedding program's); the loop's handler is put back once the serving ends.
    """
    stop = signal.getsignal(signal.SIGINT)
    if not callable(stop) or threading.current_thread() is not threading.main_thread():
        yield
        return
    chained = stop
    armed = False

    def interrupted(signum: int, frame: FrameType | None) -> None:
        nonlocal armed
        if armed:  # pressed again: no more waiting
            _exit_now(EXIT_INTERRUPTED)
            return
        armed = True
        timer = threading.Timer(INTERRUPT_GRACE_SECONDS, _exit_now, args=(EXIT_INTERRUPTED,))
        timer.daemon = True
        timer.start()
        chained(signum, frame)

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is interrupted:
            signal.signal(signal.SIGINT, chained)  # the loop then puts back its own predecessor as it closes


def _exit_now(code: int) -> None:
    sys.stderr.flush()
    os._exit(code)


# A restart may bind while the last run's connections linger. On Windows the option would let a second server bind a
# port in use, not refuse it (socket.create_server skips it there too).
REUSE_ADDRESS = os.name != "nt"


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, bound before uvicorn starts: --port 0 works, and the URL
    printed is the real one. OSError when the port is taken or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if REUSE_ADDRESS:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # clients may connect as soon as the URL is printed
    except OSError:
        sock.close()
        raise
    return sock


def _unguarded_bind(settings: Settings, sock: socket.socket) -> str | None:
    """What the server lacks to serve where ``sock`` was really bound. Configuration judged ``host`` by its name
    (``box.localhost`` reads as loopback and needs no bearer token), but the bind went wherever the resolver
    sent that name."""
    from .config import is_loopback

    address = str(sock.getsockname()[0])
    if is_loopback(address):
        return None
    return settings.unguarded(f"{settings.host}, which is {address}")


def _client_url(settings: Settings, port: int) -> str | None:
    """For a bind to every address (``0.0.0.0``, ``::``), which no client can connect to by that name: how clients
    reach it, by the first allowed host that says (one is required for such a bind); None for any other bind."""
    import ipaddress

    try:
        unspecified = ipaddress.ip_address(settings.host.strip("[]")).is_unspecified
    except ValueError:
        return None
    if not unspecified:
        return None
    for entry in settings.mcp_allowed_hosts:
        name, _, given = entry.rpartition(":") if re.search(r"(^[^:]*|\]):(\d+|\*)$", entry) else (entry, "", "")
        if ":" in name.strip("[]") and not name.startswith("["):
            continue  # an IPv6 address without brackets: no Host header is written so, and it matches none
        if given:
            return f"http://{name}:{port if given == '*' else given}/mcp"
        # Without a port it matches a Host header of none: the default port, this server's or a reverse proxy's.
        if port == 80:
            return f"http://{name}/mcp"
        return f"https://{name}/mcp, through a reverse proxy in front that sends Host: {name}"
    return None


def serve_http(mcp: Any, settings: Settings, sock: socket.socket) -> None:
    from .config import host_in_url
    from .transport import StoppingServer, http_app, server_config

    port = sock.getsockname()[1]
    host = host_in_url(settings.host)
    app, streams = http_app(mcp, settings, on_stop=mcp.end_listen_streams)
    server = StoppingServer(server_config(app), streams)
    if (url := _client_url(settings, port)) is not None:
        print(
            f"zilliz-refresh-mcp: {settings.host} is every address of this machine: clients use {url}", file=sys.stderr
        )
    print(f"zilliz-refresh-mcp: serving MCP on http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
