"""Properties over arbitrary input: names, job ids, record normalization, ordering and paging never surprise.

The pure functions that see caller or upstream data either answer or raise their documented error
(ValueError for names and job ids, RecordError for records, CursorError for cursors), and nothing else.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zilliz_refresh_mcp.errors import CursorError, RecordError
from zilliz_refresh_mcp.jobs import Since, _check, build_listing, decode_cursor
from zilliz_refresh_mcp.names import NAME_RULE, check_name
from zilliz_refresh_mcp.reasons import wire_bytes, within_bytes
from zilliz_refresh_mcp.records import (
    COMPLETED,
    DETAILS_URI_PREFIX,
    FAILED,
    IN_PROGRESS,
    KNOWN_STATES,
    PENDING,
    JobRecord,
    decode_list_records,
    details_uri,
    epoch_ms,
    iso_utc,
    normalize_record,
    strict_json,
)
from zilliz_refresh_mcp.redaction import (
    SecretScan,
    may_show_secret,
    output_may_show,
    redact,
    redact_json,
    redact_output,
)
from zilliz_refresh_mcp.service import parse_job_id

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NOW_MS = 1_764_300_000_000  # 2025-11-28
MAX_EPOCH_MS = 253_402_300_799_999
RANK = {FAILED: 0, IN_PROGRESS: 1, PENDING: 2}  # 3: failures a later refresh fixed
SUMMED_REASONS = re.compile(r"\(\d+ other reasons(?:, of \d+ kinds)?\)")  # the last failure group's reason

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def follows_name_rule(name: str) -> bool:
    """The documented rule, written without a regular expression."""
    ascii_letters = {chr(c) for c in range(ord("a"), ord("z") + 1)} | {chr(c) for c in range(ord("A"), ord("Z") + 1)}
    first = ascii_letters | {"_"}
    rest = first | set("0123456789")
    return 1 <= len(name) <= 255 and name[0] in first and all(c in rest for c in name[1:])


NAMES = st.one_of(
    st.text(max_size=300),
    st.from_regex(re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}"), fullmatch=True),
    st.text(alphabet="aZ_09-. \n\u00e9\u0660\u2160", max_size=260),
)


@PROPERTIES
@given(NAMES)
@example("a\n")  # `$` would accept a trailing newline; fullmatch must not
@example("_" * 255)
@example("a" * 256)
@example("٣")  # an Arabic-Indic digit: str.isdigit() says yes, the rule says no
def test_check_name_accepts_exactly_the_rule(name: str) -> None:
    if follows_name_rule(name):
        assert check_name(name, "dbName") == name
    else:
        with pytest.raises(ValueError, match=re.escape(NAME_RULE)):
            check_name(name, "dbName")


@PROPERTIES
@given(st.text(max_size=5000))
def test_check_name_error_never_echoes_a_huge_value(name: str) -> None:
    try:
        check_name(name, "collectionName")
    except ValueError as err:
        message = str(err)
    else:
        return
    assert len(message) < 300
    assert message.startswith("collectionName ")


# --- job ids ---------------------------------------------------------------------------------------


@PROPERTIES
@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
@example(INT64_MAX)
@example(-1)
@example(449_503_829_274_509_313)  # a real id beyond 2**53
@example(2**53 + 1)  # the first integer a double cannot hold
def test_job_ids_round_trip_exactly(job_id: int) -> None:
    wire = json.dumps({"code": 0, "data": {"jobId": job_id, "state": COMPLETED}})
    if job_id < 0:  # no question could name it: parse_job_id refuses a sign
        with pytest.raises(RecordError, match="jobId should be an int64 of 0 or more"):
            normalize_record(json.loads(wire)["data"], now_ms=NOW_MS)
        return
    record = normalize_record(json.loads(wire)["data"], now_ms=NOW_MS)
    assert record.job_id == str(job_id)
    assert record.details_uri == DETAILS_URI_PREFIX + str(job_id)
    # The structured output carries the id as a string, so a JavaScript host cannot round it.
    dumped = json.loads(record.model_dump_json(by_alias=True))
    assert dumped["jobId"] == str(job_id)
    sent = parse_job_id(record.details_uri.removeprefix(DETAILS_URI_PREFIX))
    assert sent == job_id and type(sent) is int
    assert json.dumps({"jobId": sent}) == f'{{"jobId": {job_id}}}'


@PROPERTIES
@given(st.text(max_size=300))
@example("9223372036854775808")
@example("\uff11\uff12\uff13")  # full-width digits
@example("0")
def test_parse_job_id_answers_or_refuses(job_id: str) -> None:
    try:
        sent = parse_job_id(job_id)
    except ValueError as err:
        message = str(err)
        sent = None
    if sent is None:
        assert "jobId" in message and len(message) < 400
    elif isinstance(sent, int):
        assert 0 <= sent <= INT64_MAX and str(sent) == job_id.lstrip("0").rjust(1, "0")
    else:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", sent) and sent == job_id


# --- record normalization --------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # upstream refuses NaN/Infinity before records exist
    st.text(alphabet=st.characters(exclude_categories=["Nd", "No"]), max_size=30),  # digit strings: sampled below
    st.sampled_from(["", "0", "12", "1764300000000", " 5 ", "abc", "{}", '{"type":"volume"}', "[1]"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
FIELDS = [
    "jobId",
    "collectionName",
    "state",
    "progress",
    "externalSource",
    "externalSpec",
    "startTime",
    "endTime",
    "reason",
]
RAW_RECORDS = st.one_of(
    st.dictionaries(st.sampled_from([*FIELDS, "other"]), JSON_VALUES, max_size=10),
    st.fixed_dictionaries(
        {"jobId": st.integers() | st.text(max_size=10), "state": st.text(max_size=20)},
        optional={field: JSON_VALUES for field in FIELDS[3:]},
    ),
    JSON_VALUES,
)


def assert_sane(record: JobRecord) -> None:
    assert record.job_id and record.job_id == record.job_id.strip()
    assert record.details_uri == details_uri(record.job_id)
    assert 0 <= record.progress <= 100
    assert record.state
    for moment in (record.started_at, record.ended_at, record.estimated_end_at):
        assert moment is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", moment)
    assert record.duration_seconds is None or record.duration_seconds >= 0
    json.dumps(record.model_dump(mode="json", by_alias=True))  # always serializable


@PROPERTIES
@given(RAW_RECORDS)
@example({"jobId": 1, "state": "X", "startTime": MAX_EPOCH_MS, "endTime": MAX_EPOCH_MS + 1})
@example({"jobId": 1, "state": IN_PROGRESS, "startTime": NOW_MS - 1000, "progress": 1})
@example({"jobId": True, "state": COMPLETED})
@example({"jobId": " 42 ", "state": COMPLETED, "progress": 100.4})
def test_normalize_record_answers_or_raises_record_error(raw: Any) -> None:
    try:
        record = normalize_record(raw, now_ms=NOW_MS)
    except RecordError as err:
        message = str(err)
        record = None
    if record is None:
        assert message
    else:
        assert_sane(record)


def test_deeply_nested_external_source_is_kept_as_text() -> None:
    nested = "[" * 5000
    record = normalize_record({"jobId": 1, "state": COMPLETED, "externalSource": nested}, now_ms=NOW_MS)
    assert record.external_source == nested


def test_a_superscript_digit_time_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        normalize_record({"jobId": 1, "state": COMPLETED, "startTime": "²"}, now_ms=NOW_MS)


def test_infinite_progress_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        normalize_record({"jobId": 1, "state": COMPLETED, "progress": float("inf")}, now_ms=NOW_MS)


@PROPERTIES
@given(st.integers(min_value=0, max_value=MAX_EPOCH_MS))
@example(0)
@example(MAX_EPOCH_MS)
@example(951_782_400_000)  # 2000-02-29
def test_times_are_iso_8601_utc_to_the_millisecond_and_back(ms: int) -> None:
    """Restated with datetime: seconds always, milliseconds only when not zero, Z for UTC."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    expected = moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds").replace("+00:00", "Z")
    assert iso_utc(ms) == expected
    assert epoch_ms(iso_utc(ms)) == ms


@PROPERTIES
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_strict_json_reads_any_json_as_json_loads_does(value: Any) -> None:
    text = json.dumps(value)
    assert strict_json(text) == json.loads(text)
    assert strict_json(text.encode()) == json.loads(text)


@PROPERTIES
@given(st.text(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_strict_json_reads_bytes_in_any_encoding_json_allows(text: str, encoding: str) -> None:
    assert strict_json(json.dumps({"t": text}, ensure_ascii=False).encode(encoding)) == {"t": text}


@PROPERTIES
@given(st.binary().filter(lambda raw: not any(byte < 0x20 or byte in b'"\\' for byte in raw)))
@example(b"ext_\xed\xb2\x80")  # a surrogate encoded as if it were a character: json.loads reads it
def test_strict_json_reads_the_bytes_of_a_string_only_when_they_are_utf_8(raw: bytes) -> None:
    """A string the answer cannot be encoded with (a lone surrogate) must never come out: the stdio server died."""
    if _is_utf8(raw):
        assert strict_json(b'"' + raw + b'"') == raw.decode("utf-8")
    else:
        with pytest.raises(UnicodeDecodeError):
            strict_json(b'"' + raw + b'"')


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("NaN", "NaN is not a JSON number"),
        ('{"a": [-Infinity]}', "-Infinity is not"),
        ("1e999", "a number is too large to read"),
    ],
)
def test_strict_json_refuses_what_python_reads_but_json_has_not(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        strict_json(text)


@pytest.mark.parametrize("text", ["\ufeff{}", "", "{", "[1,]"])
def test_strict_json_refuses_what_json_loads_refuses_with_its_message(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError, match=re.escape(str(theirs.value))):
        strict_json(text)


# --- listings: ordering, counting, paging ----------------------------------------------------------


@st.composite
def job_lists(draw: st.DrawFn, *, text_ids: bool = True) -> list[dict[str, Any]]:
    """Readable records with unique ids: numeric (some beyond 2**53) and, unless not wanted, a few text ids."""
    count = draw(st.integers(min_value=0, max_value=40))
    numbers = draw(st.lists(st.integers(min_value=0, max_value=INT64_MAX), min_size=count, max_size=count, unique=True))
    jobs: list[dict[str, Any]] = []
    for number in numbers:
        state = draw(st.sampled_from([*KNOWN_STATES, "RefreshPaused"]))
        start = draw(st.sampled_from([0, NOW_MS - 60_000, NOW_MS - 3_600_000]) | st.integers(0, NOW_MS))
        job: dict[str, Any] = {
            "jobId": number if not text_ids or draw(st.booleans()) or number < 10**6 else f"job-{number}",
            "collectionName": draw(st.sampled_from(["ext_a", "ext_b", "ext_c"])),
            "state": state,
            "progress": draw(st.integers(0, 100)),
            "startTime": start,
            "endTime": draw(st.sampled_from([0, start, start + 1000])) if state not in (IN_PROGRESS, PENDING) else 0,
        }
        if state == FAILED:
            job["reason"] = draw(st.sampled_from(["permission denied", "schema mismatch", ""]))
        jobs.append(job)
    return jobs


@st.composite
def with_copies(draw: st.DrawFn, jobs: st.SearchStrategy[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Records, some of them repeated somewhere in the answer (a gateway merging a retried page)."""
    raw = draw(jobs)
    for job in draw(st.lists(st.sampled_from(raw), max_size=3)) if raw else []:
        raw.insert(draw(st.integers(0, len(raw))), dict(job))
    return raw


@PROPERTIES
@given(job_lists(), st.none() | st.just(["failed"]))
def test_a_failure_is_history_only_when_a_later_refresh_of_its_collection_completed(
    raw: list[dict[str, Any]], states: list[str] | None
) -> None:
    """Restated from the records: a failure is fixed when a completed job of its collection is dated after it.

    A job is dated by its end, else its start; a failure with neither is never fixed.
    """
    listing = build_listing(
        raw, db_name="default", collection_name=None, states=states, limit=200, cursor=None, now_ms=NOW_MS
    )
    summary = listing.summary

    def when(job: dict[str, Any]) -> int:
        return int(job["endTime"] or job["startTime"])

    def fixed(failure: dict[str, Any]) -> bool:
        return bool(when(failure)) and any(
            when(job) > when(failure)
            for job in raw
            if job["state"] == COMPLETED and job["collectionName"] == failure["collectionName"]
        )

    failures = [job for job in raw if job["state"] == FAILED]
    fixed_count = sum(map(fixed, failures))
    told = {job.job_id: job.fixed_since for job in listing.jobs if job.state == FAILED}
    assert told == {str(job["jobId"]): fixed(job) for job in failures}
    assert sum(group.count - group.not_fixed for group in summary.failures) == fixed_count
    assert ("fixed by a later refresh" in summary.text) is bool(fixed_count)
    ranked = [group for group in summary.failures if not SUMMED_REASONS.fullmatch(group.reason)]
    assert [(-g.not_fixed, -g.count) for g in ranked] == sorted((-g.not_fixed, -g.count) for g in ranked)
    for group in summary.failures:
        assert set(group.refreshed_since) <= set(group.collections)
        for name in group.refreshed_since:  # named as history: it has a fixed failure, and is failing in no group
            assert any(fixed(job) for job in failures if job["collectionName"] == name)
        if group.not_fixed == 0:
            assert group.refreshed_since == group.collections


def order_key(job: JobRecord) -> tuple[int, int, tuple[int, int, str]]:
    """The documented order, restated: failed (not fixed since), in progress, pending, fixed since, the rest; most
    recent first (by end, else start; neither last); then by id, largest first."""
    at = job.ended_at or job.started_at
    started = -_ms(at) if at else 1
    numeric = job.job_id.isascii() and job.job_id.isdigit()
    rank = 3 if job.fixed_since else RANK.get(job.state, 4)
    return (rank, started, (0, -int(job.job_id), "") if numeric else (1, 0, job.job_id))


def _ms(iso: str) -> int:
    from datetime import datetime

    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


STATE_FILTERS = st.none() | st.lists(
    st.sampled_from(["failed", "running", "pending", "completed", "RefreshPaused", "RefreshNeverSeen"]), max_size=3
)


@HEAVY
@given(with_copies(job_lists()), st.integers(min_value=1, max_value=200), STATE_FILTERS)
def test_listing_counts_orders_and_pages_consistently(
    raw: list[dict[str, Any]], limit: int, states: list[str] | None
) -> None:
    listing = build_listing(
        raw, db_name="default", collection_name=None, states=states, limit=limit, cursor=None, now_ms=NOW_MS
    )
    everything = build_listing(
        raw, db_name="default", collection_name=None, states=states, limit=10**6, cursor=None, now_ms=NOW_MS
    )
    matching = [job for job in everything.jobs]
    summary = listing.summary
    assert summary.total == len(matching) == everything.page.returned
    assert sum(summary.by_state.values()) == summary.total
    # Every known state is counted, 0 included; under a filter only those asked for: a 0 is never a hidden count.
    shown = [state for state in KNOWN_STATES if not states or state in (everything.states or [])]
    assert summary.by_state == {state: 0 for state in shown} | Counter(job.state for job in matching)
    assert sum(group.count for group in summary.failures) == summary.by_state.get(FAILED, 0)
    dated = [job for job in matching if job.state == COMPLETED and (job.ended_at or job.started_at)]
    # By its end, else its start; the first of equals, in listing order.
    last = max(dated, key=lambda job: _ms(job.ended_at or job.started_at or ""), default=None)
    assert (summary.last_completed and summary.last_completed.job_id) == (last and last.job_id)
    # Ordering: exactly the documented order, and the first page is its prefix.
    assert [order_key(job) for job in matching] == sorted(order_key(job) for job in matching)
    assert [job.job_id for job in listing.jobs] == [job.job_id for job in matching[:limit]]
    assert listing.page.returned + listing.page.remaining == summary.total
    assert (listing.page.next_cursor is None) == (listing.page.remaining == 0)
    # Paging with the cursors visits every matching job exactly once, in order.
    seen = [job.job_id for job in listing.jobs]
    cursor = listing.page.next_cursor
    while cursor:
        page = build_listing(
            raw, db_name="default", collection_name=None, states=states, limit=limit, cursor=cursor, now_ms=NOW_MS
        )
        assert page.summary == summary  # the summary counts every matching job, whatever the page
        assert page.jobs, "a cursor never leads to an empty page"
        seen += [job.job_id for job in page.jobs]
        cursor = page.page.next_cursor
    assert seen == [job.job_id for job in matching]
    # Ids stay exact strings; the raw ids are all there, a repeated record counted once.
    expected = {str(job["jobId"]) for job in raw if not states or job["state"] in (everything.states or [])}
    assert sorted(job.job_id for job in matching) == sorted(expected)


@HEAVY
@given(with_copies(job_lists()), st.integers(min_value=1, max_value=50), STATE_FILTERS, st.data())
def test_a_time_window_pages_exactly_the_jobs_active_in_it(
    raw: list[dict[str, Any]], limit: int, states: list[str] | None, data: st.DataObject
) -> None:
    """With ``since``, the jobs are those of the listing without it that ended at or after its time or have not
    ended, each reached once through the cursors, counted exactly; the time drawn among the jobs' own times, so
    that the window's edge falls on jobs."""
    times = sorted({time for job in raw for time in (job.get("startTime"), job.get("endTime")) if type(time) is int})
    at_ms = data.draw(st.sampled_from(times) if times else st.integers(min_value=0, max_value=NOW_MS))
    since = Since("2026-01-01", at_ms)  # what was asked does not matter here: the time it named does
    options: dict[str, Any] = {"db_name": "default", "collection_name": None, "states": states, "now_ms": NOW_MS}
    unwindowed = build_listing(raw, limit=10**6, cursor=None, **options).jobs

    def active(job: JobRecord) -> bool:
        if job.state in (IN_PROGRESS, PENDING):
            return True
        times = [_ms(time) for time in (job.ended_at, job.started_at) if time]
        ended_at_all = job.ended_at or job.state in (COMPLETED, FAILED)
        return not ended_at_all or not times or max(times) >= at_ms

    expected = [job.job_id for job in unwindowed if active(job)]
    first = build_listing(raw, limit=limit, cursor=None, since=since, **options)
    assert first.summary.total == len(expected) == sum(first.summary.by_state.values())
    seen, cursor = [job.job_id for job in first.jobs], first.page.next_cursor
    while cursor:
        page = build_listing(raw, limit=limit, cursor=cursor, since=since, **options)
        assert page.summary == first.summary and page.since == first.since
        seen += [job.job_id for job in page.jobs]
        cursor = page.page.next_cursor
    assert seen == expected


@HEAVY
@given(job_lists())
def test_listing_normalizes_like_one_record_at_a_time(raw: list[dict[str, Any]]) -> None:
    """The fast path of build_listing reads each record as normalize_record does."""
    listing = build_listing(
        raw, db_name="default", collection_name=None, states=None, limit=200, cursor=None, now_ms=NOW_MS
    )
    one_by_one = {record.job_id: record for record in (normalize_record(job, now_ms=NOW_MS) for job in raw)}
    for job in listing.jobs:
        # A list adds one thing a single record cannot know: whether a later refresh fixed a failure.
        assert (job.fixed_since is not None) is (job.state == FAILED)
        assert job.model_copy(update={"fixed_since": None}) == one_by_one[job.job_id]


@HEAVY
@given(with_copies(job_lists(text_ids=False)), st.integers(min_value=1, max_value=50), STATE_FILTERS)
def test_decoded_records_list_exactly_as_parsed_ones(raw: list[dict[str, Any]], limit: int, states: Any) -> None:
    """msgspec's fast path (WireRecords, ordered by C-level sorts) gives the general path's answer, page by page."""
    wire = decode_list_records(json.dumps({"code": 0, "data": {"records": raw}}).encode())
    assert wire is not None, "every generated record has the documented shape"
    cursor = None
    while True:
        options: dict[str, Any] = {"db_name": "default", "collection_name": None, "states": states, "limit": limit}
        fast = build_listing(wire, cursor=cursor, now_ms=NOW_MS, **options)
        assert fast == build_listing(raw, cursor=cursor, now_ms=NOW_MS, **options)
        cursor = fast.page.next_cursor
        if cursor is None:
            break


@PROPERTIES
@given(st.text(max_size=2048) | st.binary(max_size=1500).map(lambda b: base64.urlsafe_b64encode(b).decode()))
@example(base64.urlsafe_b64encode(b'[0,"",""]').decode())
@example(base64.urlsafe_b64encode(b'[0,"not a time","1"]').decode())
@example(base64.urlsafe_b64encode(b'{"a":1,"b":2,"c":3}').decode())
def test_foreign_cursors_raise_cursor_error(cursor: str) -> None:
    """Refused, not only survived: a text this server did not hand out is never read as a position."""
    with pytest.raises(CursorError):
        decode_cursor(cursor, "0" * 12, now_ms=NOW_MS)


def _checked_cursor_fields() -> tuple[list[dict[str, Any]], dict[str, Any], list[Any]]:
    """Three jobs, the options of a list of them a page at a time, and the fields of its first page's cursor."""
    raw = [
        {"jobId": i, "collectionName": "ext_a", "state": "RefreshCompleted", "endTime": NOW_MS - i} for i in range(3)
    ]
    options: dict[str, Any] = {
        "db_name": "default",
        "collection_name": None,
        "states": None,
        "now_ms": NOW_MS,
        "limit": 1,
    }
    cursor = build_listing(raw, cursor=None, since=Since("1d", NOW_MS - 86_400_000), **options).page.next_cursor
    assert cursor is not None
    build_listing(raw, cursor=cursor, since=Since("1d", NOW_MS), **options)  # as handed out: read
    fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert len(fields) == 9  # version, rank, time, id, question, tie, jobs up to it, since; its check
    return raw, options, fields


def _as_cursor(fields: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("field", "value"),
    [(5, -1), (5, 2**64), (5, "0"), (7, -1), (7, "1712833300000"), (7, 10**30), (7, NOW_MS + 3_600_000), (8, 1)],
    ids=["tie -1", "tie 2^64", "tie text", "since -1", "since text", "since 10^30", "since to come", "a field more"],
)
def test_a_cursor_altered_in_one_field_and_checked_again_is_a_cursor_error(field: int, value: Any) -> None:
    """A cursor this server handed out, one of its fields then changed and its check made again, as this server
    makes it: still refused, by what each field may hold, not read as another position."""
    raw, options, fields = _checked_cursor_fields()
    fields = fields[:-1]
    fields[field:] = [value, *fields[field + 1 :]]
    with pytest.raises(CursorError, match="not one this server handed out"):
        build_listing(raw, cursor=_as_cursor([*fields, _check(fields)]), since=Since("1d", NOW_MS), **options)


@pytest.mark.parametrize(
    ("field", "value"),
    [(1, 0), (2, iso_utc(NOW_MS - 60_000)), (3, "1"), (3, "999"), (5, 1), (6, "00000000"), (7, NOW_MS - 1000)],
    ids=["rank", "time", "job id", "no such job", "tie", "jobs up to it", "since"],
)
def test_a_cursor_edited_in_any_field_is_refused_by_its_check(field: int, value: Any) -> None:
    """An edit a shape check cannot tell (another job, rank or time, as a model copying the cursor by hand may make)
    would continue from another place, and the answer would say that jobs had moved: refused instead."""
    raw, options, fields = _checked_cursor_fields()
    assert fields[field] != value
    fields[field] = value
    with pytest.raises(CursorError, match="not one this server handed out"):
        build_listing(raw, cursor=_as_cursor(fields), since=Since("1d", NOW_MS), **options)


def test_a_deeply_nested_cursor_is_a_cursor_error() -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")  # 2000 characters: the tool accepts it
    with pytest.raises(CursorError):
        decode_cursor(cursor, "0" * 12, now_ms=NOW_MS)


@PROPERTIES
@given(job_lists(), st.text(max_size=100))
def test_listing_with_any_cursor_answers_or_raises_cursor_error(raw: list[dict[str, Any]], cursor: str) -> None:
    try:
        listing = build_listing(
            raw, db_name="default", collection_name=None, states=None, limit=5, cursor=cursor, now_ms=NOW_MS
        )
    except CursorError:
        return
    assert listing.page.returned <= 5


@PROPERTIES
@given(st.text(max_size=300), st.integers(min_value=1, max_value=40))
@example("\x01" * 10, 5)
@example("ab", 1)
def test_a_text_cut_to_a_limit_below_its_gap_is_never_longer_than_it_was(text: str, limit: int) -> None:
    """At a limit smaller than a character and the gap, no cut fits: the second review found the gap added to the
    whole text (``both_ends`` of no characters keeps them all)."""
    shown = within_bytes(text, limit, "...")
    assert wire_bytes(shown) <= wire_bytes(text)
    assert shown == text or text not in shown


@PROPERTIES
@given(st.text(max_size=3000), st.integers(min_value=120, max_value=2000))
@example("\x01" * 600, 1000)
@example("数据" * 400 + "end", 1000)
def test_a_text_cut_to_a_number_of_bytes_fits_them_and_keeps_both_its_ends(text: str, limit: int) -> None:
    gap = " ... [{cut} characters cut] ... "
    shown = within_bytes(text, limit, gap)
    if wire_bytes(text) <= limit:
        assert shown == text
        return
    assert wire_bytes(shown) <= limit
    cut = re.search(r" \.\.\. \[(\d+) characters cut\] \.\.\. ", shown)
    assert cut is not None
    head, tail = shown[: cut.start()], shown[cut.end() :]
    assert text.startswith(head) and text.endswith(tail) and len(head) + int(cut[1]) + len(tail) == len(text)
    assert len(head) >= len(tail)  # more of its start, where a reason names the error


# --- redaction -------------------------------------------------------------------------------------

SECRETS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40)


@PROPERTIES
@given(SECRETS, st.text(max_size=50), st.text(max_size=50))
def test_redact_removes_the_secret_wherever_it_is(secret: str, before: str, after: str) -> None:
    assert secret not in redact(before + secret + after, secret)


API_KEYS = st.text(alphabet="0123456789abcdefABCDEFghijklmnopqrstuvwxyz", min_size=16, max_size=64)
# What a reader skips between two characters of an echo: a wrapped line, a zero-width space, a soft hyphen, a tag, a
# mask over some characters, a JSON-escaped line break.
BREAKS = st.sampled_from(["\n", "\r\n    ", "\u200b", "\u00ad", "<wbr>", "<br/>", "**", "\\n", " ", "-"])


@PROPERTIES
@given(API_KEYS, st.lists(st.tuples(st.integers(0, 63), BREAKS), max_size=4), st.text(max_size=20), st.data())
def test_an_echo_of_the_key_broken_apart_keeps_no_12_characters_of_it_in_a_row(
    key: str, breaks: list[tuple[int, str]], before: str, data: Any
) -> None:
    """Wherever an echo is broken, cut short or masked, no run of 12 characters of the key is left in what a reader
    joins back; a mask replaces characters, as one over a key does."""
    echoed = key[: data.draw(st.integers(12, len(key)))]
    for at, gap in sorted(breaks, reverse=True):
        at = min(at, len(echoed))
        echoed = echoed[:at] + gap + echoed[at + len(gap) if gap == "**" else at :]
    shown = redact(f"{before} token {echoed} refused", key)
    # A mask stays between what it parts: a reader does not read across "***" as across a line break.
    joined = re.sub(r"[^0-9a-z*]", "", re.sub(r"<[^<>]*>|\\n", "", shown).lower())
    assert not [key[at : at + 12].lower() for at in range(len(key) - 11) if key[at : at + 12].lower() in joined]
    assert shown.endswith(" refused")


def test_what_leaves_is_looked_at_as_json_and_cleaned_in_a_copy() -> None:
    """``output_may_show`` reads an answer's JSON (its escapes too); ``redact_output`` cleans a copy, keys too."""
    key = "c0ffeed75caeca24dfd61e0b9a7c8595"
    clean = {"jobs": [{"reason": "timeout at 42%", "state": "RefreshFailed"}], "n": 3}
    assert not output_may_show(json.dumps(clean), key)
    echo = f"{key[:5]}\n{key[5:]}"
    dirty: dict[str, Any] = {"jobs": [{"reason": f"bad {echo}", "n": 1}], f"x{echo}": "y"}
    assert output_may_show(json.dumps(dirty), key)
    assert redact_output(dirty, key) == {"jobs": [{"reason": "bad ***", "n": 1}], "x***": "y"}
    assert dirty["jobs"][0]["reason"] == f"bad {echo}"  # the answer it was given is left as it was


@PROPERTIES
@given(SECRETS, st.text(max_size=30), st.text(max_size=30), st.sampled_from([str.upper, str.lower, str.swapcase]))
def test_the_secret_in_another_letter_case_is_redacted_and_seen(
    secret: str, before: str, after: str, case: Callable[[str], str]
) -> None:
    """A gateway may upper-case a line it echoes; a hex key so changed is the key."""
    echoed = case(secret)
    assert echoed.lower() not in redact(before + echoed + after, secret).lower()
    assert scanned(secret, json.dumps({"reason": before + echoed + after}).encode(), [])


@PROPERTIES
@given(SECRETS, st.data())
@example("alice:hunter2024", None)  # "\\u0068unter2024": the anchor itself escaped, in plain text
@example("000000\\U", None)  # "000000\\\\u0055": a backslash, then "U" escaped; not "000000\\\\u" and "U"
def test_the_secret_with_some_characters_written_as_escapes_is_redacted(secret: str, data: Any) -> None:
    def maybe_escaped(char: str) -> str:
        escape = data.draw(st.booleans()) if data is not None else char in "hU"  # the examples' escaped letters
        return f"\\u{ord(char):04x}" if escape and char != "\\" else char  # a run of backslashes: one form each

    assert redact(f" {''.join(map(maybe_escaped, secret))} ", secret) == " *** "


ESCAPERS: list[Callable[[str], str]] = [lambda text: json.dumps(text)[1:-1], lambda text: repr(text)[1:-1]]


@PROPERTIES
@given(SECRETS, st.lists(st.sampled_from(ESCAPERS), min_size=1, max_size=3))
@example('root:Pa55w0rd"Qx\\yz', [ESCAPERS[0], ESCAPERS[0]])  # JSON in a JSON string (Go's %q of a body)
@example('root:Pa55w0rd"Qx\\yz', [ESCAPERS[0], ESCAPERS[1]])  # a header's quoted string, in a log's repr
def test_the_secret_escaped_again_and_again_is_redacted(secret: str, escapes: list[Callable[[str], str]]) -> None:
    echoed = secret
    for escape in escapes:
        echoed = escape(echoed)
    assert redact(f" {echoed} ", secret) == " *** "


URL_SAFE_SETS = st.sampled_from(["", "/", "!~*'()", ";,/?:@&=+$!~*'()#"])  # strict, quote, URIComponent, URI


@PROPERTIES
@given(SECRETS, URL_SAFE_SETS, st.booleans(), st.booleans(), st.text(max_size=30), st.text(max_size=30))
def test_the_secret_url_encoded_any_common_way_is_redacted_and_seen(
    secret: str, safe: str, plus: bool, lower: bool, before: str, after: str
) -> None:
    encoded = (quote_plus if plus else quote)(secret, safe=safe)
    if lower:
        encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    assert encoded not in redact(before + encoded + after, secret)
    assert scanned(secret, json.dumps({"reason": before + encoded + after}).encode(), [])


def _numbered(*, hexadecimal: bool, zeros: int, upper: bool) -> Callable[[str], str]:
    """An HTML escaper that numbers every character but letters and digits (``&#39;``, ``&#X0002F;``)."""

    def number(char: str) -> str:
        code = f"x{ord(char):0{zeros + 2}x}" if hexadecimal else f"{ord(char):0{zeros + 2}d}"
        return f"&#{code.upper() if upper else code};"

    return lambda text: "".join(char if char.isascii() and char.isalnum() else number(char) for char in text)


def _named(text: str) -> str:
    """XML's five named references, as some template engines write them (``&apos;`` where html.escape numbers)."""
    names = {"&": "&amp;", "'": "&apos;", '"': "&quot;", "<": "&lt;", ">": "&gt;"}
    return "".join(names.get(char, char) for char in text)


def _form_read(text: str) -> str:
    """A gateway that reads a form back echoes a "+" as a space."""
    return text.replace("+", " ")


def _line_broken(text: str) -> str:
    """A message wrapped where the text has a space between two words (and joined again by whoever shows it on one
    line)."""
    return re.sub(r"(?<=\S) (?=\S)", "\r\n  ", text)


def _url_encoder(safe: str, plus: bool, lower: bool) -> Callable[[str], str]:
    def encode(text: str) -> str:
        encoded = (quote_plus if plus else quote)(text, safe=safe)
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded) if lower else encoded

    return encode


NAMING_ESCAPERS: list[Callable[[str], str]] = [html.escape, _named]
HTML_ESCAPERS = st.sampled_from(NAMING_ESCAPERS) | st.builds(
    _numbered, hexadecimal=st.booleans(), zeros=st.integers(0, 3), upper=st.booleans()
)
URL_ENCODERS = st.builds(_url_encoder, URL_SAFE_SETS, st.booleans(), st.booleans())


@st.composite
def encoder_chains(draw: st.DrawFn) -> list[Callable[[str], str]]:
    """Encoders one after another, in the orders echoes take: escapes (JSON, a repr), a page's HTML references,
    URL-encoders (a URL in a URL), a form read back, a page again. Not an escaper that numbers "%" after a
    URL-encoder: that is no common chain, and no pattern of the redactor's (see its docstring)."""
    chain: list[Callable[[str], str]] = draw(st.lists(st.sampled_from(ESCAPERS), max_size=2))
    chain += draw(st.lists(HTML_ESCAPERS, max_size=1))
    chain += draw(st.lists(URL_ENCODERS, max_size=2))
    chain += draw(st.lists(st.sampled_from([_form_read, html.escape, _line_broken]), max_size=2))
    return chain


def _encode(text: str, chain: list[Callable[[str], str]]) -> str:
    for encoder in chain:
        text = encoder(text)
    return text


WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
JSON_THEN_URL = [ESCAPERS[0], _url_encoder("", plus=False, lower=False)]
PLUS_THEN_URL = [_url_encoder("", plus=True, lower=False), _url_encoder("/", plus=False, lower=False)]


@PROPERTIES
@given(SECRETS, encoder_chains(), st.text(max_size=30), st.text(max_size=30))
@example("AbCd/EfGh+IjKl/MnOp", [_form_read], "invalid token ", "")  # a gateway read it as a form
@example('dbadmin:Xy9"q\\Lm/+ %41z:Kp7#', JSON_THEN_URL, "%22", "%22")  # "%22Xy9%5C%22q%5C%5CLm%2F%2B%20..."
@example('dbadmin:Xy9"q\\Lm/+ %41z:Kp7#', [*JSON_THEN_URL, JSON_THEN_URL[1]], "%2522", "%2522")  # %255C
@example('dbadmin:Xy9"q\\Lm/+ %41z:Kp7#', PLUS_THEN_URL, "https://x.example/", "")  # a space as %2B
@example("u:O'Brien+Key/99", [html.escape], "bad ", "")  # "O&#x27;Brien+Key/99"
@example("u:O'Brien+Key/99", [_named], "", "")  # "&apos;"
@example("u:O'Brien+Key/99", [_numbered(hexadecimal=False, zeros=0, upper=False)], "", "")  # &#39; &#43; &#47;
@example("u:O'Brien+Key/99", [_numbered(hexadecimal=True, zeros=2, upper=True)], "", "")  # &#X00027;
@example('k:<a href="x">&amp;</a>', [html.escape, html.escape], "", "")  # a page's text escaped twice
@example("k:O'Brien+Key/99", [html.escape, JSON_THEN_URL[1]], "", "")  # "%26%23x27%3B": a page's text in a URL
@example("0000000&", [html.escape, JSON_THEN_URL[1]], "", "")  # "%26amp%3B", not "%26" and "amp%3B" left
@example('k:Xy9"q\\Lm/99', [ESCAPERS[0], html.escape], "", "")  # "\&quot;": JSON shown in a page
@example("admin:correct horse", [_line_broken], "auth failed for ", "")  # "correct\r\n  horse"
def test_the_secret_through_any_chain_of_common_encoders_is_redacted_and_seen(
    secret: str, chain: list[Callable[[str], str]], before: str, after: str
) -> None:
    """Every spelling holds the anchor as it is (these encoders leave letters and digits alone), so the scans
    see it; and the redactor blanks it whole."""
    echoed = _encode(secret, chain)
    assert redact(f" {echoed} ", secret) == " *** "
    assert echoed not in redact(before + echoed + after, secret)
    assert scanned(secret, json.dumps({"reason": before + echoed + after}).encode(), [])


@PROPERTIES
@given(WORDS, WORDS)
@example("to", "be")
def test_a_password_with_a_plus_read_as_a_space_is_blanked_only_as_words(first: str, second: str) -> None:
    """ "to+be" read from a form is "to be": blanked where it stands apart, never in "auto bed"."""
    secret = f"alice:{first}+{second}"
    assert redact(f"login {first} {second} refused", secret) == "login *** refused"
    assert redact(f"login {first.upper()} {second} refused", secret) == "login *** refused"
    assert redact(f"x{first} {second}x", secret) == f"x{first} {second}x"


@PROPERTIES
@given(SECRETS, encoder_chains(), st.text(max_size=20), st.text(max_size=20), st.data())
@example(
    "k:abcd1234", [], "%61%62%63%64%31%32%33%34", " \\uzz", None
)  # letters percent-encoded, cleaned only for an unrelated "\\u": the scans cleared it
# A login cut short, its colon as it is or escaped: %253A (a URL in a URL), &#58;, \u003a (the scans once looked for
# ":" and %3A only).
@example("00:00000", [], "00:0000", "", None)  # as it is
@example("00:00000", [], "00%253A0000", "", None)
@example("00:00000", [], "00&#58;0000", "", None)
@example("00:00000", [], "00\\u003a0000", "", None)
def test_the_scans_say_may_show_wherever_redact_would_change_a_text(
    secret: str, chain: list[Callable[[str], str]], before: str, after: str, data: Any
) -> None:
    """The pre-checks are sound: an answer they clear is one the cleaning on the way in (``redact_json``) leaves as it
    is, even a damaged echo. (An echo broken apart is looked for on the way out: ``redact_output``.)"""
    echoed = _encode(secret, chain)
    if data is not None and echoed:
        at = data.draw(st.integers(0, len(echoed) - 1))
        echoed = echoed[:at] + data.draw(st.sampled_from(["", "%41", "\\u0041", "&#65;", " ", "+"])) + echoed[at + 1 :]
    else:
        echoed = ""
    text = before + echoed + after
    if redact_json(text, secret) == text:
        return
    job = {"jobId": 1, "state": "RefreshFailed", "reason": text}
    answer = json.dumps({"code": 0, "data": {"records": [job]}}).encode()
    assert scanned(secret, answer, [])
    records = decode_list_records(answer)
    assert records is not None and may_show_secret(records, secret)


@PROPERTIES
@given(SECRETS, JSON_VALUES)
@example("externalSpec", {"": None})  # planted, the key is the secret, a documented field name: still blanked
@example("00000000", [195_312_500_000_000, "x"])  # a number that holds a key of digits stays a number
def test_redact_json_reaches_every_string(secret: str, value: Any) -> None:
    """Every string and key; not a number, which holds a key of digits only by chance (a time, a job id: blanked, it
    would be lost; as a job id is shown, a string, the answer's own guard blanks it there)."""

    def plant(node: Any) -> Any:
        if isinstance(node, str):
            return node + secret
        if isinstance(node, list):
            return [plant(item) for item in node]
        if isinstance(node, dict):
            return {plant(key): plant(item) for key, item in node.items()}
        return node

    def leaves(node: Any) -> Iterator[Any]:  # keys included
        if isinstance(node, list):
            for item in node:
                yield from leaves(item)
        elif isinstance(node, dict):
            for key, item in node.items():
                yield key
                yield from leaves(item)
        else:
            yield node

    planted = plant(value)
    cleaned = list(leaves(redact_json(copy.deepcopy(planted), secret)))
    assert not any(secret in leaf for leaf in cleaned if isinstance(leaf, str))
    assert [leaf for leaf in cleaned if not isinstance(leaf, str)] == [
        leaf for leaf in leaves(planted) if not isinstance(leaf, str)
    ]


LOWER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=4, max_size=20)
CHUNK_CUTS = st.lists(st.integers(min_value=0, max_value=40), max_size=8)


def scanned(secret: str, answer: bytes, cuts: list[int]) -> bool:
    scan = SecretScan(secret)
    start = 0
    for cut in cuts:
        scan.feed(answer[start : start + cut])
        start += cut
    scan.feed(answer[start:])
    return scan.found


@PROPERTIES
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60), CHUNK_CUTS)
def test_the_secret_scan_is_not_set_off_by_escapes_that_spell_no_letter_or_digit(text: str, cuts: list[int]) -> None:
    """Go writes "<nil>" as "\\u003cnil\\u003e"; other encoders escape every non-ASCII character. Set off by
    those, the scan sent every such answer to the walk over all its strings (~45 ms for 10,000 jobs)."""
    secret = "sk-8f3a9c2e71d04b5a6c1dQwErTy"
    clear = "".join(char for char in text if not char.isascii() or not char.isalnum())
    answer = json.dumps({"reason": clear + " <nil> & é"}).replace("<", "\\u003c").replace("&", "\\u0026")
    assert not scanned(secret, answer.encode(), cuts)
    assert scanned(secret, answer.replace("nil", "\\u006eil").encode(), cuts)  # "n", escaped


@PROPERTIES
@given(LOWER, LOWER, st.text(alphabet="0123456789 .,:;", max_size=60), st.integers(0, 60), CHUNK_CUTS)
@example(user="____", password="reas", text="", at=0, cuts=[])  # the password is in the field name "reason"
def test_the_secret_scan_sees_across_chunk_boundaries(
    user: str, password: str, text: str, at: int, cuts: list[int]
) -> None:
    """The token or its password, or a \\u escape, is seen however the answer arrives; an answer with none is clear,
    unless the password holds no run of 4 letters or digits, that every spelling keeps: then every answer is cleaned.

    The user name alone is not a secret: it is seen only where it holds the password, or with the colon after it
    (``user:``, ``user%3A``) that an echo of the token cut short holds.
    """
    secret = f"{user}:{password}"
    clear = json.dumps({"reason": text}).encode()
    anchor = max(re.findall(r"[A-Za-z0-9]+", password), key=len, default="").encode()  # the password's longest run
    tellable = len(anchor) >= 4
    logins = (f"{user}:".encode(), f"{user}%3a".encode()) if secret != "root:milvus" else ()  # public: no password

    def cautious(answer: bytes) -> bool:  # where the run or the login is in the bytes at all, even in a field name
        return any(needle in answer.lower() for needle in (anchor, *logins))

    # "reason" holds the password "reas".
    assert scanned(secret, clear, cuts) is (not tellable or cautious(clear))
    for needle, seen in ((secret, True), (password, True), ("\\u0041", True), (user, password in user)):
        planted = text[:at] + needle + text[at:]
        answer = json.dumps({"reason": planted}).encode().replace(b"\\\\u", b"\\u")
        assert scanned(secret, answer, cuts) is (seen or not tellable or cautious(answer))


_PIECES_OF_TEXT = st.sampled_from(
    ["\n", "\u200b", "&shy;", "<wbr>", "\\n", "%E2%80%8B", "\x1b[31m", "***", ", ", "_", "ß", "\u2473", "&amp;", "%25"]
)


@PROPERTIES
@given(API_KEYS, st.lists(st.tuples(st.integers(0, 63), _PIECES_OF_TEXT), max_size=5), st.text(max_size=12))
def test_what_redact_cleans_the_look_on_the_way_out_sees_and_a_second_redact_finds_nothing_more(
    key: str, inserts: list[tuple[int, str]], around: str
) -> None:
    """From a review: the guard's look at an answer's JSON must see whatever ``redact`` cleans in one of its strings
    (JSON escapes a text once more), and what ``redact`` leaves must hold no echo of its own making ("9f7b3d, ***,
    5a2c8e": two pieces that met across the blank)."""
    text = key
    for at, piece in sorted(inserts, reverse=True):
        text = text[:at] + piece + text[at:]
    text = f"{around}{text}{around}"
    cleaned = redact(text, key)
    if cleaned != text:
        assert output_may_show(json.dumps({"reason": text}, ensure_ascii=False), key)
    assert redact(cleaned, key) == cleaned


@pytest.mark.parametrize(
    ("secret", "text", "shown"),
    [
        # The password's own "_" or "ß" beside what the search keeps of it is no word it stands inside.
        (
            "db_admin:CorrectHorseBatteryStaple_42",
            "password CorrectHorse\nBatteryStaple_42 rejected",
            "password *** rejected",
        ),
        ("db_admin:my_CorrectHorseBatteryStaple", "pw=my_CorrectHorse\u200bBatteryStaple", "pw=***"),
        # Eleven characters that read as twelve: "⑳" is "20".
        ("3f9a1c7e5b2d48a6c0e19f7b3d5a2c8e4f6b1a9d7c3e5f20", "1a9d7c3e5f\u2473", "***"),
    ],
)
def test_echoes_a_second_review_found_shown_are_blanked(secret: str, text: str, shown: str) -> None:
    assert redact(text, secret) == shown
