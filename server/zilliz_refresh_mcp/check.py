"""``zilliz-refresh-mcp --check``: start this server over stdio in a real MCP client session and show what
an assistant would see (the tools, one list_refresh_jobs answer, one job's details). Exit 0 when it works.
"""

from __future__ import annotations

import filecmp
import io
import json
import os
import shutil
import sys
from collections.abc import Sequence

from mcp import Client, MCPError, StdioServerParameters
from mcp.types import TextContent, TextResourceContents

from .config import HTTP_ONLY_VARIABLES


def _print(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


# Besides ZILLIZ_*, what the server's HTTP client reads from its environment: a proxy, a private CA. As a host's
# env block would have to carry them, the check passes them on; nothing else of the shell (as a desktop host).
_NETWORK = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"})
_FAILED = "The call failed: see the message above."
EXIT_READER_GONE = 141  # as a shell reports a program that SIGPIPE ended: the reader (`| head`) left early


async def run_check(server_args: Sequence[str], notes: Sequence[str] = ()) -> int:
    """Spawn ``python -m zilliz_refresh_mcp <server_args>`` and talk to it like a host does; ``notes`` first."""
    # Not the HTTP transport's variables: the server checked serves stdio, and would warn that it ignores them.
    env = {
        key: value
        for key, value in os.environ.items()
        if (key.startswith("ZILLIZ_") and key.upper() not in HTTP_ONLY_VARIABLES) or key.upper() in _NETWORK
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "zilliz_refresh_mcp", *server_args], env=env)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Upstream's words may hold characters the output cannot encode: Windows writes a file or a pipe in its
        # ANSI code page. Shown escaped (\u6587), not a crash.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        for note in notes:
            _print(note)
    except BrokenPipeError:
        return _reader_gone()
    async with Client(params, mode="legacy") as client:
        try:
            return await _converse(client)
        except BrokenPipeError:
            return _reader_gone()


PROGRAM = "zilliz-refresh-mcp"


def _path_note() -> str | None:
    """The program's full path to give as "command", when PATH does not find it: a host starts "command" without
    the shell's PATH, and a venv's bin is on none."""
    program = shutil.which(PROGRAM, path=os.path.dirname(sys.executable))  # beside this Python: a venv's, pipx's
    if program is None:
        return None
    found = shutil.which(PROGRAM)
    if found is None:
        where = "It is not on your PATH"
    elif os.path.realpath(found) != os.path.realpath(program) and not _same_bytes(found, program):
        where = f"Your PATH finds another copy first, {json.dumps(os.path.abspath(found))}"
    else:
        return None
    return f'{where}: in the snippets, give "command" as {json.dumps(program)}.'


def _same_bytes(one: str, other: str) -> bool:
    """Whether two programs are copies of one (pipx copies its launcher where it cannot link, as on Windows)."""
    try:
        return filecmp.cmp(one, other, shallow=False)
    except OSError:
        return False


def _reader_gone() -> int:
    # Nobody reads what is left to print; stdout goes nowhere, so that closing it at exit cannot fail too.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_READER_GONE


async def _converse(client: Client) -> int:
    """One host's first minute with the server: list the tools, call list_refresh_jobs, read one job."""
    info = client.server_info
    _print(f"Connected to {info.name if info else '?'} {info.version if info else ''} over stdio.")
    tools = await client.list_tools()
    _print("Tools: " + ", ".join(tool.name for tool in tools.tools), "")
    _print('Assistant calls list_refresh_jobs {"limit": 5}:')
    result = await client.call_tool("list_refresh_jobs", {"limit": 5})
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    _print(text, "")
    if result.is_error or not result.structured_content:
        _print(_FAILED)
        return 1
    jobs = result.structured_content.get("jobs") or []
    if jobs:
        uri = jobs[0]["detailsUri"]
        _print(f"Assistant reads {uri}:")
        try:
            read = await client.read_resource(uri)
        except MCPError as err:  # the server's own message for the host (a key that may not describe jobs, say)
            _print(err.message, "", _FAILED)
            return 1
        for content in read.contents:
            if isinstance(content, TextResourceContents):
                _print(json.dumps(json.loads(content.text), indent=2))
    _print("", "OK: the server answers. Add it to your assistant with the snippets in README.md.")
    if (note := _path_note()) is not None:
        _print(note)
    return 0
