"""Settings from the environment and flags; start-up failures are one clear line and exit code 2."""

from __future__ import annotations

import errno
import gc
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from zilliz_refresh_mcp import cli
from zilliz_refresh_mcp.config import ENV_PREFIX, Settings, load_settings
from zilliz_refresh_mcp.errors import ConfigError

TOKEN = "sk-test-0123456789abcdef"
BEARER = "bearer-0123456789abcdef0123"


def test_environment_is_read_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZILLIZ_CLUSTER_ENDPOINT", "https://in03-abc.serverless.aws-us-west-2.vectordb.zillizcloud.com/")
    monkeypatch.setenv("ZILLIZ_TOKEN", TOKEN)
    monkeypatch.setenv("ZILLIZ_DB_NAME", "analytics")
    monkeypatch.setenv("ZILLIZ_TIMEOUT_SECONDS", "12.5")
    settings = load_settings()
    assert settings.cluster_endpoint == "https://in03-abc.serverless.aws-us-west-2.vectordb.zillizcloud.com"
    assert settings.token_value == TOKEN
    assert settings.db_name == "analytics"
    assert settings.timeout_seconds == 12.5
    assert load_settings(db_name="other", timeout_seconds=3).db_name == "other"


def test_the_token_is_never_in_a_repr() -> None:
    settings = load_settings(cluster_endpoint="https://example.zillizcloud.com", token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({}, "ZILLIZ_CLUSTER_ENDPOINT"),
        ({"cluster_endpoint": "https://x.zillizcloud.com"}, "ZILLIZ_TOKEN"),
        ({"cluster_endpoint": "ftp://x", "token": TOKEN}, "ZILLIZ_CLUSTER_ENDPOINT"),
        ({"cluster_endpoint": "https://u:p@x.zillizcloud.com", "token": TOKEN}, "ZILLIZ_CLUSTER_ENDPOINT"),
        ({"cluster_endpoint": "https://x.zillizcloud.com", "token": TOKEN, "db_name": "9lives"}, "ZILLIZ_DB_NAME"),
        ({"cluster_endpoint": "https://x.zillizcloud.com", "token": TOKEN, "timeout_seconds": 0}, "ZILLIZ_TIMEOUT"),
        ({"cluster_endpoint": "http://milvus.internal:19530", "token": TOKEN}, "ZILLIZ_ALLOW_INSECURE_HTTP"),
    ],
)
def test_bad_configuration_names_the_variable(overrides: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("overrides", "variable", "says"),
    [
        ({"token": f'"{TOKEN}"'}, "ZILLIZ_TOKEN", "is wrapped in quotes: give the key without them"),
        ({"token": f"'{TOKEN}'"}, "ZILLIZ_TOKEN", "is wrapped in quotes"),
        ({"token": f"Bearer {TOKEN}"}, "ZILLIZ_TOKEN", "starts with 'Bearer ': give the key alone"),
        ({"token": "your-api-key"}, "ZILLIZ_TOKEN", "is still the example's placeholder: copy an API key"),
        ({"cluster_endpoint": '"https://x.zillizcloud.com"'}, "ZILLIZ_CLUSTER_ENDPOINT", "is wrapped in quotes"),
        ({"cluster_endpoint": "https://your-cluster-endpoint"}, "ZILLIZ_CLUSTER_ENDPOINT", "example's placeholder"),
        (
            {"cluster_endpoint": "in03-abc.serverless.gcp-us-west1.cloud.zilliz.com"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "has no scheme: use https://in03-abc.serverless.gcp-us-west1.cloud.zilliz.com",
        ),
        (
            {"cluster_endpoint": "localhost:19530"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "has no scheme: use http://localhost:19530",
        ),
        ({"cluster_endpoint": "127.0.0.1:19530"}, "ZILLIZ_CLUSTER_ENDPOINT", "use http://127.0.0.1:19530"),
        (
            {"cluster_endpoint": "10.0.0.5:19530"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "use http://10.0.0.5:19530 (plain HTTP to another machine also needs ZILLIZ_ALLOW_INSECURE_HTTP)",
        ),
        ({"cluster_endpoint": "localhost.corp.example:19530"}, "ZILLIZ_CLUSTER_ENDPOINT", "use https://localhost.corp"),
        # A host's reference that the host did not fill in (VS Code's syntax, copied into another host), a template.
        ({"token": "${input:zilliz-token}"}, "ZILLIZ_TOKEN", "a reference to a value that the host did not fill in"),
        ({"token": "${env:ZILLIZ_TOKEN}"}, "ZILLIZ_TOKEN", "give the key itself in this host's env block"),
        ({"token": "$ZILLIZ_TOKEN"}, "ZILLIZ_TOKEN", "a reference to a value that the host did not fill in"),
        (
            {"cluster_endpoint": "${env:ZILLIZ_CLUSTER_ENDPOINT}"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "did not fill in (${input:...}, ${env:...} or $NAME): give the endpoint itself",
        ),
        ({"token": "db_admin:${input:zilliz-password}"}, "ZILLIZ_TOKEN", "a value that the host did not fill in"),
        # A bearer token guards an HTTP server: one that is a reference as written is no secret at all.
        ({"mcp_bearer_token": "${env:ZILLIZ_MCP_BEARER_TOKEN}"}, "ZILLIZ_MCP_BEARER_TOKEN", "give the token itself"),
        ({"mcp_bearer_token": "$ZILLIZ_MCP_BEARER_TOKEN"}, "ZILLIZ_MCP_BEARER_TOKEN", "did not fill in"),
        ({"mcp_bearer_token": "${input:mcp-bearer-token}"}, "ZILLIZ_MCP_BEARER_TOKEN", "did not fill in"),
        (
            {"cluster_endpoint": "https://{cluster-id}.{region}.vectordb.zillizcloud.com:19530"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "is still a template's placeholder",
        ),
        (
            {"cluster_endpoint": "https://<cluster-id>.<region>.vectordb.zillizcloud.com"},
            "ZILLIZ_CLUSTER_ENDPOINT",
            "is still a template's placeholder",
        ),
        # Typographic quotes, as a word processor or a chat window writes them.
        ({"token": f"\u201c{TOKEN}\u201d"}, "ZILLIZ_TOKEN", "is wrapped in quotes: give the key without them"),
        ({"cluster_endpoint": "\u2018https://x.zillizcloud.com\u2019"}, "ZILLIZ_CLUSTER_ENDPOINT", "wrapped in quotes"),
        (
            {"enable_refresh": "maybe"},
            "ZILLIZ_ENABLE_REFRESH",
            "should be true or false (1 or 0, yes or no, on or off)",
        ),
    ],
)
def test_a_value_pasted_as_shown_elsewhere_is_refused_saying_how_to_mend_it(
    overrides: dict[str, str], variable: str, says: str
) -> None:
    """Quotes kept from a shell or JSON snippet, a header's "Bearer ", the README's placeholders, a host without its
    scheme: each started the server, then failed at its first call as a refused key or an unreachable cluster."""
    with pytest.raises(ConfigError) as caught:
        load_settings(**({"cluster_endpoint": "https://x.zillizcloud.com", "token": TOKEN} | overrides))
    message = str(caught.value)
    assert variable in message and says in message, message
    assert TOKEN not in message


def test_the_examples_shipped_are_refused_until_filled_in() -> None:
    """A host started with claude_desktop_config.example.json, or server.json's placeholder, as they are."""
    root = Path(__file__).resolve().parents[1]
    example = json.loads((root / "claude_desktop_config.example.json").read_text(encoding="utf-8"))
    env = example["mcpServers"]["zilliz-refresh"]["env"]
    registry = json.loads((root / "server.json").read_text(encoding="utf-8"))
    placeholders = [
        variable["placeholder"]
        for package in registry["packages"]
        for variable in package.get("environmentVariables", [])
        if variable["name"] == "ZILLIZ_CLUSTER_ENDPOINT"
    ]
    assert placeholders
    for endpoint in [env["ZILLIZ_CLUSTER_ENDPOINT"], *placeholders]:
        with pytest.raises(ConfigError, match=r"ZILLIZ_CLUSTER_ENDPOINT.*example's placeholder"):
            load_settings(cluster_endpoint=endpoint, token=TOKEN)
    with pytest.raises(ConfigError, match=r"ZILLIZ_TOKEN.*example's placeholder"):
        load_settings(cluster_endpoint="https://x.zillizcloud.com", token=env["ZILLIZ_TOKEN"])


def test_a_key_with_quotes_inside_or_a_bearer_word_of_its_own_is_taken() -> None:
    for token in (f"user:pa'ss{TOKEN}", f'user:"{TOKEN}', "bearer:s3cret-password", "user:pa$$word$x", "$3cret-key"):
        settings = load_settings(cluster_endpoint="https://x.zillizcloud.com", token=token)
        assert settings.token is not None and settings.token.get_secret_value() == token
    # A bearer token the user chose may begin with a quote; an API key never does (see the stray-quote test).
    settings = load_settings(demo=True, transport="http", mcp_bearer_token=f'"{TOKEN}')
    assert settings.mcp_bearer_token is not None and settings.mcp_bearer_token.get_secret_value() == f'"{TOKEN}'
    # A password, or a bearer token the user chose, may begin with "$": no reference that a host left unfilled.
    for token in ("db_admin:$ecretPassw0rd", "db_admin:$ecret_Pass"):
        assert load_settings(cluster_endpoint="https://x.zillizcloud.com", token=token).token is not None
    bearer = "$Correct_Horse_Battery_Staple_42"
    settings = load_settings(demo=True, transport="http", mcp_bearer_token=bearer)
    assert settings.mcp_bearer_token is not None and settings.mcp_bearer_token.get_secret_value() == bearer


def test_plain_http_is_fine_for_loopback_and_with_the_opt_in() -> None:
    for endpoint in ("http://127.0.0.1:19530", "http://localhost:19530", "http://[::1]:19530"):
        assert load_settings(cluster_endpoint=endpoint, token=TOKEN).cluster_endpoint == endpoint
    opted = load_settings(cluster_endpoint="http://milvus.internal:19530", token=TOKEN, allow_insecure_http=True)
    assert opted.cluster_endpoint == "http://milvus.internal:19530"


def test_a_project_endpoint_takes_an_api_key_not_user_password() -> None:
    """upstream-api.md: external-collection calls on a project endpoint accept an API key only."""
    project = "https://in01-0123456789abcdef.aws-us-west-2.api.zillizcloud.com"
    with pytest.raises(ConfigError) as caught:
        load_settings(cluster_endpoint=project, token="db_admin:s3cret-Passw0rd")
    message = str(caught.value)
    assert "ZILLIZ_TOKEN" in message and "API key" in message and "project endpoint" in message
    assert "s3cret-Passw0rd" not in message
    assert load_settings(cluster_endpoint=project, token=TOKEN).cluster_endpoint == project
    cluster = "https://in01-0123456789abcdef.aws-us-west-2.vectordb.zillizcloud.com:19530"
    assert load_settings(cluster_endpoint=cluster, token="db_admin:s3cret-Passw0rd").cluster_endpoint == cluster


def test_demo_needs_no_credentials() -> None:
    assert load_settings(demo=True).demo


@pytest.mark.parametrize(
    ("environment", "argv", "told"),
    [
        (
            {"ZILLIZ_DEMO": "true", "ZILLIZ_CLUSTER_ENDPOINT": "https://in01-x.vectordb.zillizcloud.com"},
            [],
            "ZILLIZ_DEMO serves a simulated cluster, but ZILLIZ_CLUSTER_ENDPOINT names a real one: unset ZILLIZ_DEMO "
            "(or pass --no-demo) to ask the real cluster, or unset ZILLIZ_CLUSTER_ENDPOINT to try the demo",
        ),
        (  # a flag over a variable that is also set: undoing the flag alone would leave the variable in the way
            {"ZILLIZ_DEMO": "true", "ZILLIZ_TOKEN": TOKEN},
            ["--demo", "--token", TOKEN],
            "but --token names a real one: drop --demo and unset ZILLIZ_DEMO to ask the real cluster, or remove "
            "--token and unset ZILLIZ_TOKEN to try the demo",
        ),
        (
            {},
            ["--demo", "--endpoint", "https://a.example"],
            "--demo serves a simulated cluster, but --endpoint names a real one: drop --demo to ask the real cluster, "
            "or remove --endpoint to try the demo",
        ),
        (
            {},
            ["--demo", "--endpoint", "https://a.example", "--token", TOKEN],
            "but --endpoint and --token name a real one: drop --demo to ask the real cluster, or remove "
            "--endpoint/--token to try the demo",
        ),
        (
            {"ZILLIZ_TOKEN": TOKEN},
            ["--demo", "--endpoint", "https://a.example"],
            "but --endpoint and ZILLIZ_TOKEN name a real one: drop --demo to ask the real cluster, or remove "
            "--endpoint and unset ZILLIZ_TOKEN to try the demo",
        ),
    ],
    ids=["variables", "flags over variables", "flag", "flags", "both"],
)
def test_demo_is_refused_beside_a_real_cluster_naming_what_the_user_set(
    environment: dict[str, str],
    argv: list[str],
    told: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ZILLIZ_DEMO left in a host's config must not pass made-up jobs off as the real cluster's; the fix names
    what the user actually set, a flag or a variable."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert cli.main(argv) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert told in err and err.count("\n") == 1
    assert TOKEN not in err and "unset both" not in err


@pytest.mark.parametrize(
    ("argv", "told", "demo_offered"),
    [
        ([], "ZILLIZ_CLUSTER_ENDPOINT is required (or --endpoint)", True),
        (["--endpoint", "https://a.example"], "ZILLIZ_TOKEN is required (or --token)", False),
        (["--endpoint", "https://a.example", "--token", "   "], "ZILLIZ_TOKEN is required (or --token)", False),
        (["--token", TOKEN], "ZILLIZ_CLUSTER_ENDPOINT is required (or --endpoint)", False),
    ],
)
def test_demo_is_suggested_only_where_it_would_be_taken(
    argv: list[str], told: str, demo_offered: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """--demo is refused beside an endpoint or a token: a missing-setting error offers it only when neither is set."""
    assert cli.main(argv) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert told in err
    assert ("--demo" in err) == demo_offered, err
    if demo_offered:  # and it would be taken
        assert cli.parser().parse_args([*argv, "--demo"]).demo and load_settings(demo=True).demo


def test_cli_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--endpoint", "https://x.zillizcloud.com"]) == cli.EXIT_CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "ZILLIZ_TOKEN" in lines[0]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "99999"], "--port: "),
        (["--endpoint", "ftp://x"], "--endpoint: "),
        (["--db-name", "9lives"], "--db-name: "),
        (["--max-attempts", "0"], "--max-attempts: "),
    ],
)
def test_a_bad_value_given_by_flag_is_named_by_that_flag(
    argv: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZILLIZ_CLUSTER_ENDPOINT", "https://x.zillizcloud.com")
    monkeypatch.setenv("ZILLIZ_TOKEN", TOKEN)
    assert cli.main(argv) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"configuration error: {named}" in err
    assert "ZILLIZ_" not in err


def test_a_bad_value_from_the_environment_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZILLIZ_PORT", "99999")
    assert cli.main(["--endpoint", "https://x.zillizcloud.com", "--token", TOKEN]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "configuration error: ZILLIZ_PORT: " in err
    assert "--port" not in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "9000"], "--port applies"),
        (["--host", "0.0.0.0"], "--host applies"),  # noqa: S104 - refused before any bind
        (["--mcp-bearer-token", BEARER], "--mcp-bearer-token applies"),
        (["--allowed-host", "mcp.example:8000"], "--allowed-host applies"),
        (["--allowed-origin", "https://app.example"], "--allowed-origin applies"),
        (["--port=9000", "--host", "127.0.0.1"], "--host and --port apply"),
        (["--transport", "stdio", "--port", "9000"], "--port applies"),
        (["--check", "--port", "0"], "--port applies"),
    ],
)
def test_an_http_flag_without_the_http_transport_is_refused_not_ignored(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typed on the command line, it was meant: serving stdio regardless would leave the user wondering why."""
    assert cli.main(["--demo", *argv]) == cli.EXIT_CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"zilliz-refresh-mcp: configuration error: {named} only with --transport http (serving over stdio)"
    ]
    assert BEARER not in captured.err


def serve_stdio_with(*flags: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """The server started with ``flags`` and no ``ZILLIZ_*`` variables but ``variables``, over stdio with no host: it
    ends at once, as when its host closes stdin."""
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith(ENV_PREFIX)}
    return subprocess.run(
        [sys.executable, "-m", "zilliz_refresh_mcp", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env | variables,
    )


def test_http_variables_beside_stdio_are_a_warning_and_the_server_serves_stdio() -> None:
    """A shell may export them for another use: not refused, but told once on stderr; stdout stays MCP's."""
    done = serve_stdio_with(
        ZILLIZ_DEMO="true", ZILLIZ_PORT="9000", ZILLIZ_MCP_ALLOWED_HOSTS="mcp.example", ZILLIZ_HOST=""
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.endswith(
        " WARNING zilliz_refresh_mcp: ZILLIZ_PORT and ZILLIZ_MCP_ALLOWED_HOSTS apply only with --transport http "
        "(serving over stdio): ignored"
    )


def test_the_check_does_not_hand_the_http_flags_to_the_stdio_server_it_starts() -> None:
    """--check --transport http --port 0: the server checked serves stdio, where --port would be refused."""
    argv = ["--demo", "--transport", "http", "--port", "0", "--host=127.0.0.1", "--allowed-host", "a", "--db-name", "x"]
    dropped = {"--host", "--port", "--mcp-bearer-token", "--allowed-host", "--allowed-origin"}
    assert list(cli._without_flags(argv, dropped)) == ["--demo", "--transport", "http", "--db-name", "x"]


@pytest.mark.parametrize(
    ("env", "argv", "setting"),
    [
        ({"ZILLIZ_CLUSTER_ENDPOINT": f"https://gw.example/{TOKEN}/v2/vectordb"}, [], "ZILLIZ_CLUSTER_ENDPOINT"),
        ({"ZILLIZ_CLUSTER_ENDPOINT": f"gw.example/{TOKEN}"}, [], "ZILLIZ_CLUSTER_ENDPOINT"),
        ({"ZILLIZ_DB_NAME": f"{TOKEN}-x"}, [], "ZILLIZ_DB_NAME"),
        ({"zilliz_db_name": f"{TOKEN}-x"}, [], "ZILLIZ_DB_NAME"),  # settings read variables in any case
        ({}, ["--db-name", f"{TOKEN}-x"], "--db-name"),
        ({"ZILLIZ_MCP_ALLOWED_ORIGINS": f"https://{TOKEN}.example/x"}, [], "ZILLIZ_MCP_ALLOWED_ORIGINS"),
        ({"ZILLIZ_MCP_ALLOWED_ORIGINS": f"https://{BEARER}.example/x"}, [], "ZILLIZ_MCP_ALLOWED_ORIGINS"),
    ],
)
def test_a_configuration_error_never_repeats_the_key_pasted_into_another_setting(
    env: dict[str, str],
    argv: list[str],
    setting: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The key given by variable or flag, in quotes or after "Bearer " too; the bearer token alike."""
    for key in ("ZILLIZ_CLUSTER_ENDPOINT", "ZILLIZ_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ZILLIZ_CLUSTER_ENDPOINT", "https://x.zillizcloud.com")
    monkeypatch.setenv("ZILLIZ_MCP_BEARER_TOKEN", BEARER)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    quoted_forms = (f'"{TOKEN}"', f"\u201c{TOKEN}\u201d", f"Bearer {TOKEN}")
    for token_given in (["--token", TOKEN], *(["--token", form] for form in quoted_forms), []):
        if not token_given:
            monkeypatch.setenv("ZILLIZ_TOKEN", TOKEN)
        assert cli.main([*token_given, *argv]) == cli.EXIT_CONFIG
        err = capsys.readouterr().err
        assert TOKEN not in err and BEARER not in err, err
        if token_given[1:] in ([], [TOKEN]):  # a key in quotes or after "Bearer " is itself the first error
            assert f"configuration error: {setting}" in err and "***" in err, err


@pytest.mark.parametrize(
    "endpoint",
    ["https://db_admin:Pa$sw0rdXyz9@in03-abc.zillizcloud.com", "https://x.zillizcloud.com/?token=$ecretkeyabcdef12"],
)
def test_an_endpoint_holding_a_secret_beside_a_dollar_sign_is_refused_without_showing_it(endpoint: str) -> None:
    """A "$" in a password or a query is no reference that a host left unfilled: the message quotes nothing of it."""
    with pytest.raises(ConfigError) as caught:
        load_settings(cluster_endpoint=endpoint, token=TOKEN)
    message = str(caught.value)
    assert "ZILLIZ_CLUSTER_ENDPOINT" in message and "ecret" not in message and "sw0rd" not in message, message


def test_a_key_of_a_few_characters_does_not_garble_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Blanked wherever its letters stand, "e" turned "database name" into "databas*** nam***"."""
    monkeypatch.setenv("ZILLIZ_CLUSTER_ENDPOINT", "https://x.zillizcloud.com")
    monkeypatch.setenv("ZILLIZ_TOKEN", "e")
    assert cli.main(["--db-name", "bad-name here"]) == cli.EXIT_CONFIG
    assert "--db-name: database name 'bad-name here' is not a valid Milvus name" in capsys.readouterr().err


def test_the_secrets_no_message_may_show_are_the_values_as_given_and_as_taken_out_of_their_quotes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zilliz_refresh_mcp.config import given_secrets

    monkeypatch.setenv("zilliz_mcp_bearer_token", f"'{BEARER}'")  # settings read variables in any case
    for given in (TOKEN, f'"{TOKEN}"', f"\u201c{TOKEN}\u201d", f"\u2018Bearer {TOKEN}\u2019"):
        secrets = given_secrets({"token": given})
        assert TOKEN in secrets and BEARER in secrets, (given, secrets)


def test_console_script_prints_no_traceback_on_bad_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zilliz_refresh_mcp", "--endpoint", "http://10.1.2.3:19530", "--token", TOKEN],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "https" in done.stderr
    assert "ZILLIZ_ALLOW_INSECURE_HTTP=true (--allow-insecure-http)" in done.stderr  # the flag beside its variable
    assert TOKEN not in done.stderr


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"zilliz-refresh-mcp {version('zilliz-refresh-mcp')}"


def test_log_lines_and_tracebacks_never_carry_the_token() -> None:
    import logging

    formatter = cli.RedactingFormatter("%(levelname)s %(message)s", "user:s3cret-password")
    try:
        raise RuntimeError("login failed for user:s3cret-password")
    except RuntimeError:
        import sys as _sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s", ("s3cret-password",), _sys.exc_info())
    text = formatter.format(record)
    assert "Traceback" in text
    assert "s3cret-password" not in text
    assert "***" in text


def test_the_logging_the_server_sets_up_hides_its_key_and_bearer_token(capfd: pytest.CaptureFixture[str]) -> None:
    """What run() gives the log formatter: a line that carries either secret shows "***" in its place."""
    import logging

    password, bearer = "Winter2025-Reader", "b7" * 16
    settings = load_settings(
        cluster_endpoint="https://in01-x.api.gcp-us-west1.zillizcloud.com:19530",
        token=f"svc_reader:{password}",
        transport="http",
        mcp_bearer_token=bearer,
    )
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        cli.configure_logging("INFO", *cli.log_secrets(settings))
        logging.getLogger("zilliz_refresh_mcp.test").warning("echoed: %s and Bearer %s", password, bearer)
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)
    logged = capfd.readouterr().err
    assert "echoed: *** and Bearer ***" in logged
    assert password not in logged and bearer not in logged


def test_a_password_after_a_line_break_or_escape_in_a_log_message_is_hidden() -> None:
    """Written out as ``\\n`` to keep the line whole, a break before the password made it look like a word's end."""
    import logging

    formatter = cli.RedactingFormatter("%(levelname)s %(message)s", "svc_reader:Winter2025")
    for message in (
        "credentials file:\nWinter2025",
        "a\x1bWinter2025",
        "b\u2028Winter2025\r\n",
        "'svc_reader\\tWinter2025'",
    ):
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "poll failed: %s", (message,), None)
        text = formatter.format(record)
        assert "Winter2025" not in text and "***" in text, text


def test_upstream_text_in_a_log_message_cannot_forge_a_line() -> None:
    import logging

    formatter = cli.RedactingFormatter("%(levelname)s %(message)s")
    forged = "busy\r\n2026-11-29 09:00:00,000 CRITICAL zilliz_refresh_mcp: token rotated\x1b[2J"
    try:
        raise RuntimeError("the traceback keeps its lines")
    except RuntimeError:
        import sys as _sys

        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "poll failed: %s", (forged,), _sys.exc_info())
    first, *traceback = formatter.format(record).splitlines()
    assert (
        first
        == "WARNING poll failed: busy\\r\\n2026-11-29 09:00:00,000 CRITICAL zilliz_refresh_mcp: token rotated\\x1b[2J"
    )
    assert traceback[0] == "Traceback (most recent call last):"
    assert "\x1b" not in formatter.format(record)
    other_breaks = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s", ("a\u2028b\x85c\x9b[2J",), None)
    assert formatter.format(other_breaks) == "WARNING a\\u2028b\\x85c\\x9b[2J"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--timeout-seconds", "abc"], "argument --timeout-seconds: invalid float value: 'abc'"),
        (["--transport", "ftp"], "argument --transport: invalid choice: 'ftp'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        # No abbreviations (--check is exact), but the flag meant is named; a flag's name without its dashes too.
        (["--demo", "--chec"], "unrecognized arguments: --chec (did you mean --check?) (see --help)"),
        (["check"], "unrecognized arguments: check (did you mean --check?) (see --help)"),
        (["-check"], "unrecognized arguments: -check (did you mean --check?) (see --help)"),
        (["--Token", "c0ffeeSECRET1234"], "unrecognized arguments: --Token (did you mean --token?), 1 value, not"),
        (["--no-check"], "unrecognized arguments: --no-check (see --help)"),  # not "--check": the opposite
        # A word near a flag's name, after a mistyped flag, may be its value: not shown, not taken for a flag.
        (["--tokne", "Ports"], "unrecognized arguments: --tokne (did you mean --token?), 1 value, not shown (give"),
        (["--TOKENc0ffeeSECRET1234"], "unrecognized arguments: 1 value, not shown"),
        # A key after a mistyped flag, or with none, is not repeated: hosts keep the server's stderr in a log file.
        (
            ["--tokne", "c0ffeeSECRET1234"],
            "unrecognized arguments: --tokne (did you mean --token?), 1 value, not shown (give the key in",
        ),
        (
            ["--tokne=c0ffeeSECRET1234", "--x"],
            "unrecognized arguments: --tokne (did you mean --token?), --x, 1 value, not shown",
        ),
        (["check=SECRET"], "unrecognized arguments: 1 value, not shown"),
        (["c0ffeeSECRET1234", "more"], "unrecognized arguments: 2 values, not shown"),
        (["--tokne", "-c0ffeeSECRET1234", "-tSECRET"], "unrecognized arguments: --tokne (did you mean --token?), 2"),
        # Nor a key given after a flag that takes something else; a short mistake is shown back to be mended.
        (["--port", "c0ffeeSECRET1234"], "argument --port: invalid int value (16 characters, not shown)"),
        (["--port=80o0"], "argument --port: invalid int value: '80o0'"),
        (["--transport", "c0ffeeSECRET1234"], "argument --transport: invalid choice (16 characters, not shown)"),
        (["--timeout-seconds", "u:SECRET"], "argument --timeout-seconds: invalid float value (8 characters, not"),
        # A value with a quote of its own: argparse writes it in the other quotes.
        (["--port", "it'sSECRET-Pa55"], "argument --port: invalid int value (15 characters, not shown)"),
        (["--log-level", "u:it'sSECRET"], "argument --log-level: invalid choice (12 characters, not shown)"),
        (["--transport", "it's\"SECRET"], "argument --transport: invalid choice ("),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    captured = capsys.readouterr()
    assert done.value.code == cli.EXIT_CONFIG
    assert gc.isenabled()  # main turns the collector off for start-up only
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and needle in captured.err and "see --help" in captured.err
    assert "SECRET" not in captured.err


@pytest.mark.parametrize(
    ("endpoint", "bare"),
    [
        ("https://in01-x.vectordb.zillizcloud.com/v2/vectordb", "https://in01-x.vectordb.zillizcloud.com"),
        ("http://127.0.0.1:19530/v2/vectordb/jobs/external_collection/list", "http://127.0.0.1:19530"),
        ("http://127.0.0.1:19530/milvus/V2/VectorDB", "http://127.0.0.1:19530/milvus"),
        ("https://gw.example/v2beta/v2/vectordb", "https://gw.example/v2beta"),
    ],
)
def test_an_endpoint_with_the_api_path_pasted_in_is_refused_with_the_bare_one(endpoint: str, bare: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(cluster_endpoint=endpoint, token=TOKEN)
    assert "ZILLIZ_CLUSTER_ENDPOINT" in str(caught.value) and f"use {bare}" in str(caught.value)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:19530/milvus", "https://gw.example/v2/milvus", "https://gw.example/api/v2"]
)
def test_an_endpoint_behind_a_proxy_prefix_is_kept(endpoint: str) -> None:
    assert load_settings(cluster_endpoint=endpoint, token=TOKEN).cluster_endpoint == endpoint


def test_a_bearer_token_of_16_characters_guards_a_server_bound_beyond_loopback() -> None:
    settings = load_settings(
        cluster_endpoint="https://in01-x.vectordb.zillizcloud.com",
        token=TOKEN,
        transport="http",
        host="0.0.0.0",  # noqa: S104
        mcp_bearer_token="x" * 16,
        mcp_allowed_hosts="mcp.example:8000",
    )
    assert settings.mcp_bearer_token is not None


def test_allowed_hosts_are_comma_separated_in_a_flag_as_in_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README calls both comma-separated; a repeated flag adds to the list."""
    monkeypatch.setenv("ZILLIZ_MCP_ALLOWED_HOSTS", "a.example:8000, b.example:8000")
    assert load_settings(demo=True).mcp_allowed_hosts == ["a.example:8000", "b.example:8000"]
    args = cli.parser().parse_args(
        ["--demo", "--allowed-host", "a.example:8000,b.example:8000", "--allowed-host", " c.example:9000 "]
    )
    flags = {k: v for k, v in vars(args).items() if v is not None and k != "check"}
    assert load_settings(**flags).mcp_allowed_hosts == ["a.example:8000", "b.example:8000", "c.example:9000"]


@pytest.mark.parametrize("reuse", [True, False])
def test_the_listening_socket_reuses_addresses_but_on_windows(monkeypatch: pytest.MonkeyPatch, reuse: bool) -> None:
    """A portability audit: on Windows SO_REUSEADDR lets a second server bind a port in use, where the first keeps
    its clients; there the bind must fail as elsewhere (CPython's socket.create_server skips it too)."""
    import socket

    assert (os.name != "nt") == cli.REUSE_ADDRESS
    monkeypatch.setattr(cli, "REUSE_ADDRESS", reuse)
    with cli.listen("127.0.0.1", 0) as sock:
        assert bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)) == reuse


def test_a_port_refused_to_this_user_is_told_as_the_port_to_change() -> None:
    """A mutation audit: a port under 1024 refused to a user who is not root (EACCES) is the port's fault, not the
    host's; the tests run as root, so the refusal itself cannot be made here."""
    assert cli._what_to_change(OSError(errno.EACCES, "Permission denied")).startswith("choose another --port")
    assert cli._what_to_change(OSError(errno.EADDRNOTAVAIL, "Cannot assign")).startswith("choose another --host")


def test_a_port_already_taken_is_one_line_and_exit_2() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "zilliz_refresh_mcp", "--demo", "--transport", "http", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == cli.EXIT_CONFIG
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port" in line


def test_a_host_this_machine_cannot_listen_on_is_told_as_the_host_to_change() -> None:
    """A set-up audit: a host name that does not resolve was told to choose another port, the port already 0."""
    done = subprocess.run(
        [sys.executable, "-m", "zilliz_refresh_mcp", "--demo", "--transport", "http", "--host", "box.localhost"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == cli.EXIT_CONFIG
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("zilliz-refresh-mcp: cannot listen on box.localhost:8000: ")
    assert line.endswith(
        "; choose another --host (ZILLIZ_HOST): an address of this machine, or a name that resolves to one"
    )


# --- Ctrl-C in stdio mode: the grace timer's handler, in this process ---------------------------------


@pytest.fixture
def sigint_restored() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def interrupts(
    sigint_restored: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[list[int], list[int], list[threading.Timer]]]:
    """(the exits the handler asked for, the signals the event loop's handler saw, the grace timers it started)."""
    exits: list[int] = []
    seen: list[int] = []
    timers: list[threading.Timer] = []

    class SeenTimer(threading.Timer):
        def start(self) -> None:
            timers.append(self)
            super().start()

    def loops_handler(signum: int, frame: FrameType | None) -> None:  # the event loop's: it cancels the server
        seen.append(signum)

    monkeypatch.setattr(cli, "_exit_now", exits.append)
    monkeypatch.setattr(threading, "Timer", SeenTimer)
    signal.signal(signal.SIGINT, loops_handler)
    yield exits, seen, timers
    for timer in timers:
        timer.cancel()
        timer.join(timeout=10)


def test_ctrl_c_stops_the_server_and_ends_the_process_within_the_grace_period(
    interrupts: tuple[list[int], list[int], list[threading.Timer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exits, seen, timers = interrupts
    monkeypatch.setattr(cli, "INTERRUPT_GRACE_SECONDS", 0.05)
    loops_handler = signal.getsignal(signal.SIGINT)
    with cli._exit_if_interrupt_hangs():
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT]  # stopping starts as the event loop does it
        (timer,) = timers
        timer.join(timeout=10)
        assert exits == [cli.EXIT_INTERRUPTED]  # whatever stopping waits on
    assert signal.getsignal(signal.SIGINT) is loops_handler  # put back: the loop restores its own as it closes


def test_a_second_ctrl_c_ends_the_process_at_once(
    interrupts: tuple[list[int], list[int], list[threading.Timer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping twice cancelled the serving again, and Python's exit then waited on the stdin thread for good."""
    exits, seen, _ = interrupts
    monkeypatch.setattr(cli, "INTERRUPT_GRACE_SECONDS", 60.0)
    with cli._exit_if_interrupt_hangs():
        signal.raise_signal(signal.SIGINT)
        assert exits == []
        signal.raise_signal(signal.SIGINT)
        assert exits == [cli.EXIT_INTERRUPTED] and seen == [signal.SIGINT]


def test_an_ignored_ctrl_c_stays_ignored_and_no_handler_is_set_off_the_main_thread(sigint_restored: None) -> None:
    """A host may start its servers with SIGINT ignored, shielding them from the terminal's Ctrl-C; an embedding
    program may run the server in a thread, where Python refuses to set a handler."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with cli._exit_if_interrupt_hangs():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seen: list[object] = []

    def off_the_main_thread() -> None:
        with cli._exit_if_interrupt_hangs():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=off_the_main_thread)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


@pytest.mark.parametrize("value", ["HTTP", "Http", " http "])
def test_the_transport_is_read_in_any_case_from_the_environment_and_the_flag(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the log level is: ZILLIZ_TRANSPORT=HTTP is http, not "Input should be 'stdio' or 'http'"."""
    monkeypatch.setenv("ZILLIZ_TRANSPORT", value)
    assert load_settings(demo=True).transport == "http"
    monkeypatch.delenv("ZILLIZ_TRANSPORT")
    args = cli.parser().parse_args(["--transport", value.strip()])
    assert load_settings(demo=True, transport=args.transport).transport == "http"


def test_every_flag_of_a_setting_names_its_variable_in_the_help() -> None:
    for action in cli.parser()._actions:
        if action.dest in Settings.model_fields:
            variable = ENV_PREFIX + action.dest.upper()
            assert action.help and action.help.startswith(variable), (action.option_strings, action.help)


def test_a_switch_the_environment_turns_on_a_flag_turns_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags win, also over a switch left on in a host's config: --no-demo, --no-enable-refresh."""
    monkeypatch.setenv("ZILLIZ_DEMO", "true")
    monkeypatch.setenv("ZILLIZ_ENABLE_REFRESH", "true")
    monkeypatch.setenv("ZILLIZ_ALLOW_INSECURE_HTTP", "true")
    argv = ["--no-demo", "--no-enable-refresh", "--no-allow-insecure-http", "--endpoint", "https://x.zillizcloud.com"]
    args = cli.parser().parse_args([*argv, "--token", TOKEN])
    flags = {k: v for k, v in vars(args).items() if v is not None and k != "check"}
    settings = load_settings(**flags)
    assert (settings.demo, settings.enable_refresh, settings.allow_insecure_http) == (False, False, False)
    assert load_settings(demo=None).demo  # without the flag, the variable decides


@pytest.mark.parametrize("origin", ["https://app.example/mcp", "app.example", "https://app.example?x=1"])
def test_an_allowed_origin_that_is_not_an_origin_is_refused_by_name(
    origin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A browser's Origin header is scheme://host[:port]: an entry with a path (or none of that) would match nothing."""
    assert cli.main(["--demo", "--allowed-origin", f"https://ok.example,{origin}"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"configuration error: --allowed-origin: {origin!r} is not an origin" in err
    monkeypatch.setenv("ZILLIZ_MCP_ALLOWED_ORIGINS", origin)
    with pytest.raises(ConfigError, match=r"^ZILLIZ_MCP_ALLOWED_ORIGINS: .* is not an origin"):
        load_settings(demo=True)


def test_allowed_hosts_and_origins_are_written_as_clients_send_them() -> None:
    settings = load_settings(
        demo=True, mcp_allowed_hosts="MCP.Example:*,Other.Example/", mcp_allowed_origins="https://App.Example/"
    )
    assert settings.mcp_allowed_hosts == ["mcp.example:*", "other.example"]
    assert settings.mcp_allowed_origins == ["https://app.example"]


class BoundElsewhere:
    """What ``listen`` returns when a name that reads as loopback resolves to another address of this machine
    (the test binds nothing beyond loopback)."""

    closed = False

    def getsockname(self) -> tuple[str, int]:
        return ("192.0.2.7", 8000)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "with-token-and-hosts"])
def test_a_loopback_name_bound_elsewhere_needs_what_any_other_bind_needs(
    guarded: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bound = BoundElsewhere()
    served: list[object] = []
    monkeypatch.setattr(cli, "listen", lambda host, port: bound)
    monkeypatch.setattr(cli, "serve_http", lambda mcp, settings, sock: served.append(sock))
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)  # leave pytest's logging as it is
    guards = ["--mcp-bearer-token", "t" * 32, "--allowed-host", "box.localhost:8000"] if guarded else []
    code = cli.main(["--demo", "--transport", "http", "--host", "box.localhost", *guards])
    if guarded:
        assert (code, served) == (0, [bound])
        return
    assert code == cli.EXIT_CONFIG
    assert served == [] and bound.closed
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ZILLIZ_MCP_BEARER_TOKEN is required" in err and "(box.localhost, which is 192.0.2.7)" in err


# A child process, as the allocator setting is process-wide: whether the setting took, then the page faults of
# reading five 10,000-job answers as the upstream client does (64 KiB pieces, joined, decoded), after a first one.
_ANSWER_FAULTS = """
import json, resource, sys
from zilliz_refresh_mcp import cli
from zilliz_refresh_mcp.records import decode_list_records
from zilliz_refresh_mcp.simulator import bulk_cluster
kept = cli.keep_freed_heap() if sys.argv[1] == "kept" else None
body = json.dumps({"code": 0, "data": {"records": bulk_cluster(10_000).records("default")}}).encode()
def answer():
    pieces = [body[at : at + 65536] for at in range(0, len(body), 65536)]
    return decode_list_records(b"".join(pieces))
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
answer()
counts = []
for _ in range(5):
    before = faults()
    assert len(answer()) == 10_000
    counts.append(faults() - before)
print(kept, sorted(counts)[len(counts) // 2], len(body))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_a_large_answer_reuses_the_memory_of_the_last_one() -> None:
    def faults(mode: str) -> tuple[str, int, int]:
        done = subprocess.run(
            [sys.executable, "-c", _ANSWER_FAULTS, mode], capture_output=True, text=True, timeout=120, check=True
        )
        kept, count, size = done.stdout.split()
        return kept, int(count), int(size)

    # What glibc does by default depends on its earlier allocations (its thresholds adapt): ~1,200 faults an
    # answer in most runs here, next to none in some. With the setting, next to none. The median of five answers:
    # the kernel's own faults (NUMA balancing samples pages by unmapping them) hit one answer now and then.
    kept, count, size = faults("kept")
    assert kept == "True"
    assert count < size // resource.getpagesize()  # the pages of the first answer serve the next five


def test_without_ctypes_or_mallopt_the_server_starts_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python built without ctypes, or a C library without mallopt (musl): nothing to set, and no error."""
    monkeypatch.setitem(sys.modules, "ctypes", None)  # import ctypes now raises ImportError
    assert cli.keep_freed_heap() is False
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cli.keep_freed_heap() is False


# An audit of set-up: each of these started a server that failed at its first call, or served where it should not.


@pytest.mark.parametrize("setting", ["token", "mcp_bearer_token"])
@pytest.mark.parametrize("command", ["$(openssl rand -hex 32)", "`cat ~/.zilliz-key`", "db_admin:$(cat pw)"])
def test_a_shell_command_nothing_ran_is_refused_as_a_key_or_bearer_token(setting: str, command: str) -> None:
    """README's own advice, `$(openssl rand -hex 32)`, pasted into a host's env block, a .env file or a systemd unit:
    taken as it is, it guarded a server open to the network with a token printed in the README."""
    values = {setting: command} | ({"demo": True, "transport": "http"} if setting != "token" else {})
    with pytest.raises(ConfigError) as refused:
        load_settings(cluster_endpoint=None if setting != "token" else "https://x.zillizcloud.com", **values)
    assert str(refused.value).startswith(f"{ENV_PREFIX}{setting.upper()}: is a shell command that nothing ran")
    assert "cat" not in str(refused.value) and "openssl" not in str(refused.value)  # the value is not echoed


def test_a_password_that_holds_a_dollar_and_parentheses_inside_is_taken() -> None:
    token = "db_admin:pa$(ss)word"
    assert load_settings(cluster_endpoint="https://x.zillizcloud.com", token=token).token_value == token


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (f"Authorization: Bearer {TOKEN}", "is a whole header line: give the key alone"),
        (f"authorization:{TOKEN}", "is a whole header line: give the key alone"),
        (f'"{TOKEN}', "starts or ends with a stray quote"),
        (f"{TOKEN}\u2019", "starts or ends with a stray quote"),
    ],
)
def test_a_key_pasted_with_a_header_name_or_one_quote_is_refused(token: str, problem: str) -> None:
    """Taken, the first read as user:password and the second as a key with a quote: the cluster refused both."""
    with pytest.raises(ConfigError) as refused:
        load_settings(cluster_endpoint="https://x.zillizcloud.com", token=token)
    assert str(refused.value) == f"ZILLIZ_TOKEN: {problem}" + (
        ": give the key without it" if "quote" in problem else "; the server sends the Authorization header"
    )


def test_blank_variables_are_unset_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hosts, templates and compose files leave optional variables "": ZILLIZ_HOST= bound every address."""
    for name in ("HOST", "PORT", "LOG_LEVEL", "TIMEOUT_SECONDS", "MAX_ATTEMPTS", "DEMO", "TRANSPORT", "DB_NAME"):
        monkeypatch.setenv(ENV_PREFIX + name, "")
    settings = load_settings(demo=True)
    defaults = Settings.model_fields
    for name in ("host", "port", "log_level", "timeout_seconds", "max_attempts", "transport", "db_name"):
        assert getattr(settings, name) == defaults[name].default, name
    monkeypatch.setenv("ZILLIZ_HOST", "  ")  # blanks too (a review: they stopped a server serving stdio)
    assert load_settings(demo=True).host == defaults["host"].default


def test_an_empty_host_flag_is_refused_and_a_bracketed_ipv6_host_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--demo", "--transport", "http", "--host", ""]) == cli.EXIT_CONFIG
    assert capsys.readouterr().err == (
        "zilliz-refresh-mcp: configuration error: --host: is empty: give an address to listen on, such as "
        "127.0.0.1 (the default)\n"
    )
    assert load_settings(demo=True, transport="http", host="[::1]").host == "::1"  # the socket takes it bare


@pytest.mark.parametrize(
    "entry", ["https://mcp.example:8000", "mcp.example:8000/mcp", "http://mcp.example/", "http://[::1/mcp"]
)
def test_an_allowed_host_with_a_scheme_or_a_path_is_refused(entry: str) -> None:
    """A Host header is host[:port]: such an entry matched nothing, and every client got 421."""
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True, transport="http", mcp_allowed_hosts=[entry])
    host = entry.removeprefix("https://").removeprefix("http://").split("/")[0]
    assert str(refused.value) == (
        f"ZILLIZ_MCP_ALLOWED_HOSTS: {entry!r} is not a host: write host[:port] as clients send it in the Host "
        f"header, with no scheme or path ({host})"
    )
    assert load_settings(demo=True, transport="http", mcp_allowed_hosts=["MCP.example:8000/"]).mcp_allowed_hosts == [
        "mcp.example:8000"
    ]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("https://a.example:0", "has an invalid port (1-65535)"),
        ("http://localhost:0", "has an invalid port (1-65535)"),
        (
            "http://::1:19530",
            "names an IPv6 address without brackets: write it as http://[address]:port, e.g. http://[::1]:19530",
        ),
    ],
)
def test_an_endpoint_on_port_0_or_an_ipv6_address_without_brackets_is_refused(endpoint: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(cluster_endpoint=endpoint, token=TOKEN)
    assert str(refused.value) == f"ZILLIZ_CLUSTER_ENDPOINT: {problem}"
    assert load_settings(cluster_endpoint="http://[::1]:19530", token=TOKEN).cluster_endpoint == "http://[::1]:19530"


@pytest.mark.parametrize("name", ["TIMEOUT_SECONDS", "RATE_LIMIT_PER_SECOND", "POLL_INTERVAL_SECONDS"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused_as_such(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """NaN was refused as "should be less than or equal to 600"."""
    monkeypatch.setenv(ENV_PREFIX + name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True)
    assert str(refused.value) == f"{ENV_PREFIX}{name}: Input should be a finite number"


def test_a_variable_that_is_no_setting_is_told_with_the_one_meant() -> None:
    """A typo in a host's env block left the default standing, unnoticed; another tool's name for the key stopped
    the server with "ZILLIZ_TOKEN is required", not saying that the key was there under another name."""
    typos = serve_stdio_with(ZILLIZ_DEMO="true", ZILLIZ_ENABLE_REFRESHH="true", zilliz_timeout="5", ZILLIZ_REGION="eu")
    assert typos.returncode == 0, typos.stderr
    assert typos.stdout == ""
    assert [line.partition(" WARNING zilliz_refresh_mcp: ")[2] for line in typos.stderr.strip().splitlines()] == [
        "ZILLIZ_ENABLE_REFRESHH is not a setting of this server, and is ignored: did you mean ZILLIZ_ENABLE_REFRESH?",
        "ZILLIZ_REGION is not a setting of this server, and is ignored",
        "ZILLIZ_TIMEOUT is not a setting of this server, and is ignored: did you mean ZILLIZ_TIMEOUT_SECONDS?",
    ]
    other_name = serve_stdio_with(ZILLIZ_CLUSTER_ENDPOINT="https://x.zillizcloud.com", ZILLIZ_CLOUD_API_KEY=TOKEN)
    assert other_name.returncode == cli.EXIT_CONFIG
    assert other_name.stderr == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_TOKEN is required (or --token); ZILLIZ_CLOUD_API_KEY is "
        "set, but this server reads ZILLIZ_TOKEN\n"
    )
    # A likeness of spelling is a guess: a warning, never the answer beside the error (a review: ZILLIZ_CLUSTER_ID
    # was offered as the endpoint). Another tool's name for the key is the key, whatever it is spelled like.
    guessed = serve_stdio_with(ZILLIZ_CLUSTER_ID="in03-abc", ZILLIZ_CLUSTER_TOKEN=TOKEN)
    assert guessed.stderr.splitlines()[0] == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_CLUSTER_ENDPOINT is required (or --endpoint); use --demo to "
        "try the server without one"
    )
    endpoint = serve_stdio_with(ZILLIZ_CLUSTER_ENDPOINT="https://x.zillizcloud.com", ZILLIZ_CLUSTER_TOKEN=TOKEN)
    assert endpoint.stderr == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_TOKEN is required (or --token); ZILLIZ_CLUSTER_TOKEN is "
        "set, but this server reads ZILLIZ_TOKEN\n"
    )
    # A misspelling is the answer beside an error that asks for the variable meant (a set-up audit: the error named
    # ZILLIZ_TOKEN, which the user thought set), and beside one that names it as the way out.
    misspelt = serve_stdio_with(ZILLIZ_CLUSTER_ENDPOINT="https://x.zillizcloud.com", ZILLIZ_TOKN=TOKEN)
    assert misspelt.stderr == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_TOKEN is required (or --token); ZILLIZ_TOKN is set: did you "
        "mean ZILLIZ_TOKEN?\n"
    )
    insecure = serve_stdio_with(
        ZILLIZ_CLUSTER_ENDPOINT="http://10.1.2.3:19530", ZILLIZ_TOKEN=TOKEN, ZILLIZ_ALLOW_INSECURE="1"
    )
    assert insecure.stderr.endswith(
        "for a private network; ZILLIZ_ALLOW_INSECURE is set: did you mean ZILLIZ_ALLOW_INSECURE_HTTP?\n"
    )
    # ZILLIZ_ENDPOINT is another tool's name, not a likeness of spelling (0.67): the answer, as ZILLIZ_CLUSTER_TOKEN is.
    named = serve_stdio_with(ZILLIZ_ENDPOINT="https://x.zillizcloud.com", ZILLIZ_TOKEN=TOKEN)
    assert named.stderr == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_CLUSTER_ENDPOINT is required (or --endpoint); "
        "ZILLIZ_ENDPOINT is set, but this server reads ZILLIZ_CLUSTER_ENDPOINT\n"
    )
    # The setting meant, given by its flag, is set: the other name is no answer to its error.
    flagged = serve_stdio_with("--endpoint", "http://10.1.2.3:19530", ZILLIZ_TOKEN=TOKEN, ZILLIZ_URL="x")
    assert flagged.returncode == cli.EXIT_CONFIG
    assert "ZILLIZ_URL" not in flagged.stderr
    # Beside another error of the setting meant, the variable set is no answer (a review: it pointed the wrong way).
    both = serve_stdio_with(
        ZILLIZ_CLUSTER_ENDPOINT="'https://x.zillizcloud.com'", ZILLIZ_TOKEN=TOKEN, ZILLIZ_CLOUD_URI="x"
    )
    assert both.stderr == (
        "zilliz-refresh-mcp: configuration error: ZILLIZ_CLUSTER_ENDPOINT: is wrapped in quotes: give the URL "
        "without them\n"
    )


def test_a_refused_allowed_host_or_origin_that_reads_as_no_host_is_not_shown() -> None:
    """A review: a base64 token pasted into ZILLIZ_MCP_ALLOWED_HOSTS (its "/" refused as a path) was shown whole,
    and one that was also the bearer token was shown in part, past the 40 characters a message quotes."""
    pasted = "Qm9vbGVhbk5vdGhpbmdUb1NlZUhlcmUx/Zm9vYmFyQmF6UXV4Q29ycmVjdEhvcnNl"
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True, transport="http", mcp_allowed_hosts=[pasted])
    assert str(refused.value) == (
        "ZILLIZ_MCP_ALLOWED_HOSTS: an entry is not a host: write host[:port] as clients send it in the Host header, "
        "with no scheme or path"
    )
    dotted = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtY3AtY2xpZW50LWNyZWRlbnRpYWwifQ.c2lnbmF0dXJl"  # a JWT's shape
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True, transport="http", mcp_bearer_token=dotted, mcp_allowed_origins=[dotted])
    message = str(refused.value)
    assert message.startswith("ZILLIZ_MCP_ALLOWED_ORIGINS: '") and message.endswith(
        "' is not an origin: write scheme://host[:port] with no path, e.g. https://app.example"
    )
    assert all(dotted[at : at + 8] not in message for at in range(len(dotted) - 8))
    with pytest.raises(ConfigError) as refused:
        load_settings(demo=True, transport="http", mcp_allowed_origins=["https://admin:hunter22@app.example/x"])
    assert "hunter22" not in str(refused.value) and "an entry is not an origin" in str(refused.value)
