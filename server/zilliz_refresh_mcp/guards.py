"""Guards on what callers send, and on what leaves: every ``tools/call`` is checked before its tool runs, and every
answer after, for the cluster's key.

``ArgumentGuard`` is server middleware (``mcp.middleware.append(ArgumentGuard(mcp))``). It refuses

- an argument the tool's input schema does not declare (``{"database": "x"}``): the SDK would
  silently ignore it, and the model would believe its filter applied;
- a string longer than the schema allows, or than ``MAX_STRING_CHARS`` where the schema sets no
  limit (nothing here needs more, and whatever a tool echoes back stays small);
- an argument of the wrong type (``dbName: 5``, ``limit: "x"``), validated exactly as the tool
  itself validates, but reported as one plain sentence per argument instead of pydantic's dump;
  and a boolean where a number is expected (``limit: true``), which the tool would read as 1;
- ``arguments`` that are not an object (a list, a number, other text). None, or an empty list (PHP's ``[]``), are
  read as no arguments, and the JSON text of an object, which some hosts send, as that object.

A refusal is a tool error (``isError: true``) that names the argument, says what was wrong, and
lists what the tool takes, so that a model can correct its call; nothing reaches upstream. A prompt that
does not exist, or is asked for with an argument it does not declare, is refused too, by name, but as a
protocol error (invalid params): ``prompts/get`` has no error result of its own.
Other requests pass through untouched.

``OutputGuard`` is server middleware too (``mcp.middleware.append(OutputGuard(token))``): whatever a tool, a resource,
a prompt or a completion answers, and the message of any error they raise, is cleaned of the key
(``redaction.redact_output``) on its way out, in whatever form upstream's words carried it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, SERVER_INFO_META_KEY, CallToolResult, TextContent
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from .arguments import as_read
from .errors import shortened
from .records import EXACT_IN_A_DOUBLE
from .redaction import output_may_show, redact, redact_output

MAX_STRING_CHARS = 4096
_SHOWN_CHARS = 40
_JSON = msgspec.json.Encoder(enc_hook=str)  # ~10x faster than json.dumps on a result: it runs on every answer
# What answers with words of the cluster's in them: the rest (initialize, the lists of tools...) are this server's own.
_ANSWERS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


class OutputGuard:
    """Server middleware that cleans every answer and error message of the cluster's key before it leaves."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in _ANSWERS or not self._secret:
            return await call_next(ctx)
        try:
            result = await call_next(ctx)
        except MCPError as err:
            message = redact(err.message, self._secret)
            if message == err.message:
                raise
            raise MCPError(code=err.code, message=message, data=redact_output(err.data, self._secret)) from None
        if isinstance(result, BaseModel):
            if not output_may_show(result.model_dump_json(by_alias=True), self._secret):
                return result
            # Rebuilt as the same model, not sent as a dict: the SDK serializes it as it would have.
            return type(result).model_validate(redact_output(result.model_dump(by_alias=True), self._secret))
        if result is None or not output_may_show(_JSON.encode(result).decode(), self._secret):
            return result
        cleaned: dict[str, Any] = redact_output(result, self._secret)
        return cleaned


class ArgumentGuard:
    """Server middleware that refuses unknown, oversized or mistyped tool (and prompt) arguments, saying why."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        if ctx.method not in ("tools/call", "prompts/get") or not isinstance(params, Mapping):
            return await call_next(ctx)
        arguments = _as_object(params.get("arguments"))
        if arguments is not params.get("arguments"):
            params = {**params, "arguments": arguments}
            ctx = dataclasses.replace(ctx, params=params)
        if ctx.method == "prompts/get":
            self._check_prompt_arguments(params)
            return await call_next(ctx)
        name = params.get("name")
        tool = self._tool(name)
        if tool is None and isinstance(name, str) and ctx.request_id is not None:
            # The SDK's "Unknown tool: <name>" quotes the whole name (70 kB of it, if sent) and names no other.
            known = self._tool_names()
            meant = _meant(name, known) if len(name) <= 2 * _SHOWN_CHARS else None
            suggestion = f" (did you mean {meant}?)" if meant else ""
            return self._refused(ctx, f"Unknown tool {_show(name)}{suggestion}; this server has: {', '.join(known)}.")
        if tool is None or ctx.request_id is None:
            return await call_next(ctx)  # a malformed request: the SDK's own errors apply
        if not isinstance(arguments, Mapping):
            problem = f"arguments should be an object of names and values, got {_not_an_object(arguments)}"
            text = f"Invalid arguments for {tool.name}: {problem}. {describe_arguments(tool.parameters)}"
            return self._refused(ctx, text)
        problems = self.problems(tool, arguments)
        if not problems:
            return await call_next(ctx)
        text = f"Invalid arguments for {tool.name}: {_listed(problems)}. {describe_arguments(tool.parameters)}"
        return self._refused(ctx, text)

    def _refused(self, ctx: ServerRequestContext[Any, Any], text: str) -> dict[str, Any]:
        """A tool's error result saying ``text``, as the SDK would have sent it in this protocol version."""
        result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            dumped.pop("resultType", None)  # a 2026-07-28 field; handshake-era results do not carry it
        elif (stamp := getattr(getattr(self._server, "_lowlevel_server", None), "server_info_stamp", None)) is not None:
            # A 2026-07-28 result names its server; the SDK stamps only the results that pass through it.
            dumped["_meta"] = {SERVER_INFO_META_KEY: stamp}
        return dumped

    def _check_prompt_arguments(self, params: Mapping[str, Any]) -> None:
        """Arguments that are not an object, or one the prompt does not declare, are refused saying why; the SDK would
        say only that rendering failed."""
        manager = getattr(self._server, "_prompt_manager", None)
        name = params.get("name")
        if not isinstance(name, str):
            return  # the SDK's own invalid-params error (a name that is a list made its lookup crash)
        prompt = getattr(manager, "get_prompt", lambda _: None)(name)
        if prompt is None and manager is not None:  # the SDK: an internal error
            known = ", ".join(p.name for p in manager.list_prompts()) or "none"
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt {_show(name)}; this server has: {known}.")
        arguments = params.get("arguments")
        if not isinstance(prompt, Prompt):
            return
        if not isinstance(arguments, Mapping):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Invalid arguments for {prompt.name}: arguments should be an object of names and string "
                f"values, got {_not_an_object(arguments)}.",
            )
        declared = [argument.name for argument in prompt.arguments or ()]
        unknown = [_unknown(key, declared) for key in arguments if key not in declared]
        if unknown:
            takes = ", ".join(declared) or "no arguments"
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Invalid arguments for {prompt.name}: {_listed(unknown)}. This prompt takes: {takes}.",
            )

    def _tool(self, name: object) -> Tool | None:
        if not isinstance(name, str):
            return None
        # mcp 2.3 has no public lookup of a registered tool; the registry's get_tool is the SDK's own path.
        manager = getattr(self._server, "_tool_manager", None)
        tool = getattr(manager, "get_tool", lambda _: None)(name)
        return tool if isinstance(tool, Tool) else None

    def _tool_names(self) -> list[str]:
        manager = getattr(self._server, "_tool_manager", None)
        return sorted(tool.name for tool in getattr(manager, "list_tools", list)())

    def problems(self, tool: Tool, arguments: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``arguments`` for ``tool``, one sentence each; empty when they are fine."""
        if not arguments and not tool.parameters.get("required"):
            return []  # nothing given, nothing required: the defaults stand, and the SDK validates them anyway
        properties: dict[str, Any] = tool.parameters.get("properties", {})
        problems = [_unknown(key, properties) for key in arguments if key not in properties]
        for key, value in arguments.items():
            if key in properties:
                problems += self._too_long(key, value, properties[key])
                if isinstance(value, bool) and not _takes_boolean(properties[key]):
                    # pydantic reads true as 1 and false as 0: "limit": true would list one job.
                    problems.append(f"{key}: expected {_type_name(properties[key])}, got {_show(value)}")
        if problems:
            return problems
        try:
            tool.fn_metadata.validate_arguments(dict(arguments))
        except ValidationError as err:
            return [_explain(error) for error in err.errors(include_url=False)]
        except Exception:  # noqa: S110 - a crashing validator is the tool's to report, not ours
            pass
        return []

    def _too_long(self, key: str, value: Any, schema: Mapping[str, Any]) -> list[str]:
        limit = _max_length(schema) or MAX_STRING_CHARS
        if isinstance(value, str):
            value = as_read(value)  # as the tool reads it (blanks, quotes, a detailsUri's prefix dropped); it checks
            return (
                [f"{key} is {len(value)} characters long; at most {limit} are accepted"] if len(value) > limit else []
            )
        if isinstance(value, list):
            item_limit = _max_length(_items(schema)) or MAX_STRING_CHARS
            return [
                f"{key}[{index}] is {len(item)} characters long; at most {item_limit} are accepted"
                for index, item in enumerate(value)
                if isinstance(item, str) and len(item) > item_limit
            ][:3]
        if isinstance(value, dict) and len(json.dumps(value)) > MAX_STRING_CHARS:
            return [f"{key} is larger than {MAX_STRING_CHARS} characters of JSON"]
        return []


# The words a model reaches for when it guesses an argument's name, and the argument each means here: a likeness of
# spelling alone sent "start_time" to state and "size" to since. Tiers, the first with a word in the name decides:
# a page's place ("start_cursor", Stripe's "starting_after"), then what the argument is (database, state, age,
# results), then a word that bounds it ("max", "top_k"), then one that only qualifies ("name", "id", "page").
# None: a thing no argument here names ("cluster_id"), which stops any guess.
_WORD_TIERS: tuple[dict[str, str | None], ...] = (
    {
        **dict.fromkeys(("cursor", "token", "continuation", "offset", "next", "skip", "starting"), "cursor"),
        **dict.fromkeys(("cluster", "region", "project", "user", "password", "key"), None),
    },
    {
        **dict.fromkeys(("since", "after", "start", "started", "from", "date", "hours", "days", "age"), "since"),
        **dict.fromkeys(("latest", "recent", "last", "window", "ended", "newer", "updated", "period"), "since"),
        **dict.fromkeys(("state", "states", "status", "statuses"), "state"),
        **dict.fromkeys(("size", "count", "results", "items", "limit"), "limit"),
        **dict.fromkeys(("db", "dbs", "database", "databases", "schema", "namespace"), "dbName"),
        **dict.fromkeys(("collection", "collections", "table", "coll"), "collectionName"),
        **dict.fromkeys(("timeout", "wait", "seconds", "deadline"), "timeoutSeconds"),
        "uri": "jobId",
    },
    dict.fromkeys(("max", "per", "top", "num", "n", "k"), "limit"),
    {
        "time": "since",
        "name": "collectionName",
        "names": "collectionName",
        "id": "jobId",
        "job": "jobId",
        "page": "cursor",
    },
)
# Words that bound from above: "end_time", "to_date" name no lower bound, which since is.
_UPPER_BOUND = frozenset({"end", "until", "before", "to", "older", "ending"})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _meant(key: str, names: list[str]) -> str | None:
    """The declared name ``key`` stands for: a near spelling of one ("colection_name", "DBName"), else the one its
    words mean, by ``_WORD_TIERS`` (the first declared meaning of the first tier with a word in ``key``), else a
    rougher likeness; None rather than a guess of another thing ("database_id" asked of a tool that takes only
    jobId, "end_time")."""
    folded = {name.casefold().replace("_", ""): name for name in names}
    close = difflib.get_close_matches(key.casefold().replace("_", ""), list(folded), n=1, cutoff=0.85)
    if close:
        return folded[close[0]]
    words = [word.casefold() for word in _WORDS.findall(key)]
    upper = not _UPPER_BOUND.isdisjoint(words)
    for tier in _WORD_TIERS:
        if meanings := [tier[word] for word in words if word in tier]:
            declared = [meaning for meaning in meanings if meaning in names and not (upper and meaning == "since")]
            return declared[0] if declared and None not in meanings else None
    rough = difflib.get_close_matches(key.casefold(), list(folded), n=1, cutoff=0.75)  # "curser"; not "sort"
    return folded[rough[0]] if rough else None


_PROBLEMS_SHOWN = 5


def _listed(problems: list[str]) -> str:
    """The first few ``problems``, and how many more: 20,000 unknown arguments made a refusal of 1 MB."""
    more = f"; and {len(problems) - _PROBLEMS_SHOWN} more" if len(problems) > _PROBLEMS_SHOWN else ""
    return "; ".join(problems[:_PROBLEMS_SHOWN]) + more


def _unknown(key: str, names: Iterable[str]) -> str:
    meant = _meant(key, list(names))
    suggestion = f" (did you mean {meant}?)" if meant else ""
    return f"unknown argument {_show(key)}{suggestion}"


def _explain(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "arguments"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] == "missing":
        return f"{where} is required"
    given = error.get("input")
    if error["type"] == "too_long" and isinstance(error.get("ctx"), dict):
        return f"{where}: at most {error['ctx'].get('max_length')} items, got {error['ctx'].get('actual_length')}"
    if error["type"] == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        if error["loc"] != ("jobId",):  # a state, a name, a time: the number in quotes would be no better
            return f"{where}: expected a string, got the number {given}"
        # A job id sent as a JSON number: say how to send it; past 2^53 a JavaScript host may have rounded it
        # (written with an exponent, 4.495038292745093e+17, it has been).
        if abs(given) > EXACT_IN_A_DOUBLE:
            return (
                f"{where}: expected a string, got the number {given}, which may already have been rounded: "
                "copy the id, a string, from list_refresh_jobs"
            )
        if given < 0 or not float(given).is_integer():  # not an id in quotes either: say where ids come from
            return f"{where}: expected a string, got the number {given}, not a job id: copy one from list_refresh_jobs"
        return f'{where}: expected a string, got the number {given}; pass it in quotes, e.g. "{int(given)}"'
    if error["type"] == "int_from_float":  # pydantic's message already says "got a number with a fractional part"
        return f"{where}: expected an integer, got {_show(given)}"
    return f"{where}: {message}, got {_show(given)}"


def _as_object(arguments: Any) -> Any:
    """A call's arguments as meant: none, or an empty list (PHP's ``json_encode`` of an empty array), for no
    arguments; the JSON text of an object (some hosts send it so) for that object; anything else as it is."""
    if arguments is None or arguments == []:
        return {}
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
        return parsed if isinstance(parsed, dict) else arguments
    return arguments


def _not_an_object(arguments: Any) -> str:
    return "a string that is not a JSON object" if isinstance(arguments, str) else _show(arguments)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(shortened(value, _SHOWN_CHARS))
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    kind = "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
    return kind


def _variants(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = schema.get("anyOf") or schema.get("oneOf")
    return [option for option in options if isinstance(option, Mapping)] if isinstance(options, list) else [schema]


def _takes_boolean(schema: Mapping[str, Any]) -> bool:
    return any(option.get("type") in ("boolean", None) for option in _variants(schema))


def _max_length(schema: Mapping[str, Any]) -> int | None:
    for option in _variants(schema):
        if isinstance(option.get("maxLength"), int):
            return int(option["maxLength"])
    return None


def _items(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    for option in _variants(schema):
        if isinstance(option.get("items"), Mapping):
            return option["items"]  # type: ignore[no-any-return]
    return {}


def _type_name(schema: Mapping[str, Any]) -> str:
    kinds: list[str] = []
    for option in _variants(schema):
        kind = option.get("type")
        if kind == "null" or kind is None:
            continue
        if kind == "array":
            kinds.append(f"list of {_type_name(_items(option))}s")
        elif kind == "integer" and "minimum" in option and "maximum" in option:
            kinds.append(f"integer {option['minimum']}-{option['maximum']}")
        else:
            kinds.append(str(kind))
    return " or ".join(kinds) or "value"


def describe_arguments(input_schema: Mapping[str, Any]) -> str:
    """``This tool takes: dbName (string), limit (integer 1-200), ...`` from a tool's input schema."""
    properties: Mapping[str, Any] = input_schema.get("properties", {})
    required = set(input_schema.get("required", []))
    if not properties:
        return "This tool takes no arguments."
    parts = [
        f"{name} ({_type_name(schema)}{', required' if name in required else ''})"
        for name, schema in properties.items()
    ]
    return "This tool takes: " + ", ".join(parts) + "."
