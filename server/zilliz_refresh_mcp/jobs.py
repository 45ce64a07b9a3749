"""Refresh-job records: normalization, ordering, paging and summaries.

Pure functions over plain data: no I/O, no MCP, no clock (callers pass ``now_ms``).
The pydantic models here are the server's public output contract; their wire names
are camelCase (``jobId``, ``startedAt``...) and the Python names snake_case.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta
from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from .errors import CursorError, InvalidArgument, RecordError

PENDING = "RefreshPending"
IN_PROGRESS = "RefreshInProgress"
COMPLETED = "RefreshCompleted"
FAILED = "RefreshFailed"
KNOWN_STATES = (PENDING, IN_PROGRESS, COMPLETED, FAILED)
TERMINAL_STATES = frozenset({COMPLETED, FAILED})

# Failed first, then running, then waiting: the order in which a person wants to read them.
_STATE_RANK = {FAILED: 0, IN_PROGRESS: 1, PENDING: 2}
_OTHER_RANK = 3

DETAILS_URI_PREFIX = "zilliz://refresh-jobs/"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime can hold
_NAMES_PER_GROUP = 3
# The summary must not grow with the number of jobs: real reasons name a file or a shard and rarely repeat.
_FAILURE_GROUPS = 5
_NAMES_PER_FAILURE = 10
REASON_CHARS = 500  # of a failure reason in lists and waits
# Of a failure reason in one job's record (its resource): a whole stack trace, but not a 2 MB log.
RECORD_REASON_CHARS = 20_000
_MIN_PROGRESS_TO_ESTIMATE = 5  # whole percents: at 1% the rate may be off by half, at 5% by a sixth


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


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return cast(JsonSchemaValue, _compact_schema(schema, handler.resolve_ref_schema))


def _is_none(value: object) -> bool:
    return value is None


class JobRecord(_Model):
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
    ended_at: str | None = Field(description="ISO-8601 UTC end time; null while the job has not ended.")
    duration_seconds: float | None = Field(
        description="Ended minus started, or time elapsed so far for a running job; null when unknown."
    )
    estimated_end_at: str | None = Field(
        default=None,
        description="For a running job, the end time extrapolated from its progress rate; null when unknown.",
    )
    reason: str | None = Field(default=None, description="Failure reason, when upstream gives one.")
    fixed_since: bool | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Failed jobs in a list only: true when a later refresh of the same collection completed "
        "after this failure (history, not the collection's current state).",
    )
    details_uri: str = Field(description="MCP resource URI with this job's details.")

    @property
    def has_ended(self) -> bool:
        """Completed or failed; or, in a state this server does not know (a newer cluster's), given an end."""
        return self.state in TERMINAL_STATES or (self.state not in KNOWN_STATES and self.ended_at is not None)

    def with_short_reason(self) -> JobRecord:
        """This record with its reason cut as lists cut it (``short_reason``)."""
        return self.model_copy(update={"reason": short_reason(self.reason)}) if self.reason else self


class FailureGroup(_Model):
    """Failed jobs that share one reason."""

    reason: str = Field(
        description=f"Upstream's failure reason (cut at {REASON_CHARS} characters). Groups with failures not "
        f"fixed since come first. With more than {_FAILURE_GROUPS} reasons, the last group, "
        '"(N other reasons)", holds the rest.'
    )
    count: int = Field(description="Number of failed jobs in this group (exact).")
    not_fixed: int = Field(
        description="How many of them no later refresh of their collection has completed since: current problems."
    )
    collections: list[str] = Field(description=f"Their collections, in listing order (at most {_NAMES_PER_FAILURE}).")
    refreshed_since: list[str] = Field(
        description="Those of these collections whose every failure here a later refresh completed after: "
        "history, not their current state."
    )


class Completion(_Model):
    """The most recent completed refresh."""

    job_id: str
    collection_name: str | None
    ended_at: str | None


class Summary(_Model):
    """Exact counts over every matching job, and the jobs that matter."""

    total: int = Field(description="Number of matching jobs (all of them, not only this page).")
    by_state: dict[str, int] = Field(description="Upstream state -> number of matching jobs.")
    text: str = Field(description="One or two plain sentences for a person.")
    failures: list[FailureGroup] = Field(
        description=f"Failed jobs grouped by reason, those with failures not fixed since first, then the most "
        f"common; at most {_FAILURE_GROUPS} groups; their counts add up to every failed job."
    )
    last_completed: Completion | None = Field(description="The most recently ended completed job.")
    unreadable: int = Field(
        description="Job records upstream sent that this server could not read (a field of the wrong type): "
        "in no count above; the text names the first problem."
    )


class Page(_Model):
    """Where this answer sits in the full, ordered list of matching jobs."""

    returned: int = Field(description="Jobs in this answer.")
    remaining: int = Field(description="Matching jobs after this page.")
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
    hint: str | None = Field(description="How to get more, when there is more.")


class WaitResult(_Model):
    """The answer of wait_for_refresh_job."""

    finished: bool = Field(
        description="True when the job ended: RefreshCompleted, RefreshFailed, or another state with an end time."
    )
    timed_out: bool = Field(description="True when the wait ran out while the job was still going.")
    waited_seconds: float
    message: str = Field(description="One plain sentence on the outcome.")
    job: JobRecord

    @classmethod
    def ended(cls, job: JobRecord, waited: float) -> WaitResult:
        what = {COMPLETED: "completed", FAILED: "failed"}.get(job.state, f"ended ({job.state})")
        job = job.with_short_reason()
        message = f"Refresh job {job.job_id} ({job.collection_name or '-'}) {what}"
        if job.ended_at:
            message += f" at {job.ended_at}"
        message += f"; reason: {_one_line(job.reason)}." if job.reason else "."
        return cls(finished=True, timed_out=False, waited_seconds=waited, message=message, job=job)

    @classmethod
    def still_running(cls, job: JobRecord, waited: float, trouble: str | None = None) -> WaitResult:
        """The wait ran out; ``trouble`` says why the state shown may be older than the last poll."""
        job = job.with_short_reason()
        message = (
            f"Refresh job {job.job_id} ({job.collection_name or '-'}) has not finished after {waited:g} s: "
            f"{job.state}, {job.progress}%."
        )
        if job.estimated_end_at:
            message += f" Estimated end: {job.estimated_end_at}."
        if trouble:
            message += f" That is the last state read: {trouble}"
        message += " Call wait_for_refresh_job again to keep waiting."
        return cls(finished=False, timed_out=True, waited_seconds=waited, message=message, job=job)


class RefreshStarted(_Model):
    """The answer of refresh_external_collection."""

    job_id: str
    db_name: str
    collection_name: str
    details_uri: str
    message: str


class JobListing(_Model):
    """The answer of list_refresh_jobs."""

    db_name: str
    collection_name: str | None
    states: list[str] | None = Field(description="The state filter applied, or null for all states.")
    as_of: str = Field(description="When upstream was read (ISO-8601 UTC): 'now' for durations and estimates.")
    summary: Summary
    jobs: list[JobRecord] = Field(
        description="Failed first, then in progress, then pending, then the rest; in each, the most recent first "
        "(by end time, else start time)."
    )
    page: Page


# --- normalization -----------------------------------------------------------------------------


def details_uri(job_id: str) -> str:
    return DETAILS_URI_PREFIX + job_id


def iso_utc(epoch_ms: int) -> str:
    """Millisecond epoch -> ``2024-04-11T10:40:00Z`` (milliseconds shown only when not zero)."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    spec = "milliseconds" if epoch_ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def job_id_text(value: object) -> str:
    """An upstream job id as exact decimal text (or the plain id as given); RecordError when unusable."""
    # bool is an int subclass; True is no job id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise RecordError(f"jobId should be a number or a non-empty string, got {_describe(value)}")


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _epoch_ms(raw: Mapping[str, Any], field: str) -> int:
    value = raw.get(field, 0)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)  # some gateways stringify int64
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{field} should be epoch milliseconds, got {_describe(value)}")
    if not 0 <= value <= _MAX_EPOCH_MS:
        raise RecordError(f"{field} is out of range: {value}")
    return value


def _progress(raw: Mapping[str, Any]) -> int:
    value = raw.get("progress", 0)
    if value is None:
        return 0
    if isinstance(value, float) and math.isfinite(value):
        value = round(value)
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


def _json_field(raw: Mapping[str, Any], field: str) -> dict[str, Any] | str | None:
    """The field as upstream sent it, once its type is checked; ``_parsed`` reads it on the page."""
    value = raw.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, dict | str):
        return value
    raise RecordError(f"{field} should be a JSON string, got {_describe(value)}")


def _parsed(value: dict[str, Any] | str | None) -> dict[str, Any] | str | None:
    """A JSON-object string as the object; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return parsed if isinstance(parsed, dict) else value


def _estimated_end_ms(state: str, progress: int, start_ms: int, now_ms: int) -> int | None:
    if state != IN_PROGRESS or not _MIN_PROGRESS_TO_ESTIMATE <= progress < 100 or not 0 < start_ms < now_ms:
        return None
    elapsed = now_ms - start_ms
    estimate = max(start_ms + elapsed * 100 // progress, now_ms)
    # Whole seconds, rounded up: an extrapolation has no millisecond precision to show.
    return min(-(-estimate // 1000) * 1000, _MAX_EPOCH_MS // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class _Fields:
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


def _read(raw: Mapping[str, Any]) -> _Fields:
    """Check one upstream record. Raises RecordError, naming the job and the field, when unreadable."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"a job record should be an object, got {_describe(raw)}")
    job_id = job_id_text(raw.get("jobId"))
    state = raw.get("state")
    if not isinstance(state, str) or not state:
        raise RecordError(f"job {job_id}: state should be a non-empty string, got {_describe(state)}")
    try:
        return _Fields(
            job_id=job_id,
            state=state,
            start_ms=_epoch_ms(raw, "startTime"),
            end_ms=_epoch_ms(raw, "endTime"),
            progress=_progress(raw),
            collection=_optional_text(raw, "collectionName"),
            reason=_optional_text(raw, "reason"),
            source=_json_field(raw, "externalSource"),
            spec=_json_field(raw, "externalSpec"),
        )
    except RecordError as err:
        raise RecordError(f"job {job_id}: {err}") from None


def _render(fields: _Fields, now_ms: int, *, listed: bool = False, fixed_since: bool | None = None) -> JobRecord:
    start_ms, end_ms, state = fields.start_ms, fields.end_ms, fields.state
    duration: float | None = None
    if start_ms and end_ms and end_ms >= start_ms:
        duration = (end_ms - start_ms) / 1000
    elif start_ms and not end_ms and state not in TERMINAL_STATES and now_ms >= start_ms:
        duration = float((now_ms - start_ms) // 1000)
    estimate = None if end_ms else _estimated_end_ms(state, fields.progress, start_ms, now_ms)
    return JobRecord(
        job_id=fields.job_id,
        collection_name=fields.collection,
        state=state,
        progress=fields.progress,
        external_source=_parsed(fields.source),
        external_spec=_parsed(fields.spec),
        started_at=iso_utc(start_ms) if start_ms else None,
        ended_at=iso_utc(end_ms) if end_ms else None,
        duration_seconds=duration,
        estimated_end_at=iso_utc(estimate) if estimate is not None else None,
        reason=fields.reason and (short_reason(fields.reason) if listed else record_reason(fields.reason)),
        fixed_since=fixed_since,
        details_uri=details_uri(fields.job_id),
    )


def normalize_record(raw: Mapping[str, Any], *, now_ms: int) -> JobRecord:
    """Turn one upstream job record into the public record (``record_reason``). RecordError when unreadable."""
    return _render(_read(raw), now_ms)


def short_reason(reason: str) -> str:
    """A failure reason cut to what an answer about many jobs can carry; the job's resource has more of it.

    Real reasons can be stack traces of tens of kB: whole, a dozen of them would flood the assistant's context.
    """
    if len(reason) <= REASON_CHARS:
        return reason
    return f"{reason[:REASON_CHARS]}... [cut: {len(reason)} characters in all; read detailsUri for more]"


def record_reason(reason: str) -> str:
    """A failure reason as one job's record carries it: whole up to RECORD_REASON_CHARS, else both ends.

    A trace names the error at its start and the cause at its end ("Caused by: ..."); the middle repeats frames.
    """
    if len(reason) <= RECORD_REASON_CHARS:
        return reason
    half = RECORD_REASON_CHARS // 2
    cut = len(reason) - 2 * half
    return f"{reason[:half]}\n... [{cut} characters cut from the middle of {len(reason)}] ...\n{reason[-half:]}"


# --- ordering and paging -----------------------------------------------------------------------


_SortKey = tuple[int, int, tuple[int, int, str]]


@dataclass(frozen=True, slots=True)
class _Position:
    """What a cursor remembers: a job's place in the listing order."""

    rank: int
    at: str  # ISO time the job is ordered by (its end, else its start), or "" when it has neither
    job_id: str

    def key(self) -> _SortKey:
        return _sort_key(self.rank, _ms_of(self.at) if self.at else None, self.job_id)


def _sort_key(rank: int, at_ms: int | None, job_id: str) -> _SortKey:
    """The listing order: by state rank; the most recent first, by end, else start (neither: last); then by id.

    By end, so that a long job that failed last night comes before one that started later but failed earlier.
    """
    return (rank, -at_ms if at_ms is not None else 1, _id_key(job_id))


def _ms_of(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _id_key(job_id: str) -> tuple[int, int, str]:
    if job_id.isascii() and job_id.isdigit():
        return (0, -int(job_id), job_id)  # the text breaks ties such as "7" and "007"
    return (1, 0, job_id)


def _position(job: JobRecord) -> _Position:
    return _Position(_STATE_RANK.get(job.state, _OTHER_RANK), job.ended_at or job.started_at or "", job.job_id)


# The wire names of the documented record fields, by their names here.
_WIRE_NAMES = {
    "job_id": "jobId",
    "start_ms": "startTime",
    "end_ms": "endTime",
    "collection": "collectionName",
    "source": "externalSource",
    "spec": "externalSpec",
}
_EpochMs = Annotated[int, Meta(ge=0, le=_MAX_EPOCH_MS)]


class WireRecord(msgspec.Struct, frozen=True, gc=False, rename=_WIRE_NAMES):
    """One upstream record of the documented shape, checked by msgspec while the answer is decoded.

    Every check here is one ``_read`` makes, so a record reads the same either way; an answer with any
    record off this shape (a string id, a null time, an object source...) is parsed generally instead,
    and ``_read`` decides. Unknown fields are ignored, as ``_read`` ignores them.
    """

    job_id: Annotated[int, Meta(ge=0)]
    state: Annotated[str, Meta(min_length=1)]
    start_ms: _EpochMs = 0
    end_ms: _EpochMs = 0
    progress: Annotated[int, Meta(ge=0, le=100)] = 0
    collection: str | None = None
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


# What ordering, paging and the summary read of one record: both shapes have the same field names.
_Row = WireRecord | _Fields


def _fields_of(row: _Row) -> _Fields:
    if isinstance(row, _Fields):
        return row
    return _Fields(
        job_id=str(row.job_id),
        state=row.state,
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        progress=row.progress,
        collection=row.collection or None,
        reason=row.reason or None,
        source=row.source or None,
        spec=row.spec or None,
    )


def _row_key(row: _Row) -> _SortKey:
    return _sort_key(_STATE_RANK.get(row.state, _OTHER_RANK), _when(row) or None, str(row.job_id))


def _readable(raw_records: Sequence[Any]) -> tuple[list[_Row], list[str]]:
    """The records that can be read, and what is wrong with each of the others.

    One odd record (a newer server's field type, a gateway's rewrite) must not hide every other job.
    """
    rows: list[_Row] = []
    problems: list[str] = []
    for raw in raw_records:
        try:
            rows.append(raw if isinstance(raw, WireRecord) else _read(raw))
        except RecordError as err:
            problems.append(str(err))
    return rows, problems


def _name(row: _Row) -> str:
    return row.collection or str(row.job_id)


class _StateGroups:
    """Matching rows split by state rank: failed, in progress, pending, then every other state.

    A group is put in listing order (``_row_key``) only when its order is read: the summary reads the
    first two, a page the groups it reaches. The first page of 10,000 mostly completed jobs sorts a few
    hundred rows, not 10,000.
    """

    def __init__(self, rows: Iterable[_Row], *, integer_ids: bool) -> None:
        self._groups: list[list[_Row]] = [[] for _ in range(_OTHER_RANK + 1)]
        for row in rows:
            self._groups[_STATE_RANK.get(row.state, _OTHER_RANK)].append(row)
        self._sorted = [False] * len(self._groups)
        self._integer_ids = integer_ids
        self.total = sum(map(len, self._groups))

    def rows(self, rank: int) -> list[_Row]:
        """The group's rows, in no particular order."""
        return self._groups[rank]

    def ordered(self, rank: int) -> list[_Row]:
        """The group's rows in listing order."""
        group = self._groups[rank]
        if not self._sorted[rank]:
            if self._integer_ids:
                # The same order from two stable sorts, faster than building a tuple key per row:
                # reverse=True keeps ties in their order, and jobs with neither time (0) go last.
                group.sort(key=attrgetter("job_id"), reverse=True)
                group.sort(key=_when, reverse=True)
            else:
                group.sort(key=_row_key)
            self._sorted[rank] = True
        return group

    def page(self, after: _SortKey | None, limit: int) -> tuple[list[_Row], int]:
        """The first ``limit`` rows after the position ``after`` in listing order, and how many come before."""
        page: list[_Row] = []
        before = 0
        for rank, group in enumerate(self._groups):
            if after is not None and rank < after[0]:
                before += len(group)  # wholly before the position
            elif after is not None and rank == after[0]:
                ordered = self.ordered(rank)
                before += (skip := bisect_right(ordered, after, key=_row_key))
                page += ordered[skip : skip + limit]
            elif group and len(page) < limit:
                page += self.ordered(rank)[: limit - len(page)]
        return page, before


def query_tag(db_name: str, collection_name: str | None, states: Sequence[str] | None) -> str:
    """What a cursor carries of the question it continues: a page of another question would be wrong silently."""
    question = json.dumps([db_name, collection_name or "", sorted(states or ())], separators=(",", ":"))
    return hashlib.blake2b(question.encode(), digest_size=6).hexdigest()


_CURSOR_VERSION = 2  # 1 (no version field) ordered by start time: such a cursor is refused, not misread


def encode_cursor(job: JobRecord, query: str) -> str:
    pos = _position(job)
    payload = json.dumps([_CURSOR_VERSION, pos.rank, pos.at, pos.job_id, query], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query: str) -> _SortKey:
    """The position after which ``cursor`` continues; CursorError unless this server handed it out for ``query``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, rank, at, job_id, tag = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (
            version == _CURSOR_VERSION
            and type(rank) is int
            and 0 <= rank <= _OTHER_RANK
            and isinstance(at, str)
            and isinstance(job_id, str)
            and job_id
            and isinstance(tag, str)
        ):
            raise TypeError
        position = _Position(rank, at, job_id).key()
    except (ValueError, TypeError, RecursionError):  # binascii.Error is a ValueError
        raise CursorError(
            "cursor is not one this server handed out; pass the page.nextCursor value of the previous "
            "answer unchanged, or omit cursor to start from the first page"
        ) from None
    if tag != query:
        raise CursorError(
            "cursor continues a different question (another dbName, collectionName or state); ask again with "
            "the arguments of the answer that gave it, or omit cursor to start from the first page"
        )
    return position


# --- state filters -----------------------------------------------------------------------------

_STATE_ALIASES = {
    "pending": PENDING,
    "queued": PENDING,
    "inprogress": IN_PROGRESS,
    "running": IN_PROGRESS,
    "processing": IN_PROGRESS,
    "completed": COMPLETED,
    "complete": COMPLETED,
    "succeeded": COMPLETED,
    "success": COMPLETED,
    "successful": COMPLETED,
    "failed": FAILED,
    "failure": FAILED,
    "error": FAILED,
    "errored": FAILED,
}
# A state a newer server may add is spelled like the four known ones ("RefreshPaused"), and passes through.
_STATE_SHAPE = re.compile(r"Refresh[A-Z][A-Za-z]*")


def canonical_state(name: str) -> str:
    """``failed``, ``Failed``, ``RefreshFailed``, ``refresh_failed`` -> ``RefreshFailed``; others verbatim.

    Any case and separators (``RefreshFAILED``, ``refresh-complete``); a name that is none of these stays
    as given, and ``state_filter`` lets it through only when it is spelled like a state of a newer cluster.
    """
    folded = name.replace("_", "").replace("-", "").replace(" ", "").lower().removeprefix("refresh")
    return _STATE_ALIASES.get(folded, name)


def state_filter(names: Sequence[str]) -> list[str]:
    """The states a ``state`` argument asks for, canonical and once each; a word that names no state is refused.

    Refused rather than passed through: "done" or "finished" would match nothing, and the answer
    "no refresh jobs in state done" would read as if nothing had finished.
    """
    wanted = list(dict.fromkeys(canonical_state(name) for name in names))
    for state in wanted:
        if state not in KNOWN_STATES and not _STATE_SHAPE.fullmatch(state):
            raise InvalidArgument(
                f"state {state!r} is not a refresh-job state: use RefreshFailed, RefreshInProgress, RefreshPending "
                "or RefreshCompleted (or failed, running, pending, completed); a state that a newer cluster added "
                "goes by its exact name"
            )
    return wanted


# --- summary -----------------------------------------------------------------------------------


def _names(names: Iterable[str]) -> str:
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:_NAMES_PER_GROUP])
    extra = len(unique) - _NAMES_PER_GROUP
    return f"{shown} and {extra} more" if extra > 0 else shown


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _last_completed(completed: list[_Row]) -> _Row | None:
    """The one that ended last (of equals, the first in listing order); None when none says when it ended."""
    ends = list(map(attrgetter("end_ms"), completed))
    latest = max(ends, default=0)
    if not latest:
        return None
    if ends.count(latest) == 1:
        return completed[ends.index(latest)]
    return min((job for job in completed if job.end_ms == latest), key=_row_key)


def _when(row: _Row) -> int:
    """When a job happened, for telling which came later: its end, else its start; 0 when upstream gave neither."""
    return row.end_ms or row.start_ms


def _latest_completions(failed: list[_Row], rows: Sequence[_Row]) -> dict[str, int]:
    """Of each collection with a failure, when its latest completed refresh happened."""
    failing = {row.collection for row in failed if row.collection}
    latest: dict[str, int] = {}
    for row in rows:  # one pass over every row: ~0.6 ms for 10,000
        if (
            row.state == COMPLETED
            and (name := row.collection) in failing
            and (when := _when(row)) > latest.get(name, 0)
        ):
            latest[name] = when
    return latest


def _fixed_since(job: _Row, latest_completions: dict[str, int]) -> bool:
    """A failure that a later refresh of its collection completed after; one with no time at all never is."""
    when = _when(job)
    return bool(when and job.collection and latest_completions.get(job.collection, 0) > when)


def summarize(
    groups: _StateGroups,
    *,
    db_name: str,
    collection_name: str | None,
    states: Sequence[str] | None,
    fixed: set[int],
    unreadable: Sequence[str] = (),
) -> Summary:
    """Exact counts and a short text over every matching job; ``fixed`` holds the ``id()`` of each failed row
    that a later refresh of its collection completed after; ``unreadable``, what is wrong with each record
    that could not be read."""
    failed, running = groups.ordered(_STATE_RANK[FAILED]), groups.ordered(_STATE_RANK[IN_PROGRESS])  # named in order
    pending, rest = groups.rows(_STATE_RANK[PENDING]), groups.rows(_OTHER_RANK)
    total = groups.total
    counts = Counter({FAILED: len(failed), IN_PROGRESS: len(running), PENDING: len(pending)})
    rest_states = list(map(attrgetter("state"), rest))
    counts[COMPLETED] = rest_states.count(COMPLETED)  # C-level; a Counter of 10,000 states takes ~1 ms
    if counts[COMPLETED] != len(rest):
        counts.update(state for state in rest_states if state != COMPLETED)
    by_state = {state: counts.get(state, 0) for state in KNOWN_STATES}
    by_state.update(sorted((state, n) for state, n in counts.items() if state not in by_state))

    scope = f"for {collection_name} in {db_name}" if collection_name else f"in {db_name}"
    noun = "matching refresh job" if states else "refresh job"
    if not total:
        filtered = f" in state {', '.join(states)}" if states else ""
        unknown = [state for state in states or () if state not in KNOWN_STATES]
        note = (
            f" ({', '.join(unknown)}: not a state this server knows; a newer cluster's, or a typo?)" if unknown else ""
        )
        return Summary(
            total=0,
            by_state=by_state,
            text=f"No refresh jobs{filtered} {scope}.{note}{_unreadable_note(unreadable)}",
            failures=[],
            last_completed=None,
            unreadable=len(unreadable),
        )

    parts: list[str] = []
    if failed and fixed:
        current = [job for job in failed if id(job) not in fixed]
        now = f"{len(current)} not fixed since: {_names(map(_name, current))}; " if current else ""
        parts.append(f"{len(failed)} failed ({now}{len(fixed)} fixed by a later refresh)")
    elif failed:
        parts.append(f"{len(failed)} failed ({_names(map(_name, failed))})")
    if running:
        progress = (f"{_name(j)}, {j.progress}%" for j in running)
        shown = "; ".join(list(progress)[:_NAMES_PER_GROUP])
        more = f"; and {len(running) - _NAMES_PER_GROUP} more" if len(running) > _NAMES_PER_GROUP else ""
        parts.append(f"{len(running)} in progress ({shown}{more})")
    if counts[PENDING]:
        parts.append(f"{counts[PENDING]} pending")
    if counts[COMPLETED]:
        parts.append(f"{counts[COMPLETED]} completed")
    parts.extend(f"{n} {state}" for state, n in by_state.items() if state not in KNOWN_STATES)
    text = f"{_plural(total, noun)} {scope}: {', '.join(parts)}."

    last = _last_completed(rest if counts[COMPLETED] == len(rest) else [j for j in rest if j.state == COMPLETED])
    last_ended = iso_utc(last.end_ms) if last is not None else None
    if last is not None:
        text += f" Last completed: {_name(last)} at {last_ended}."

    by_reason: dict[str, list[_Row]] = {}
    for job in failed:
        by_reason.setdefault(short_reason(job.reason) if job.reason else "(no reason given)", []).append(job)

    def not_fixed(members: list[_Row]) -> int:
        return sum(id(job) not in fixed for job in members)

    # Current problems first: a reason that a later refresh fixed everywhere is history, however common.
    ranked = sorted(by_reason.items(), key=lambda item: (-not_fixed(item[1]), -len(item[1])))
    if len(ranked) > _FAILURE_GROUPS:
        rarer = ranked[_FAILURE_GROUPS - 1 :]
        others = sorted((job for _, members in rarer for job in members), key=_row_key)
        ranked = [*ranked[: _FAILURE_GROUPS - 1], (f"({len(rarer)} other reasons)", others)]
    failures = []
    for reason, members in ranked:
        names = list(dict.fromkeys(map(_name, members)))[:_NAMES_PER_FAILURE]
        history = {_name(job) for job in members if id(job) in fixed} - {
            _name(job) for job in members if id(job) not in fixed
        }
        failures.append(
            FailureGroup(
                reason=reason,
                count=len(members),
                not_fixed=not_fixed(members),
                collections=names,
                refreshed_since=[name for name in names if name in history],
            )
        )
    return Summary(
        total=total,
        by_state=by_state,
        text=text + _unreadable_note(unreadable),
        failures=failures,
        last_completed=(
            Completion(job_id=str(last.job_id), collection_name=last.collection or None, ended_at=last_ended)
            if last is not None
            else None
        ),
        unreadable=len(unreadable),
    )


def _unreadable_note(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f" {_plural(len(problems), 'job record')} from the cluster could not be read and "
        f"{'is' if len(problems) == 1 else 'are'} not counted: {_one_line(problems[0])[:200]}{more}."
    )


# --- text rendering ----------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def job_line(job: JobRecord) -> str:
    """One compact line per job for hosts that read only text content."""
    parts = [f"{job.state} {job.collection_name or '-'} job {job.job_id}: {job.progress}%"]
    if job.started_at:
        parts.append(f"started {job.started_at}")
    if job.ended_at:
        parts.append(f"ended {job.ended_at}")
    if job.duration_seconds is not None:
        took = _duration(job.duration_seconds)
        parts.append(
            f"took {took}" if job.ended_at else f"running for {took}" if job.state == IN_PROGRESS else f"{took} ago"
        )
    if job.estimated_end_at:
        parts.append(f"estimated end {job.estimated_end_at}")
    line = ", ".join(parts)
    if job.reason:
        line += f"; reason: {_one_line(job.reason)}"
    elif job.state == FAILED:
        line += "; reason: (none given)"
    if job.fixed_since:
        line += " (fixed since: a later refresh of this collection completed)"
    return "- " + line


def _one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces made single spaces: a text line per job stays one line."""
    return " ".join(text.split())


def listing_text(listing: JobListing) -> str:
    lines = [listing.summary.text]
    lines.extend(job_line(job) for job in listing.jobs)
    if listing.page.hint:
        lines.append(listing.page.hint)
    return "\n".join(lines)


def collection_names(raw_records: Sequence[WireRecord] | Sequence[Any]) -> list[str]:
    """The collections the records name, sorted; records that name none (or are unreadable) are skipped."""
    names = {
        row.collection if isinstance(row, WireRecord) else row.get("collectionName")
        for row in raw_records
        if isinstance(row, WireRecord | dict)
    }
    return sorted(name for name in names if isinstance(name, str) and name)


def build_listing(
    raw_records: Sequence[WireRecord] | Sequence[Any],
    *,
    db_name: str,
    collection_name: str | None,
    states: Sequence[str] | None,
    limit: int,
    cursor: str | None,
    now_ms: int,
) -> JobListing:
    """Check, filter, order, summarize and page one upstream answer; normalize the page's records."""
    wanted = state_filter(states) if states else None
    # Every record is checked, shown or not (WireRecords were checked while decoding); only the page is rendered.
    fast = isinstance(raw_records, WireRecords)
    every_row: Sequence[_Row]
    every_row, unreadable = (raw_records, []) if fast else _readable(raw_records)
    rows = [row for row in every_row if row.state in wanted] if wanted else every_row
    groups = _StateGroups(rows, integer_ids=fast)
    query = query_tag(db_name, collection_name, wanted)
    shown, start = groups.page(decode_cursor(cursor, query) if cursor else None, limit)
    failed = groups.ordered(_STATE_RANK[FAILED])
    completions = _latest_completions(failed, every_row)  # every row: a state filter hides the completions
    fixed = {id(row) for row in failed if _fixed_since(row, completions)}
    page = [
        _render(_fields_of(row), now_ms, listed=True, fixed_since=id(row) in fixed if row.state == FAILED else None)
        for row in shown
    ]
    remaining = groups.total - start - len(page)
    next_cursor = encode_cursor(page[-1], query) if remaining and page else None
    hint = None
    if next_cursor:
        hint = (
            f"Showing {len(page)} of the {groups.total} matching jobs ({remaining} more). To see more, call "
            f'list_refresh_jobs again with the same arguments and cursor="{next_cursor}"'
            + (", or narrow with state=[...] or collectionName." if not wanted else ".")
        )
    return JobListing(
        db_name=db_name,
        collection_name=collection_name,
        states=wanted,
        as_of=iso_utc(now_ms - now_ms % 1000),
        summary=summarize(
            groups, db_name=db_name, collection_name=collection_name, states=wanted, fixed=fixed, unreadable=unreadable
        ),
        jobs=page,
        page=Page(returned=len(page), remaining=remaining, next_cursor=next_cursor, hint=hint),
    )
