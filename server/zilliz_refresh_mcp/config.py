"""Settings from the environment (``ZILLIZ_*``) and command-line flags, validated once at start-up.

Flags win over the environment. Secrets are ``SecretStr``: they print as ``**********`` in any repr.
Every problem becomes one ``ConfigError`` line that names the variable to fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, FiniteFloat, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import QUOTED_CHARS, ConfigError, quoted
from .names import check_name

ENV_PREFIX = "ZILLIZ_"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
DEFAULT_HOST = "127.0.0.1"
MIN_BEARER_CHARS = 16  # what guards an HTTP server other machines reach must not be guessable
_HEADER_SAFE = re.compile(r"[\x20-\x7e]+")  # printable ASCII: what an HTTP header value can carry as is
# What README.md's snippets, claude_desktop_config.example.json and server.json hold until the user fills them in.
_PLACEHOLDER_TOKENS = frozenset({"your-api-key"})
_PLACEHOLDER_HOSTS = frozenset(
    {"your-cluster-endpoint", "in03-0123456789abcdef.serverless.aws-eu-central-1.vectordb.zillizcloud.com"}
)
# A host (and port) pasted alone: Zilliz Cloud's console shows the endpoint with https://, Milvus docs host:port.
_LOCAL_HOST = re.compile(r"localhost|\d{1,3}(?:\.\d{1,3}){3}")
_HOST_AND_PORT = re.compile(rf"(?:{_LOCAL_HOST.pattern}|[A-Za-z0-9.-]+\.[A-Za-z]{{2,}})(?::\d+)?(?:/\S*)?")


# Quotes a shell or JSON snippet keeps, and the typographic ones a word processor or chat window makes of them.
_OPENING_QUOTES, _CLOSING_QUOTES = "\"'\u201c\u2018\u201d\u2019", "\"'\u201d\u2019\u201c\u2018"
# A host's reference to a value it fills in (VS Code's ${input:...}, ${env:...}), or a shell's ($ZILLIZ_TOKEN):
# left as it is by a host that fills in none (Claude Desktop, or a snippet copied from another host's).
_REFERENCE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
# A key's: whole, or a login's password in braces (``db_admin:${input:pw}``; a password may begin with "$").
_KEY_REFERENCE = re.compile(rf"(?:[^:]*:\$\{{[^}}]*\}})|{_REFERENCE.pattern}")
# A bearer token's: one the user chose may begin with "$" ("$Correct_Horse..."), but not name a variable in capitals.
_BEARER_REFERENCE = re.compile(r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*")
# A shell's command substitution, $(openssl rand -hex 32) or `cat key`, that nothing ran: a host's env block, a .env
# file or a systemd unit pass it on as it is written. Whole, or as a login's password.
_COMMAND = re.compile(r"(?:[^:]*:)?(?:\$\(.*\)|`.*`)", re.DOTALL)
# Not the reference itself: where it stood in a value, the value may hold a password beside it.
_UNFILLED = "is a reference to a value that the host did not fill in (${input:...}, ${env:...} or $NAME): "
# What a template's placeholder is written with: https://{cluster-id}.{region}..., https://<cluster-id>...
_TEMPLATE_MARKS = re.compile(r"[{}<>]")


def _in_quotes(text: str) -> bool:
    return len(text) >= 2 and text[0] in _OPENING_QUOTES and text[-1] in _CLOSING_QUOTES


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_in_url(host: str) -> str:
    """The host as a URL (and a ``Host`` header) writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def is_project_endpoint(host: str) -> bool:
    """Zilliz Cloud's project endpoint, ``{project-id}.{region}.api.zillizcloud.com``."""
    return host.lower().rstrip(".").endswith(".api.zillizcloud.com")


def api_path_start(path: str) -> int | None:
    """Where ``/v2/vectordb`` (any case) begins in an endpoint's path; None when it holds none (a proxy's prefix)."""
    match = re.search(r"/v2/vectordb(/|$)", path, re.IGNORECASE)
    return match.start() if match else None


def _split_list(value: Any) -> Any:
    """Comma-separated entries, from one string (a variable) or from each of several (a repeated flag)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return value  # pydantic's own error names what is wrong
    return [entry.strip() for item in items for entry in item.split(",") if entry.strip()]


def _host_part(entry: str) -> str:
    """What stands for the host (and port) in an entry of the allowed hosts or origins: its scheme and path aside."""
    return re.split(r"[/?#]", entry.partition("://")[2] or entry, maxsplit=1)[0]


def _shown_entry(entry: str) -> str | None:
    """A refused entry of the allowed hosts or origins as its message shows it: quoted when its host part reads as
    one (dotted, an IPv6 address in brackets, localhost), else None: a key or token pasted there, or a password in
    it, must not be shown."""
    host = _host_part(entry)
    if "@" not in host and ("." in host or host.startswith("[") or host.partition(":")[0].lower() == "localhost"):
        return quoted(entry)
    return None


def _allowed_host(entry: str) -> str:
    """An allowed ``Host`` as clients send it: host names are case-insensitive, but the SDK compares exactly;
    ValueError when it is not one: a ``Host`` header is ``host[:port]``, with no scheme or path, so such an entry
    matches nothing."""
    host = entry.lower().rstrip("/")
    if "://" in host or "/" in host:
        shown = _shown_entry(entry)
        raise ValueError(
            f"{shown or 'an entry'} is not a host: write host[:port] as clients send it in the Host header, with no "
            "scheme or path" + (f" ({_host_part(host)})" if shown else "")
        )
    return host


def _allowed_origin(entry: str) -> str:
    """An allowed origin as browsers send it, lower-case and with no trailing slash; ValueError when it is not
    one: an ``Origin`` header is ``scheme://host[:port]`` and never carries a path, so such an entry matches nothing."""
    origin = entry.lower().rstrip("/")
    try:
        parts = urlsplit(origin)
    except ValueError:  # an unbalanced bracket of an IPv6 address
        parts = urlsplit("")
    if not parts.scheme or not parts.netloc or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"{_shown_entry(entry) or 'an entry'} is not an origin: write scheme://host[:port] with no path, e.g. "
            "https://app.example"
        )
    return origin


class Settings(BaseSettings):
    """Everything the server needs to run; see the README's configuration table."""

    # A blank variable is an unset one: hosts' env blocks, templates and compose files leave optional ones "".
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    cluster_endpoint: str | None = Field(default=None, description="Cluster or project endpoint URL.")
    token: SecretStr | None = Field(default=None, description="API key or user:password.")
    db_name: str = Field(default="default", description="Database used when a call names none.")
    timeout_seconds: FiniteFloat = Field(default=30.0, gt=0, le=600, description="Per-request upstream timeout.")
    max_attempts: int = Field(default=4, ge=1, le=10, description="Attempts per upstream call (1 = no retry).")
    rate_limit_per_second: FiniteFloat = Field(default=20.0, gt=0, le=1000, description="Upstream requests/s.")
    max_response_mb: int = Field(default=32, ge=1, le=1024, description="Largest upstream answer accepted.")
    allow_insecure_http: bool = Field(default=False, description="Accept http:// for non-loopback hosts.")
    enable_refresh: bool = Field(default=False, description="Offer the refresh_external_collection tool.")
    poll_interval_seconds: FiniteFloat = Field(
        default=2.0, gt=0, le=60, description="Interval between polls of a watched job; first interval of a wait."
    )

    demo: bool = Field(default=False, description="Serve a simulated cluster; no credentials needed.")
    transport: Literal["stdio", "http"] = "stdio"
    host: str = DEFAULT_HOST
    port: int = Field(default=8000, ge=0, le=65535)
    mcp_bearer_token: SecretStr | None = Field(default=None, description="Bearer token for the HTTP endpoint.")
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mcp_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    _split_entries = field_validator("mcp_allowed_hosts", "mcp_allowed_origins", mode="before")(_split_list)

    @field_validator("mcp_allowed_hosts")
    @classmethod
    def _normal_hosts(cls, value: list[str]) -> list[str]:
        return [_allowed_host(entry) for entry in value]

    @field_validator("mcp_allowed_origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        return [_allowed_origin(entry) for entry in value]

    @field_validator("host")
    @classmethod
    def _bindable_host(cls, value: str) -> str:
        host = value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # an IPv6 address as a URL writes it: the socket takes it bare
        # Blanks are an unset variable's (env_ignore_empty skips only ""); a blank --host is refused by cli.
        return host or DEFAULT_HOST

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("transport", mode="before")
    @classmethod
    def _lower_transport(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value  # HTTP as http, as log levels take any case

    @field_validator("db_name")
    @classmethod
    def _valid_db(cls, value: str) -> str:
        return check_name(value, "database name")

    @field_validator("token", "mcp_bearer_token")
    @classmethod
    def _valid_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Surrounding whitespace is a copy-paste accident (a key read from a file ends with a newline);
        # an empty value is no value, so that the "required" checks below catch it.
        if value is None or not value.get_secret_value().strip():
            return None
        text = value.get_secret_value().strip()
        # Accepted, these would fail only at the first call, as a refused key that looks right to the user.
        if _in_quotes(text):
            raise ValueError(
                "is wrapped in quotes: give the key without them (a shell or JSON value needs none inside)"
            )
        if (
            info.field_name == "token"
            and ":" not in text
            and (text[0] in _OPENING_QUOTES or text[-1] in _CLOSING_QUOTES)
        ):
            # An API key is letters, digits and dashes; a password (user:password) or a bearer token the user chose
            # may hold any character.
            raise ValueError("starts or ends with a stray quote: give the key without it")
        if _COMMAND.fullmatch(text):
            raise ValueError(
                "is a shell command that nothing ran ($(...) or `...`): a host's env block, a .env file or a systemd "
                "unit pass it on as written; run it and give what it prints"
            )
        reference = _KEY_REFERENCE if info.field_name == "token" else _BEARER_REFERENCE
        if reference.fullmatch(text):
            what = "key" if info.field_name == "token" else "token"
            raise ValueError(
                _UNFILLED + f"give the {what} itself in this host's env block, or use a host that fills in such "
                "references (VS Code: ${input:...})"
            )
        if not _HEADER_SAFE.fullmatch(text):  # the message must not echo the secret
            raise ValueError("contains a character that cannot be sent in an HTTP header (control or non-ASCII)")
        if text[:7].lower() == "bearer ":
            raise ValueError("starts with 'Bearer ': give the key alone; the server sends the Authorization header")
        if text[:14].lower() == "authorization:":
            raise ValueError("is a whole header line: give the key alone; the server sends the Authorization header")
        if text.lower() in _PLACEHOLDER_TOKENS:
            raise ValueError("is still the example's placeholder: copy an API key from the Zilliz Cloud console")
        return SecretStr(text)

    @field_validator("cluster_endpoint")
    @classmethod
    def _valid_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if _in_quotes(value):
            raise ValueError("is wrapped in quotes: give the URL without them")
        if _REFERENCE.fullmatch(value):
            raise ValueError(_UNFILLED + "give the endpoint itself in this host's env block")
        if "@" in urlsplit(value).netloc:
            raise ValueError("put credentials in ZILLIZ_TOKEN, not in the endpoint URL")
        if _TEMPLATE_MARKS.search(value):
            raise ValueError(
                "is still a template's placeholder ({...} or <...>): copy the cluster endpoint from the Zilliz "
                "Cloud console"
            )
        parts = urlsplit(value)
        if parts.hostname in _PLACEHOLDER_HOSTS:
            raise ValueError(
                "is still the example's placeholder: copy the cluster endpoint from the Zilliz Cloud console"
            )
        if "://" not in value and _HOST_AND_PORT.fullmatch(value):
            host = re.split(r"[:/]", value, maxsplit=1)[0]
            if not _LOCAL_HOST.fullmatch(host):
                raise ValueError(f"has no scheme: use https://{value}")
            beyond = (
                "" if is_loopback(host) else " (plain HTTP to another machine also needs ZILLIZ_ALLOW_INSECURE_HTTP)"
            )
            raise ValueError(f"has no scheme: use http://{value}{beyond}")
        if parts.scheme in ("http", "https") and parts.netloc.count(":") > 1 and "[" not in parts.netloc:
            raise ValueError(
                f"names an IPv6 address without brackets: write it as {parts.scheme}://[address]:port, e.g. "
                "http://[::1]:19530"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("is not an http(s) URL such as https://<cluster-id>.<region>.vectordb.zillizcloud.com")
        if parts.query or parts.fragment:
            raise ValueError("the endpoint takes no query or fragment")
        if (cut := api_path_start(parts.path)) is not None:
            # Pasted from the REST reference: every route would go to .../v2/vectordb/v2/vectordb/... and answer 404.
            bare = f"{parts.scheme}://{parts.netloc}{parts.path[:cut]}"
            raise ValueError(
                f"includes the REST API path ({parts.path[cut:]}); the server adds the routes itself: use {bare}"
            )
        try:
            port = parts.port  # raises on a port out of range or not a number
        except ValueError:
            port = 0
        if port == 0:
            raise ValueError("has an invalid port (1-65535)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.demo and (real := [name for name in _REAL_CLUSTER if getattr(self, name) is not None]):
            # Else a ZILLIZ_DEMO left in a host's config would have the assistant report made-up jobs as real.
            # load_settings words it by what the user used, flag or variable; this is for any other caller.
            raise PydanticCustomError(
                _DEMO_CONFLICT,
                demo_conflict(real, from_flags=frozenset()),
                {"real": ",".join(real)},
            )
        if not self.demo:
            if self.cluster_endpoint is None:
                # --demo only where it would be taken: it is refused beside a token.
                raise ValueError(
                    "ZILLIZ_CLUSTER_ENDPOINT is required (or --endpoint)"
                    + ("; use --demo to try the server without one" if self.token is None else "")
                )
            if self.token is None:  # a blank one was made None above
                raise ValueError("ZILLIZ_TOKEN is required (or --token)")
            parts = urlsplit(self.cluster_endpoint)
            if parts.scheme == "http" and not is_loopback(parts.hostname or "") and not self.allow_insecure_http:
                raise ValueError(
                    "ZILLIZ_CLUSTER_ENDPOINT uses plain http:// to a non-loopback host, which would send the token "
                    "in clear; use https://, or set ZILLIZ_ALLOW_INSECURE_HTTP=true (--allow-insecure-http) for a "
                    "private network"
                )
            if is_project_endpoint(parts.hostname or "") and ":" in self.token.get_secret_value():
                raise ValueError(
                    "ZILLIZ_TOKEN is user:password, but ZILLIZ_CLUSTER_ENDPOINT is a project endpoint "
                    "(*.api.zillizcloud.com), which takes an API key only for external-collection jobs: use an "
                    "API key, or the cluster endpoint (https://<cluster-id>.<region>.vectordb.zillizcloud.com)"
                )
        if self.transport == "http" and not is_loopback(self.host) and (problem := self.unguarded(self.host)):
            raise ValueError(problem)
        return self

    def unguarded(self, address: str) -> str | None:
        """What the HTTP server lacks to listen on ``address``, a non-loopback one; None when it lacks nothing.
        Asked of ``host`` here, and of the address the socket was bound to (a name may resolve elsewhere)."""
        if self.mcp_bearer_token is None:
            return (
                "ZILLIZ_MCP_BEARER_TOKEN is required (or --mcp-bearer-token) when the HTTP transport binds "
                f"to a non-loopback address ({address})"
            )
        if len(self.mcp_bearer_token.get_secret_value()) < MIN_BEARER_CHARS:
            return _TOO_SHORT
        if not self.mcp_allowed_hosts:
            return (
                "ZILLIZ_MCP_ALLOWED_HOSTS is required (or --allowed-host) when the HTTP transport binds to "
                f"a non-loopback address ({address}): list the host names clients use, e.g. mcp.example:8000"
            )
        return None

    @property
    def token_value(self) -> str:
        return self.token.get_secret_value() if self.token else ""


# Words of this server's own, no value in them: not blanked where a short token ("server") is one of them.
_TOO_SHORT = (
    "ZILLIZ_MCP_BEARER_TOKEN (--mcp-bearer-token) is too short to guard a server other machines reach: use at least "
    f"{MIN_BEARER_CHARS} random characters, e.g. $(openssl rand -hex 32)"
)
_DEMO_CONFLICT = "demo_conflict"
_REAL_CLUSTER = ("cluster_endpoint", "token")  # the settings that name a real cluster, which --demo refuses
_FLAGS = {"demo": "--demo", "cluster_endpoint": "--endpoint", "token": "--token"}


def demo_conflict(real: list[str], *, from_flags: frozenset[str], from_env: frozenset[str] = frozenset()) -> str:
    """Demo mode refused beside a real cluster's settings, each named as the user gave it: flag or variable; the
    way out undoes each (a flag given over a variable that is also set leaves the variable to undo too)."""

    def variable(setting: str) -> str:
        return ENV_PREFIX + setting.upper()

    def named(setting: str) -> str:
        return _FLAGS[setting] if setting in from_flags else variable(setting)

    given = " and ".join(named(setting) for setting in real)
    flags = [_FLAGS[setting] for setting in real if setting in from_flags]
    variables = [variable(setting) for setting in real if setting not in from_flags or setting in from_env]
    remove = " and ".join(
        ([f"remove {'/'.join(flags)}"] if flags else []) + ([f"unset {' and '.join(variables)}"] if variables else [])
    )
    demo = "--demo" if "demo" in from_flags else "ZILLIZ_DEMO"
    if "demo" not in from_flags:
        drop = "unset ZILLIZ_DEMO (or pass --no-demo)"
    else:
        drop = "drop --demo and unset ZILLIZ_DEMO" if "demo" in from_env else "drop --demo"
    return (
        f"{demo} serves a simulated cluster, but {given} {'name' if len(real) > 1 else 'names'} a real one: "
        f"{drop} to ask the real cluster, or {remove} to try the demo"
    )


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with ``overrides`` (from flags) on top; ConfigError when invalid."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as err:
        from_env = frozenset(name for name in _FLAGS if os.environ.get(ENV_PREFIX + name.upper()))
        raise _without_secrets(_explain(err, from_flags=frozenset(given), from_env=from_env), given) from None


# What only the HTTP transport reads: given beside stdio, the user meant another transport, or left them behind.
HTTP_ONLY_SETTINGS = ("host", "port", "mcp_bearer_token", "mcp_allowed_hosts", "mcp_allowed_origins")
HTTP_ONLY_VARIABLES = frozenset(ENV_PREFIX + setting.upper() for setting in HTTP_ONLY_SETTINGS)


def variables_set() -> set[str]:
    """The names of the environment's variables set, upper-cased (settings read them in any case); a blank one is
    not set."""
    return {name.upper() for name, value in os.environ.items() if value.strip()}


def http_only_variables() -> list[str]:
    """The HTTP transport's variables set in the environment, in the order of ``HTTP_ONLY_SETTINGS``."""
    given = variables_set()
    return [ENV_PREFIX + setting.upper() for setting in HTTP_ONLY_SETTINGS if ENV_PREFIX + setting.upper() in given]


# Names other tools and docs give these settings (pymilvus examples read ZILLIZ_CLOUD_URI and ZILLIZ_CLOUD_API_KEY),
# without the prefix: the same setting, surely. A typo of a setting's own name is found by likeness, less surely.
_OTHER_NAMES = {
    "URI": "CLUSTER_ENDPOINT",
    "URL": "CLUSTER_ENDPOINT",
    "CLOUD_URI": "CLUSTER_ENDPOINT",
    "CLUSTER_URI": "CLUSTER_ENDPOINT",
    "CLUSTER_URL": "CLUSTER_ENDPOINT",
    "API_KEY": "TOKEN",
    "CLOUD_API_KEY": "TOKEN",
    "CLUSTER_TOKEN": "TOKEN",
    "API_TOKEN": "TOKEN",
    "KEY": "TOKEN",
    "DB": "DB_NAME",
    "DATABASE": "DB_NAME",
    "ENDPOINT": "CLUSTER_ENDPOINT",
}


@dataclass(frozen=True)
class UnknownVariable:
    """A ``ZILLIZ_*`` variable set that is no setting of this server: a typo, or another tool's name for one."""

    name: str
    meant: str | None  # the variable it may stand for
    surely: bool  # another tool's name for that very setting, not a likeness of spelling
    likeness: float = 1.0  # of its spelling to the one meant's (difflib's ratio: 1.0 for another tool's name)

    @property
    def misspelt(self) -> bool:
        """A likeness close enough to be the answer beside an error: ZILLIZ_TOKN, not ZILLIZ_CLUSTER_ID."""
        return self.meant is not None and self.likeness >= _MISSPELT

    def warning(self) -> str:
        return f"{self.name} is not a setting of this server, and is ignored" + (
            f": did you mean {self.meant}?" if self.meant else ""
        )


def unknown_variables() -> list[UnknownVariable]:
    """The ``ZILLIZ_*`` variables set that are no settings: settings ignore them, and the default would stand
    unnoticed."""
    import difflib

    known = [name.upper() for name in Settings.model_fields]
    unknown = []
    for name in sorted(variables_set()):
        bare = name.removeprefix(ENV_PREFIX)
        if bare == name or bare in known:
            continue
        meant = _OTHER_NAMES.get(bare) or next(iter(difflib.get_close_matches(bare, known, n=1, cutoff=0.6)), None)
        surely = bare in _OTHER_NAMES
        likeness = 1.0 if surely or meant is None else difflib.SequenceMatcher(None, bare, meant).ratio()
        unknown.append(UnknownVariable(name, ENV_PREFIX + meant if meant else None, surely=surely, likeness=likeness))
    return unknown


_MISSPELT = 0.8  # TOKN for TOKEN: 0.89; ALLOW_INSECURE for ALLOW_INSECURE_HTTP: 0.85; CLUSTER_ID for ...ENDPOINT: 0.69


def over_stdio(names: list[str]) -> str:
    """``names`` (flags or variables) of the HTTP transport, given for a server that serves stdio."""
    joined = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return f"{joined} appl{'y' if len(names) > 1 else 'ies'} only with --transport http (serving over stdio)"


_SECRET_SETTINGS = ("token", "mcp_bearer_token")
# Shorter, a value is no key (refused, or a test's): blanked, its letters would garble every word of the message.
_MIN_SECRET_CHARS = 4


def given_secrets(overrides: dict[str, Any]) -> list[str]:
    """The key and the HTTP bearer token as given, by flag or variable (in any case, as settings read them), and
    as they are once quotes and ``Bearer `` are taken off: what no message may show, before any of it is checked."""
    env = {name.upper(): value for name, value in os.environ.items()}
    given = [str(overrides.get(name) or env.get(ENV_PREFIX + name.upper()) or "") for name in _SECRET_SETTINGS]
    secrets: list[str] = []
    for value in given:
        bare = value.strip().strip(_OPENING_QUOTES + _CLOSING_QUOTES).strip()
        bare = bare[len("bearer ") :].strip() if bare.lower().startswith("bearer ") else bare
        secrets += [form for form in (value, bare) if form.strip() and form not in secrets]
    return secrets


def _without_secrets(error: ConfigError, overrides: dict[str, Any]) -> ConfigError:
    """``error`` with the key and bearer token blanked: another setting's value may hold one (a key pasted into the
    endpoint's path, or into ZILLIZ_DB_NAME)."""
    from .redaction import redact

    problem = error.problem
    if problem == _TOO_SHORT:
        return error
    for secret in given_secrets(overrides):
        # A message shows a refused value cut (``errors.quoted``): the start of a longer secret is blanked too.
        for form in (secret, secret[:QUOTED_CHARS]):
            if len(form.strip()) >= _MIN_SECRET_CHARS:
                problem = redact(problem, form)
    return error if problem == error.problem else ConfigError(problem, setting=error.setting, variable=error.variable)


def _explain(err: ValidationError, *, from_flags: frozenset[str], from_env: frozenset[str]) -> ConfigError:
    first = err.errors(include_url=False, include_input=False)[0]
    if first["type"] == _DEMO_CONFLICT:
        real = str((first.get("ctx") or {})["real"]).split(",")
        return ConfigError(demo_conflict(real, from_flags=from_flags, from_env=from_env))
    problem = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "bool_parsing":  # pydantic's words name no value it takes
        problem = "should be true or false (1 or 0, yes or no, on or off)"
    if not first["loc"]:
        return ConfigError(problem)
    setting = str(first["loc"][0])
    return ConfigError(problem, setting=setting, variable=ENV_PREFIX + setting.upper())
