"""One refresh-job record, from the wire to the answer: reading, checking and rendering it.

Pure functions over plain data: no I/O, no MCP, no clock (callers pass ``now_ms``). ``JobRecord`` is
the public shape of a job (camelCase on the wire: ``jobId``, ``startedAt``...); ``read_record`` checks an
upstream record field by field into ``RecordFields``, ``WireRecord`` is the same check done by msgspec while
decoding a whole list answer (``fields_of`` turns it into ``RecordFields``), and ``render_record`` turns
``RecordFields`` into a ``JobRecord``. What earlier reads of a running job tell of it (``with_no_progress_since``,
``with_earlier_progress``, ``with_observed_pace``: a stall, a restart, an estimate from the pace seen) is here too, and
the strict JSON helpers that upstream.py and stdio.py share. What a record shows of a long failure reason is in
reasons.py; lists, pages and summaries of many records are in jobs.py.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta
from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, PrivateAttr
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from .errors import RecordError
from .reasons import both_ends, listed_reason, record_reason, wire_bytes

PENDING = "RefreshPending"
IN_PROGRESS = "RefreshInProgress"
COMPLETED = "RefreshCompleted"
FAILED = "RefreshFailed"
KNOWN_STATES = (PENDING, IN_PROGRESS, COMPLETED, FAILED)
TERMINAL_STATES = frozenset({COMPLETED, FAILED})

DETAILS_URI_PREFIX = "zilliz://refresh-jobs/"
INT64_MAX = 2**63 - 1
EXACT_IN_A_DOUBLE = 2**53  # integers past it lose digits as a JSON number in JavaScript (a double)
PLAIN_ID = re.compile(r"(?=[_-]*[A-Za-z0-9])[A-Za-z0-9_-]{1,128}")  # with a letter or digit: "-" names no job
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime can hold
CLOCK_SKEW_MS = 60_000  # a time given this far after now is the giver's clock, not a time to come

# Of externalSource / externalSpec: a list shows a usual source whole; a spec of thousands of columns is cut.
SOURCE_CHARS = 1_000
RECORD_SOURCE_CHARS = 20_000
_LISTED = (SOURCE_CHARS, "get_refresh_job shows all of it")  # a source's or a spec's limit in lists, and its note
_SOURCE_DEPTH = 32  # deeper than any real spec; far deeper (256) and the SDK cannot send the answer at all
# A record past these is no cluster's: Milvus names are at most 255 characters, states short words. Shown, one such
# field would outweigh a whole answer (each name appears in the summary, the page and the text).
MAX_NAME_CHARS = 255
MAX_STATE_CHARS = 64
MIN_PROGRESS_TO_ESTIMATE = 5  # whole percents: at 1% the rate may be off by half, at 5% by a sixth


def looks_rounded(job_id: int) -> bool:
    """Whether an id past 2^53 is as JavaScript prints a number: 449503829274509313, read as a double, becomes
    449503829274509312, printed 449503829274509300. (One real id in 64 is a double's exact value: not a sign.)"""
    return job_id > EXACT_IN_A_DOUBLE and job_id == int(Decimal(repr(float(job_id))))


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs"})  # name -> schema, not schemas themselves
_DATA = frozenset({"default", "examples", "const", "enum"})  # values, not schemas


def _compact_schema(node: Any, resolve: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """The same JSON schema, cheaper to validate: ``$ref`` inlined, pydantic's generated titles dropped.

    Clients validate every structuredContent against the outputSchema; resolving ``$ref`` into ``$defs``
    on every job makes the Python SDK's jsonschema about 15% slower on a 20-job answer. The titles
    ("Jobid" for ``jobId``) say nothing the property name does not; without them tools/list is 10%
    shorter. Descriptions stay: they are the documentation.
    """
    if isinstance(node, list):
        return [_compact_schema(item, resolve) for item in node]
    if not isinstance(node, dict):
        return node
    while "$ref" in node:
        node = {**resolve({"$ref": node["$ref"]}), **{key: value for key, value in node.items() if key != "$ref"}}
    # anyOf branches stay as they are: a `type` list is cheaper to validate but less portable (MCP Inspector --strict).
    compact: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _DATA:
            compact[key] = value
        elif key in _SCHEMA_MAPS:
            compact[key] = {name: _compact_schema(sub, resolve) for name, sub in value.items()}
        else:
            compact[key] = _compact_schema(value, resolve)
    return compact


class CamelModel(BaseModel):
    """A model of the output contract: camelCase wire names, and a JSON schema cheap to validate."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return cast(JsonSchemaValue, _compact_schema(schema, handler.resolve_ref_schema))


def _is_none(value: object) -> bool:
    return value is None


class EarlierProgress(CamelModel):
    """How far along an earlier read of this server found a running job that is now less far along."""

    progress: int = Field(description="The highest progress a read found, 0-100.")
    read_at: str = Field(description="ISO-8601 UTC time of the last read that found it there.")


class JobRecord(CamelModel):
    """One refresh job, as the assistant sees it."""

    job_id: str = Field(description="Exact job id as a string (upstream ids exceed 2^53; never a number).")
    collection_name: str | None = Field(description="External collection the job refreshes.")
    state: str = Field(
        description="Upstream state verbatim: RefreshPending, RefreshInProgress, RefreshCompleted, "
        "RefreshFailed (a newer server may add others)."
    )
    progress: int = Field(ge=0, le=100, description="Percent done, 0-100.")
    external_source: dict[str, Any] | str | None = Field(
        description="Where the job reads from: the parsed object when upstream sent JSON, else the raw string."
    )
    external_spec: dict[str, Any] | str | None = Field(
        default=None,
        exclude_if=_is_none,
        description="The (redacted) source spec; present only when the server reports one.",
    )
    started_at: str | None = Field(description="ISO-8601 UTC start time; null when not started.")
    ended_at: str | None = Field(
        description="ISO-8601 UTC end time, as upstream gives it; null while the job has not ended (one given beside "
        "a running or pending state does not end it: the state decides)."
    )
    duration_seconds: float | None = Field(
        description="Ended minus started, or time elapsed since the start for a job not ended (running, or pending "
        "with a start time); null when unknown."
    )
    estimated_end_at: str | None = Field(
        default=None,
        description="For a running job, the end time extrapolated from its progress: at the pace this server saw "
        f"(once two rises it read show {MIN_PROGRESS_TO_ESTIMATE} points over 10 minutes or more), else at its average "
        f"rate since its start; null when neither is known (not running; under {MIN_PROGRESS_TO_ESTIMATE}% done: too "
        "early to tell; no start time, or a start after this server's clock: the cluster's clock is ahead).",
    )
    no_progress_since: str | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Running jobs only, present when the job may have stalled: since when every read of this "
        "server found it at this progress, long enough that its average rate should have moved it (at 100%, over "
        "an hour, its state not ended). estimatedEndAt then assumes it resumes at that rate.",
    )
    earlier_progress: EarlierProgress | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Running jobs only, present when an earlier read of this server found the job further along "
        "than now: the cluster may have started it over.",
    )
    reason: str | None = Field(default=None, description="Failure reason, when upstream gives one.")
    fixed_since: bool | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Failed jobs in a list only: true when a later refresh of the same collection completed "
        "after this failure (history, not the collection's current state).",
    )
    details_uri: str = Field(description="MCP resource URI with this job's details.")
    # Upstream's reason, where ``reason`` holds it cut, and its source and spec: a wait cuts them again as lists do,
    # from the whole, so that both say how many characters they left out. Not part of the answer.
    _whole_reason: str | None = PrivateAttr(default=None)
    _whole_source: dict[str, Any] | str | None = PrivateAttr(default=None)
    _whole_spec: dict[str, Any] | str | None = PrivateAttr(default=None)
    # Since when this server saw the pace ``estimated_end_at`` was made from (None: the average since the start).
    _pace_since: str | None = PrivateAttr(default=None)
    # The steps this server's reads saw it move in (0: none; ``with_steps_seen``), for telling a pause between two
    # from a stall (``may_have_stalled``).
    _steps_seen: int = PrivateAttr(default=0)

    @property
    def pace_since(self) -> str | None:
        """Since when this server saw the pace its estimated end was made from; None: its average since its start."""
        return self._pace_since

    @property
    def steps_seen(self) -> int:
        """The steps this server's reads saw it move in before this one (``with_steps_seen``); 0 when none."""
        return self._steps_seen

    @property
    def has_ended(self) -> bool:
        """Completed or failed; or, in a state this server does not know (a newer cluster's), given an end."""
        return self.state in TERMINAL_STATES or (self.state not in KNOWN_STATES and self.ended_at is not None)

    def as_listed(self) -> JobRecord:
        """This record with its reason, source and spec cut as lists cut them, from upstream's whole values: an
        answer about one job that is not its record (a wait's) stays as small as a list's."""
        reason = self._whole_reason or self.reason
        return self.model_copy(
            update={
                "reason": reason and listed_reason(reason),
                "external_source": _source(self._whole_source or self.external_source, *_LISTED),
                "external_spec": _source(self._whole_spec or self.external_spec, *_LISTED),
            }
        )

    def cut_to(self, chars: int) -> JobRecord:
        """This record with its reason (by its ends), source and spec cut to about ``chars`` characters each, for an
        answer that must stay small; the job's resource keeps more of them."""
        more = "read detailsUri for more"
        half = chars // 2
        gap = f"\n... [{{cut}} more characters cut from the middle; {more}] ...\n"
        return self.model_copy(
            update={
                "reason": self.reason and both_ends(self.reason, half, half, gap),
                "external_source": _source(self.external_source, chars, more),
                "external_spec": _source(self.external_spec, chars, more),
            }
        )


# --- normalization -----------------------------------------------------------------------------


def details_uri(job_id: str) -> str:
    return DETAILS_URI_PREFIX + job_id


@functools.lru_cache(maxsize=1024)  # a listing formats the same instants (starts, ends) call after call
def iso_utc(epoch_ms: int) -> str:
    """Millisecond epoch -> ``2024-04-11T10:40:00Z`` (milliseconds shown only when not zero)."""
    seconds, millis = divmod(epoch_ms, 1000)
    # time.gmtime and strftime: half the cost of datetime arithmetic and isoformat, the same text (years 1970-9999).
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def iso_utc_second(epoch_ms: int) -> str:
    """``iso_utc`` of the second ``epoch_ms`` falls in: a time the server read, told as upstream's times are."""
    return iso_utc(epoch_ms - epoch_ms % 1000)


def epoch_ms(iso: str) -> int:
    """``iso_utc`` undone: an ISO-8601 time -> milliseconds since the epoch."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment - EPOCH) // timedelta(milliseconds=1)


def job_id_text(value: object) -> str:
    """An upstream job id as exact decimal text (or the plain id as given); RecordError when unusable.

    Usable means a later question can name it: an int64 of 0 or more, or a plain id (``job-xxxx``).
    """
    # bool is an int subclass; True is no job id.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return str(value)
    if isinstance(value, float) and value.is_integer() and 0 <= value < EXACT_IN_A_DOUBLE:  # beyond, it was rounded
        return str(int(value))
    if isinstance(value, str) and is_job_id(value.strip()):
        return value.strip()
    raise RecordError(f"jobId should be an int64 of 0 or more, or a plain id, got {_describe(value)}")


def is_job_id(text: str) -> bool:
    """Decimal digits of an int64, or a plain id of letters, digits, '-' and '_' (at most 128 characters, one a
    letter or digit).

    ``-5`` is a negative number, not a plain id."""
    if not PLAIN_ID.fullmatch(text) or is_negative_number(text):
        return False
    return not text.isdigit() or len(text.lstrip("0")) < 19 or int(text) <= INT64_MAX


def is_negative_number(text: str) -> bool:
    """``-`` and decimal digits: "-5"."""
    return text[:1] == "-" and text[1:].isdigit()


def _describe(value: object) -> str:
    """A wrong value, shown to say what it is; a list or an object by its kind only (it may hold anything)."""
    if value is None:
        return "nothing"
    if isinstance(value, list | dict):
        kind = "a list" if isinstance(value, list) else "an object"
        return f"{kind} of {len(value)} item{'' if len(value) == 1 else 's'}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _epoch_ms(raw: Mapping[str, Any], field: str) -> int:
    value = raw.get(field, 0)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 19:
        value = int(value)  # some gateways stringify int64 (19 digits: int() refuses thousands, with ValueError)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{field} should be epoch milliseconds, got {_describe(value)}")
    if not 0 <= value <= MAX_EPOCH_MS:
        raise RecordError(f"{field} is out of range: {value}")
    return value


def _progress(raw: Mapping[str, Any]) -> int:
    value = raw.get("progress", 0)
    if value is None:
        return 0
    if isinstance(value, float) and math.isfinite(value):
        value = math.floor(value)  # 99.6% is not done: rounded up, a running job would read 100%
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"progress should be an integer 0-100, got {_describe(value)}")
    return min(max(value, 0), 100)


def _optional_text(raw: Mapping[str, Any], field: str) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field} should be a string, got {_describe(value)}")
    return value


def stripped(reason: str | None) -> str | None:
    """A reason without the blank lines and spaces around it (a trace ends in a newline); None when only blank:
    "disk full" and "disk full\\n" are one reason, and a reason of only a newline is none."""
    return (reason.strip() or None) if reason else None


def _collection(raw: Mapping[str, Any]) -> str | None:
    name = _optional_text(raw, "collectionName")
    if name is not None and len(name) > MAX_NAME_CHARS:
        raise RecordError(f"collectionName is {len(name)} characters long, more than a Milvus name may be")
    return name


def strict_json(text: str | bytes) -> Any:
    """``json.loads``, refusing what Python reads but JSON has not: NaN, Infinity, a number too large for a float.

    Bytes that are not UTF-8 (or UTF-16/32) are refused, UnicodeDecodeError: ``json.loads`` would read a
    surrogate encoded as if it were a character (``ED B2 80``), and no answer can be written with one.
    """
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text))  # a BOM is dropped here, as json.loads does
    if not text.startswith("\ufeff"):  # json.loads refuses a BOM left in text with its own message
        return _STRICT_DECODER.decode(text)  # json.loads would build this decoder anew on every call
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # Not quoted: its digits are upstream's, and this text reaches messages that are not redacted again.
        raise ValueError("a number is too large to read")
    return value


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _json_field(raw: Mapping[str, Any], field: str) -> dict[str, Any] | str | None:
    """The field as upstream sent it, once its type is checked; ``_source`` reads it on the page."""
    value = raw.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, dict | str):
        return value
    raise RecordError(f"{field} should be a JSON string, got {_describe(value)}")


def as_text(value: Any) -> str:
    """A string as it is; anything else (an object, a list) as its JSON, other alphabets as they are."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _source(value: dict[str, Any] | str | None, limit: int, more: str) -> dict[str, Any] | str | None:
    """externalSource / externalSpec as an answer carries it: a JSON object as the object, anything else as
    sent; as text, cut at ``limit`` characters (``more`` says where the rest is), when longer than that or
    nested deeper than ``_SOURCE_DEPTH``. Fewer characters when they take over twice as many bytes as JSON writes
    them (a control character takes six, a CJK one three), so that a page's sources cannot fill the answer."""
    if value is None:
        return None
    parsed: Any = value
    if isinstance(value, str):
        try:
            parsed = strict_json(value)  # text that is not JSON (NaN is not) is shown as sent
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and "\\u" in value:
            parsed = map_strings(parsed, without_lone_surrogates)
    text = as_text(value)
    most_bytes = 2 * limit
    if isinstance(parsed, dict) and _fits(text, limit, most_bytes) and not _may_nest_deeper(parsed, text):
        return parsed
    if _fits(text, limit, most_bytes):
        return text
    chars = limit
    while chars > 1 and (size := wire_bytes(text[:chars])) > most_bytes:
        chars = min(chars - 1, chars * most_bytes // size)
    return f"{text[:chars]}... [cut at {chars} of {len(text)} characters; {more}]"


def _fits(text: str, chars: int, most_bytes: int) -> bool:
    """Whether ``text`` has at most ``chars`` characters, and takes at most ``most_bytes`` as JSON writes it (as a
    string or, a source's object, as itself: no more)."""
    return len(text) <= chars and (len(text) * 6 <= most_bytes or wire_bytes(text) <= most_bytes)


def _may_nest_deeper(parsed: Any, text: str) -> bool:
    """Whether ``parsed`` (read from ``text``) nests deeper than ``_SOURCE_DEPTH``; text with no more brackets
    than that cannot, and is not walked (a usual source has one or two)."""
    return text.count("{") + text.count("[") > _SOURCE_DEPTH and _nested_deeper(parsed, _SOURCE_DEPTH)


def _nested_deeper(value: Any, depth: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``depth`` levels deep."""
    level: list[Any] = [value]
    for _ in range(depth):
        level = [child for node in level if isinstance(node, dict | list) for child in _children(node)]
        if not level:
            return False
    return any(isinstance(node, dict | list) for node in level)


def _children(node: dict[str, Any] | list[Any]) -> Iterable[Any]:
    return node.values() if isinstance(node, dict) else node


def without_lone_surrogates(text: str) -> str:
    """A lone half of a UTF-16 pair (JSON may escape one: ``"\\ud83d"``) as U+FFFD: it cannot be sent as UTF-8."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def map_strings(value: Any, clean: Callable[[str], str], clean_key: Callable[[str], str] | None = None) -> Any:
    """Parsed JSON with ``clean`` applied to every string, and ``clean_key`` (or else ``clean``) to keys
    (in place; any depth)."""
    clean_key = clean_key or clean
    if isinstance(value, str):
        return clean(value)
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in list(node.items()):
                if isinstance(item, str):
                    node[key] = item = clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
                if isinstance(key, str) and (cleaned := clean_key(key)) != key:
                    del node[key]
                    node[cleaned] = item
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return value


def _estimated_end_ms(state: str, progress: int, start_ms: int, now_ms: int) -> int | None:
    if state != IN_PROGRESS or not MIN_PROGRESS_TO_ESTIMATE <= progress < 100 or not 0 < start_ms < now_ms:
        return None
    elapsed = now_ms - start_ms
    return _whole_seconds_up(max(start_ms + elapsed * 100 // progress, now_ms))


def _whole_seconds_up(estimate_ms: int) -> int:
    """An estimated time in whole seconds, rounded up: an extrapolation has no millisecond precision to show."""
    return min(-(-estimate_ms // 1000) * 1000, MAX_EPOCH_MS // 1000 * 1000)


# Percentage points that a running job's average rate should have added while unmoved: a cluster that reports
# progress in steps of a few points (by file) leaves a healthy job unmoved between two.
STALLED_POINTS = 5
# The least time a list or a read calls a job unmoved for (a wait's own reads, seconds apart, go by points alone).
UNMOVED_SECONDS = 60
# The least span a pace is measured over: a job that moves in bursts (10 points in 3 minutes, then still for 27), read
# every few seconds, would otherwise be told its burst's pace, an end 10 times too early.
PACE_SECONDS = 600
# A running job at 100% can go no further, so an unmoved 100% is a job finishing up; for longer than this, its
# state not ended, it may be stuck.
FINISHING_SECONDS = 3600

# Job id -> the (state, progress) this server read last, and since when (clock ms) every read found it so.
Unmoved = Mapping[str, tuple[tuple[str, int], int]]


def may_have_stalled(job: JobRecord, unmoved_seconds: float) -> bool:
    """Whether a running job that every read over ``unmoved_seconds`` found at its progress should have moved by
    now: at its average rate it would have gained ``STALLED_POINTS`` or more (a 1 s wait on a 30-minute job would
    gain 0.06); or, when this server's reads saw it move in steps of more (``steps_seen``: a cluster that reports
    progress by file, 25 points a file of four), two such steps, or half its progress (unmoved as long as all its
    progress took), if less. Never at 100%, which it cannot pass (``finishing_too_long``)."""
    elapsed = job.duration_seconds or 0
    if job.state != IN_PROGRESS or elapsed <= 0 or job.progress >= 100:
        return False
    points = max(STALLED_POINTS, min(2 * job.steps_seen, job.progress / 2))
    return job.progress * unmoved_seconds / elapsed >= points


def finishing_too_long(job: JobRecord, unmoved_seconds: float) -> bool:
    """Whether a running job at 100% has been read so for longer than ``FINISHING_SECONDS``, its state not ended."""
    return job.state == IN_PROGRESS and job.progress >= 100 and unmoved_seconds > FINISHING_SECONDS


def with_steps_seen(job: JobRecord, paces: Mapping[str, Pace]) -> JobRecord:
    """``job`` with the steps this server's reads saw it move in before (``paces``): the smallest step kept
    (``Pace.least_step``), or a rise after a hold whose own hold is under way, if smaller."""
    pace = paces.get(job.job_id)
    # A rise after a hold whose own hold is under way counts already: a stepped job's second step is no stall.
    steps = min((step for step in (pace.least_step, pace.candidate) if step), default=0) if pace else 0
    if job.state != IN_PROGRESS or 2 * steps <= STALLED_POINTS:
        return job  # no step seen, or steps too small to change what may_have_stalled says
    stepped = job.model_copy()
    stepped._steps_seen = steps
    return stepped


def with_no_progress_since(job: JobRecord, unmoved: Unmoved, now_ms: int) -> JobRecord:
    """``job`` read at ``now_ms``, with ``no_progress_since`` when the reads before (``unmoved``, not yet told of
    this one) found it as it is for long enough that it may have stalled: a list's estimate, made from the average
    rate since the start, moves later at every read of a job that stopped, and says nothing of it."""
    seen = unmoved.get(job.job_id)
    if seen is None or seen[0] != (job.state, job.progress):
        return job
    # A first read before its start (the cluster's clock ahead): unmoved since its start, no more.
    since = max(seen[1], epoch_ms(job.started_at)) if job.started_at is not None else seen[1]
    seconds = (now_ms - since) / 1000
    if seconds < UNMOVED_SECONDS or not (may_have_stalled(job, seconds) or finishing_too_long(job, seconds)):
        return job
    return job.model_copy(update={"no_progress_since": iso_utc_second(since)})  # as times are shown


# (Job id, collection: jobs of two collections may share an id that a gateway rounded) -> the highest progress this
# server read of a running job, when a read last found it there (clock ms), and when the answer of the first read
# that found it there was read (time.perf_counter_ns()).
Highest = Mapping[tuple[str, str | None], tuple[int, int, int]]


def with_earlier_progress(job: JobRecord, highest: Highest, asked: int) -> JobRecord:
    """``job``, read by a request sent at ``asked`` (time.perf_counter_ns()), with ``earlier_progress`` when a read
    before (``highest``, not yet told of this one) found it further along: told as it is, 40% after 60% reads as a
    job that slowed, and its estimate, made anew, as a promise kept. Not from a read answered after this one's request
    was sent: the two overlapped, and this one's answer (a large list, say) may be the older."""
    seen = highest.get((job.job_id, job.collection_name))
    if job.state != IN_PROGRESS or seen is None or job.progress >= seen[0] or seen[2] >= asked:
        return job
    return job.model_copy(
        update={"earlier_progress": EarlierProgress(progress=seen[0], read_at=iso_utc_second(seen[1]))}
    )


@dataclass(frozen=True, slots=True)
class Pace:
    """What this server's reads saw of a running job's progress, for a pace measured between two rises: from a first
    read, a value reached long before (a job at 0% for an hour, a step of 5 points every 10 minutes) would seem fast.

    ``rise``: the first rise seen (the progress, and when the read that first saw it came, clock ms); ``last``: the
    progress last read, first seen at ``reached`` (None: so at the first read, reached when is unknown), by a rise
    of ``step`` points; ``seen``: when a read last found it. Each ``*_window``: how long before the read that saw
    the rise its value may have come (since the read before it), the uncertainty of that end of the pace.
    ``held``: when a read first found ``last`` (``reached``, or the first read). ``least_step``: the smallest rise
    seen between two holds of its values, each as long as the rise took at least (0: none yet): a step the cluster
    reports progress in, or a few of them; ``candidate``: the last rise, after a hold, that waits for the hold after
    it (0: none), and ``candidate_window`` how long it took.
    """

    rise: tuple[int, int] | None
    rise_window: int
    last: int
    reached: int | None
    reached_window: int
    step: int
    seen: int
    held: int
    least_step: int = 0
    candidate: int = 0
    candidate_window: int = 0


def paced(pace: Pace | None, progress: int, now_ms: int) -> Pace:
    """``pace`` with a read at ``now_ms`` that found ``progress``."""
    if pace is None or progress < pace.last:  # the first read, or gone back (restarted upstream): seen anew
        return Pace(
            rise=None, rise_window=0, last=progress, reached=None, reached_window=0, step=0, seen=now_ms, held=now_ms
        )
    if progress == pace.last:
        # A rise that came between two holds, each as long as it took at least: a step of the cluster's. One hold
        # alone is no step: a job that moves smoothly may pause once (a slow file), then rise by the read interval.
        if pace.candidate and now_ms - pace.held >= pace.candidate_window:
            least = min(pace.least_step or pace.candidate, pace.candidate)
            return dataclasses.replace(pace, seen=now_ms, least_step=least, candidate=0)
        return dataclasses.replace(pace, seen=now_ms)
    window, step = now_ms - pace.seen, progress - pace.last
    # The first hold: reads found the value before the rise for no less time than the rise took; not at 0%, where a
    # job sits while it lists its files, or waits for a slot; nor within one instant (two jobs of one id, one list).
    held_before = pace.last > 0 and window > 0 and pace.seen - pace.held >= window
    return Pace(
        rise=pace.rise or (progress, now_ms),
        rise_window=pace.rise_window if pace.rise else window,
        last=progress,
        reached=now_ms,
        reached_window=window,
        step=step,
        seen=now_ms,
        held=now_ms,
        least_step=pace.least_step,
        candidate=step if held_before else 0,
        candidate_window=window,
    )


def with_observed_pace(job: JobRecord, paces: Mapping[str, Pace], now_ms: int) -> JobRecord:
    """``job`` read at ``now_ms``, its estimated end made from the pace this server saw (``paces``, before this
    read), once two rises show ``MIN_PROGRESS_TO_ESTIMATE`` points over ``PACE_SECONDS`` or more. The average since
    the start counts the time a job sat at 0% (listing its files, waiting for a slot): a job that sat long, then
    moved, would be told hours too late, an estimate halved at every read.

    Only a pace measured well: the reads around its two rises no more than a quarter of its span apart (a step seen
    a while after it came would make it seem fast, or slow); and not yet contradicted: no longer than two of its
    last steps would take at that pace since the last rise (a job that stopped would be told "about now" for ever).
    """
    if job.state != IN_PROGRESS or job.ended_at is not None or not 0 < job.progress < 100:
        return job
    pace = paced(paces.get(job.job_id), job.progress, now_ms)
    if pace.rise is None or pace.reached is None:
        return job
    rise_progress, since = pace.rise
    gained, span = job.progress - rise_progress, pace.reached - since
    if gained < MIN_PROGRESS_TO_ESTIMATE or span < PACE_SECONDS * 1000:
        return job
    if (pace.rise_window + pace.reached_window) * 4 > span or (now_ms - pace.reached) * gained > 2 * pace.step * span:
        return job
    estimate = max(pace.reached + span * (100 - job.progress) // gained, now_ms)  # once overdue: any moment now
    seen = job.model_copy(update={"estimated_end_at": iso_utc(_whole_seconds_up(estimate))})
    seen._pace_since = iso_utc_second(since)
    return seen


@dataclass(frozen=True, slots=True)
class RecordFields:
    """One upstream record's fields, each checked for its type; not yet rendered."""

    job_id: str
    state: str
    start_ms: int
    end_ms: int
    progress: int
    collection: str | None
    reason: str | None
    source: dict[str, Any] | str | None
    spec: dict[str, Any] | str | None


def read_record(raw: Mapping[str, Any]) -> RecordFields:
    """Check one upstream record. Raises RecordError, naming the job and the field, when unreadable."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"a job record should be an object, got {_describe(raw)}")
    job_id = job_id_text(raw.get("jobId"))
    state = raw.get("state")
    if not isinstance(state, str) or not state:
        raise RecordError(f"job {job_id}: state should be a non-empty string, got {_describe(state)}")
    if len(state) > MAX_STATE_CHARS:
        raise RecordError(f"job {job_id}: state is {len(state)} characters long, not a state name")
    try:
        return RecordFields(
            job_id=job_id,
            state=state,
            start_ms=_epoch_ms(raw, "startTime"),
            end_ms=_epoch_ms(raw, "endTime"),
            progress=_progress(raw),
            collection=_collection(raw),
            reason=stripped(_optional_text(raw, "reason")),
            source=_json_field(raw, "externalSource"),
            spec=_json_field(raw, "externalSpec"),
        )
    except RecordError as err:
        raise RecordError(f"job {job_id}: {err}") from None


def render_record(
    fields: RecordFields, now_ms: int, *, listed: bool = False, fixed_since: bool | None = None
) -> JobRecord:
    """A checked record as the assistant sees it, its duration and estimate as of ``now_ms``.

    ``listed``: shown among many in a list answer, its reason and source are cut shorter than in the job's
    own resource, and say where the rest is. ``fixed_since``: a list's verdict on a failure (None elsewhere).
    """
    start_ms, end_ms, state = fields.start_ms, fields.end_ms, fields.state
    duration: float | None = None
    # A running or pending job's end time (the API gives 0 until it ends) does not end it: its time runs on.
    ended = end_ms if state not in (IN_PROGRESS, PENDING) else 0
    if start_ms and ended and ended >= start_ms:
        duration = (ended - start_ms) / 1000
    elif start_ms and not ended and state not in TERMINAL_STATES and now_ms >= start_ms:
        duration = float((now_ms - start_ms) // 1000)
    estimate = None if end_ms else _estimated_end_ms(state, fields.progress, start_ms, now_ms)
    limits = _LISTED if listed else (RECORD_SOURCE_CHARS, "not shown here")
    record = JobRecord(
        job_id=fields.job_id,
        collection_name=fields.collection,
        state=state,
        progress=fields.progress,
        external_source=_source(fields.source, *limits),
        external_spec=_source(fields.spec, *limits),
        started_at=iso_utc(start_ms) if start_ms else None,
        ended_at=iso_utc(end_ms) if end_ms else None,
        duration_seconds=duration,
        estimated_end_at=iso_utc(estimate) if estimate is not None else None,
        reason=fields.reason and (listed_reason(fields.reason) if listed else record_reason(fields.reason)),
        fixed_since=fixed_since,
        details_uri=details_uri(fields.job_id),
    )
    if record.reason != fields.reason:
        record._whole_reason = fields.reason
    record._whole_source, record._whole_spec = fields.source, fields.spec
    return record


def normalize_record(raw: Mapping[str, Any], *, now_ms: int) -> JobRecord:
    """One upstream job record as its own resource shows it (the reason cut by ``record_reason``, not
    ``listed_reason`` as lists cut it). RecordError when unreadable."""
    return render_record(read_record(raw), now_ms)


# --- list answers decoded in one pass ------------------------------------------------------------


# The wire names of the documented record fields, by their names here.
_WIRE_NAMES = {
    "job_id": "jobId",
    "start_ms": "startTime",
    "end_ms": "endTime",
    "collection": "collectionName",
    "source": "externalSource",
    "spec": "externalSpec",
}
_EpochMs = Annotated[int, Meta(ge=0, le=MAX_EPOCH_MS)]


class WireRecord(msgspec.Struct, frozen=True, gc=False, rename=_WIRE_NAMES):
    """One upstream record of the documented shape, checked by msgspec while the answer is decoded.

    Every check here is one ``read_record`` makes, so a record reads the same either way; an answer with any
    record off this shape (a string id, a null time, an object source...) is parsed generally instead,
    and ``read_record`` decides. Unknown fields are ignored, as ``read_record`` ignores them.
    """

    job_id: Annotated[int, Meta(ge=0, le=INT64_MAX)]
    state: Annotated[str, Meta(min_length=1, max_length=MAX_STATE_CHARS)]
    start_ms: _EpochMs = 0
    end_ms: _EpochMs = 0
    progress: Annotated[int, Meta(ge=0, le=100)] = 0
    collection: Annotated[str, Meta(max_length=MAX_NAME_CHARS)] | None = None
    reason: str | None = None
    source: str | None = None
    spec: str | None = None


class _ListData(msgspec.Struct, gc=False):
    records: list[WireRecord] | None


class _ListAnswer(msgspec.Struct, gc=False):
    code: Literal[0] = 0
    data: _ListData | None = None


_LIST_ANSWER = msgspec.json.Decoder(_ListAnswer)


class WireRecords(list[WireRecord]):
    """The records of one answer, all decoded and checked by msgspec: ordering can take its fast path."""


def decode_list_records(raw: bytes) -> WireRecords | None:
    """The records of a successful list answer of the documented shape; None for any other answer.

    About twice as fast as parsing the JSON generally and checking each record in Python (10,000
    records: ~10 ms against ~45 ms). None says: parse ``raw`` generally, where errors are explained.
    Only the documented fields are read: an unknown field is skipped whatever it holds, as it is
    never shown (the general path would refuse a number such as 1e400 there).
    """
    try:
        answer = _LIST_ANSWER.decode(raw)
    except (ValueError, RecursionError):  # msgspec.DecodeError, or invalid UTF-8, or nesting too deep
        return None
    if answer.data is None:
        return None  # code 0 without data: the general path says what is wrong
    return WireRecords(answer.data.records or ())


def fields_of(row: WireRecord | RecordFields) -> RecordFields:
    """The fields of either shape of a checked record."""
    if isinstance(row, RecordFields):
        return row
    return RecordFields(
        job_id=str(row.job_id),
        state=row.state,
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        progress=row.progress,
        collection=row.collection or None,
        reason=stripped(row.reason),
        source=row.source or None,
        spec=row.spec or None,
    )
