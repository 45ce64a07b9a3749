"""The README's copy-paste snippets work as pasted: every JSON block parses, every host snippet starts the real
command with the real variables, and the configuration table lists every setting."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from zilliz_refresh_mcp.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMAND = "zilliz-refresh-mcp"
REQUIRED = ("ZILLIZ_CLUSTER_ENDPOINT", "ZILLIZ_TOKEN")
SETTINGS_VARS = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
VAR = re.compile(r"\bZILLIZ_[A-Z0-9_]+\b")
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SERVER_KEYS = ("mcpServers", "servers", "context_servers")  # Claude/Cursor/Windsurf, VS Code, Zed


def section(text: str, start: str, end: str) -> str:
    assert text.count(start) == 1 and text.count(end) == 1, f"{start} / {end} must appear exactly once"
    return text[text.index(start) + len(start) : text.index(end)]


HOSTS = section(README, "<!-- hosts:start -->", "<!-- hosts:end -->")


def fenced(text: str) -> list[tuple[str, str]]:
    return [(lang.lower(), body) for lang, body in FENCE.findall(text)]


def strip_line_comments(source: str) -> str:
    """JSONC to JSON: drop ``// ...`` outside strings (the only comment form the README uses)."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(source):
        char = source[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif source.startswith("//", i):
            while i < len(source) and source[i] != "\n":
                i += 1
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def parse(lang: str, body: str) -> Any:
    return json.loads(strip_line_comments(body) if lang == "jsonc" else body)


def json_blocks(text: str) -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in fenced(text) if lang in ("json", "jsonc")]


def host_configs(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(servers key, config) for each JSON block that configures a host."""
    found = []
    for lang, body in json_blocks(text):
        config = parse(lang, body)
        if isinstance(config, dict):
            found += [(key, config) for key in SERVER_KEYS if key in config]
    return found


def claude_mcp_add_lines(text: str) -> list[str]:
    lines = []
    for lang, body in fenced(text):
        if lang not in ("bash", "sh", "shell", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("claude mcp add"):
                lines.append(line)
    return lines


def runs_the_server(command: str, args: list[str]) -> bool:
    """The real program: by name or full path, or through uvx / pipx run."""
    program = re.split(r"[\\/]", command)[-1].removesuffix(".exe")
    if program == COMMAND:
        return True
    if program == "uvx":
        return COMMAND in args
    if program == "pipx":
        return args[:1] == ["run"] and COMMAND in args
    return False


def check_env(env: dict[str, str], where: str) -> None:
    for name in REQUIRED:
        assert env.get(name), f"{where}: {name} missing"
    unknown = set(env) - SETTINGS_VARS
    assert not unknown, f"{where}: {sorted(unknown)} are not settings"


def check_server_entry(key: str, name: str, entry: dict[str, Any], config: dict[str, Any]) -> None:
    where = f"{key}.{name}"
    args = entry.get("args", [])
    assert isinstance(args, list) and all(isinstance(arg, str) for arg in args), where
    assert runs_the_server(entry["command"], args), f"{where}: {entry['command']} {args} does not run {COMMAND}"
    check_env(entry["env"], where)
    if key == "servers":  # VS Code
        assert entry["type"] == "stdio", where
        inputs = {item["id"]: item for item in config.get("inputs", [])}
        for value in entry["env"].values():
            for input_id in re.findall(r"\$\{input:([^}]+)\}", value):
                assert input_id in inputs, f"{where}: no input {input_id}"
                assert inputs[input_id]["type"] == "promptString"
        token_inputs = re.findall(r"\$\{input:([^}]+)\}", entry["env"]["ZILLIZ_TOKEN"])
        assert token_inputs and inputs[token_inputs[0]].get("password") is True, f"{where}: prompt for the key"
    if key == "context_servers":  # Zed: "args" is required, even empty
        assert "args" in entry, where


@pytest.mark.parametrize(("lang", "body"), json_blocks(README), ids=lambda value: str(value)[:30])
def test_every_json_block_parses(lang: str, body: str) -> None:
    parse(lang, body)


def test_host_snippets_run_the_real_command_with_the_real_variables() -> None:
    configs = host_configs(HOSTS)
    assert {key for key, _ in configs} == set(SERVER_KEYS), "Claude Desktop/Cursor/Windsurf, VS Code and Zed"
    for key, config in configs:
        servers = config[key]
        assert servers, key
        for name, entry in servers.items():
            check_server_entry(key, name, entry, config)


def test_every_host_has_a_snippet() -> None:
    headings = re.findall(r"^#{2,4} (.+)$", HOSTS, re.M)
    assert headings == ["Claude Desktop", "Claude Code", "VS Code", "Cursor", "Windsurf", "Zed"]
    for path in (
        "claude_desktop_config.json",
        r"%LOCALAPPDATA%\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude\claude_desktop_config.json",
        ".vscode/mcp.json",
        "~/.cursor/mcp.json",
        "~/.codeium/windsurf/mcp_config.json",
        "context_servers",
    ):
        assert path in HOSTS
    for alternative in ('"command": "uvx"', "uvx zilliz-refresh-mcp", "pipx run zilliz-refresh-mcp"):
        assert alternative in HOSTS


def test_windows_path_snippet_escapes_backslashes() -> None:
    commands = [entry["command"] for key, config in host_configs(HOSTS) for entry in config[key].values()]
    windows = [command for command in commands if "\\" in command]
    assert windows, "a Windows full-path example"
    for command in windows:
        assert re.fullmatch(r"[A-Z]:\\(?:[^\\]+\\)+zilliz-refresh-mcp\.exe", command), command


def test_claude_code_lines() -> None:
    lines = claude_mcp_add_lines(HOSTS)
    assert lines
    for line in lines:
        words = shlex.split(line)
        assert words[:3] == ["claude", "mcp", "add"], line
        # The name first: `-e` is variadic in `claude mcp add` and swallows a name written after it.
        name, rest = words[3], words[4:]
        assert not name.startswith("-"), line
        assert "--" in rest, line
        options, command = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
        assert runs_the_server(command[0], command[1:]), line
        env: dict[str, str] = {}
        i = 0
        while i < len(options):
            flag, value = options[i], options[i + 1]
            if flag in ("-e", "--env"):
                key, sep, env_value = value.partition("=")
                assert sep, line
                env[key] = env_value
            elif flag in ("-s", "--scope"):
                assert value in ("local", "user", "project"), line
            elif flag in ("-t", "--transport"):
                assert value == "stdio", line
            else:
                pytest.fail(f"unexpected option {flag} in {line}")
            i += 2
        check_env(env, line)


def test_claude_desktop_example_file() -> None:
    config = json.loads((ROOT / "claude_desktop_config.example.json").read_text(encoding="utf-8"))
    assert config["mcpServers"]
    for name, entry in config["mcpServers"].items():
        check_server_entry("mcpServers", name, entry, config)


def test_every_variable_named_in_the_readme_is_a_setting() -> None:
    named = set(VAR.findall(README))
    assert named - SETTINGS_VARS == set()


def test_configuration_table_lists_every_setting() -> None:
    start = README.index("\n## Configuration\n")
    table = README[start : README.index("\n## ", start + 1)]
    rows = [line for line in table.splitlines() if line.startswith("| `ZILLIZ_")]
    listed = {name for row in rows for name in VAR.findall(row.split("|")[1])}
    assert listed == SETTINGS_VARS


def _shown(value: object) -> str:
    """A setting's default as the README and the flag help write it."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_defaults_agree_in_the_settings_the_flag_help_and_the_readme() -> None:
    from zilliz_refresh_mcp.cli import parser

    start = README.index("\n## Configuration\n")
    table = README[start : README.index("\n## ", start + 1)]
    checked = 0
    for row in (line for line in table.splitlines() if line.startswith("| `ZILLIZ_")):
        variables, defaults = VAR.findall(row.split("|")[1]), re.findall(r"`([^`]*)`", row.split("|")[3])
        for variable, default in zip(variables, defaults, strict=False):
            field = Settings.model_fields[variable.removeprefix(ENV_PREFIX).lower()]
            assert default == _shown(field.default), variable
            checked += 1
    for action in parser()._actions:
        if action.help and (said := re.search(r"\(default: ([^)]*)\)", action.help)):
            assert said[1] == _shown(Settings.model_fields[action.dest].default), action.option_strings
            checked += 1
    assert checked >= 20


def test_the_exit_codes_paragraph_names_every_exit_status() -> None:
    from zilliz_refresh_mcp.check import EXIT_READER_GONE
    from zilliz_refresh_mcp.cli import EXIT_CONFIG, EXIT_INTERRUPTED

    start = README.index("Bad configuration stops the server with exit code")
    paragraph = " ".join(README[start : README.index("\n\n", start)].split())  # lines wrap anywhere
    for told in (
        f"exit code {EXIT_CONFIG}",
        "ends with 0 when its host closes stdin",
        "1 when one failed",  # --check
        f"{EXIT_READER_GONE} when the reader",
        f"{EXIT_INTERRUPTED} on Ctrl-C",
        "SIGTERM ends it as that signal does (a shell reports 143)",
    ):
        assert told in paragraph, told


def test_a_sample_answer_that_shows_fewer_jobs_than_it_counts_says_it_is_abridged() -> None:
    checked = 0
    for match in FENCE.finditer(README):
        if match[1] != "json" or '"page"' not in match[2]:
            continue
        answer = json.loads(match[2])
        if len(answer["jobs"]) < answer["page"]["returned"]:
            before = README[: match.start()].rstrip().rsplit("\n\n", 1)[-1]
            assert "abridged" in before, before
            checked += 1
    assert checked


def test_secrets_are_set_by_variable_not_by_flag() -> None:
    """A flag's value shows in every user's process list: the README never passes a secret as one, and the help
    of each secret's flag says to prefer its variable."""
    from zilliz_refresh_mcp.cli import parser

    secret_flags = {"--token", "--mcp-bearer-token"}
    for flag in secret_flags:
        assert not re.search(rf"{flag}[ =][^|`]", README), f"the README passes {flag} a value"
    helps = {action.option_strings[0]: action.help or "" for action in parser()._actions if action.option_strings}
    for flag in secret_flags:
        assert "prefer the variable: flags show in process lists" in helps[flag], flag
