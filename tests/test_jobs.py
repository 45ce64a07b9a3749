"""Normalization, ordering and summaries: pure functions, no server."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pydantic import Field

from zilliz_refresh_mcp import jobs, reasons, records, wording
from zilliz_refresh_mcp.errors import RecordError
from zilliz_refresh_mcp.jobs import build_listing
from zilliz_refresh_mcp.records import JobRecord, RecordFields, epoch_ms, iso_utc, normalize_record, render_record
from zilliz_refresh_mcp.states import canonical_state, state_filter
from zilliz_refresh_mcp.wording import job_line, wait_running

NOW = 1_712_833_300_000  # 2024-04-11T11:01:40Z
HOUR = 3_600_000
CLOCK_AHEAD = "the cluster's clock appears ahead of this server's by ~{} or more"  # what wording.clock_ahead says
BIG_ID_TEXT = "449503829274509313"  # 2^53 < id: a double would round it to ...309312


def raw(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "jobId": int(BIG_ID_TEXT),
        "collectionName": "ext_books",
        "state": "RefreshCompleted",
        "progress": 100,
        "externalSource": '{"type":"volume","path":"volume://my-volume/books"}',
        "startTime": 1_712_832_000_000,
        "endTime": 1_712_832_600_000,
    }
    record.update(fields)
    return {key: value for key, value in record.items() if value is not ...}


def test_job_id_beyond_2_53_stays_exact_from_the_wire() -> None:
    wire = '{"jobId": 449503829274509313, "state": "RefreshPending"}'
    record = normalize_record(json.loads(wire), now_ms=NOW)
    assert record.job_id == BIG_ID_TEXT
    dumped = record.model_dump(mode="json", by_alias=True)
    assert dumped["jobId"] == BIG_ID_TEXT
    assert dumped["detailsUri"] == f"zilliz://refresh-jobs/{BIG_ID_TEXT}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("job-xxxx", "job-xxxx"), (" job_7 ", "job_7"), (12.0, "12"), (0, "0")],
)
def test_other_job_ids_pass_through(given: object, expected: str) -> None:
    assert normalize_record(raw(jobId=given), now_ms=NOW).job_id == expected


@pytest.mark.parametrize("bad", [None, "", True, 1.5, {"id": 1}, [1], "-5", -5])
def test_unusable_job_ids_are_record_errors(bad: object) -> None:
    with pytest.raises(RecordError, match="jobId"):
        normalize_record(raw(jobId=bad), now_ms=NOW)


def test_missing_job_id_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="jobId"):
        normalize_record(raw(jobId=...), now_ms=NOW)


def test_times_become_iso_utc_and_zero_becomes_null() -> None:
    done = normalize_record(raw(), now_ms=NOW)
    assert done.started_at == "2024-04-11T10:40:00Z"
    assert done.ended_at == "2024-04-11T10:50:00Z"
    assert done.duration_seconds == 600.0
    precise = normalize_record(raw(startTime=1_712_832_000_123), now_ms=NOW)
    assert precise.started_at == "2024-04-11T10:40:00.123Z"
    pending = normalize_record(raw(state="RefreshPending", progress=0, startTime=0, endTime=0), now_ms=NOW)
    assert (pending.started_at, pending.ended_at, pending.duration_seconds) == (None, None, None)


def test_running_job_duration_is_elapsed_so_far_and_has_an_estimate() -> None:
    running = normalize_record(raw(state="RefreshInProgress", progress=25, endTime=0), now_ms=NOW)
    elapsed_s = (NOW - 1_712_832_000_000) // 1000
    assert running.ended_at is None
    assert running.duration_seconds == elapsed_s
    # 25% in 1300 s: the whole job takes 5200 s from its start.
    assert running.estimated_end_at == records.iso_utc(1_712_832_000_000 + 4 * (NOW - 1_712_832_000_000))
    # Whole seconds, rounded up, when the rate gives milliseconds.
    odd = normalize_record(raw(state="RefreshInProgress", progress=7, endTime=0), now_ms=NOW)
    end_ms = 1_712_832_000_000 + (NOW - 1_712_832_000_000) * 100 // 7
    assert end_ms % 1000 and odd.estimated_end_at == records.iso_utc(end_ms - end_ms % 1000 + 1000)


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "RefreshInProgress", "progress": 0, "endTime": 0},
        {"state": "RefreshInProgress", "progress": 4, "endTime": 0},  # a whole percent this low: rate unknown
        {"state": "RefreshInProgress", "progress": 50},  # upstream says it ended: nothing to estimate
        {"state": "RefreshPending", "progress": 0, "startTime": 0, "endTime": 0},
        {"state": "RefreshCompleted"},
        {"state": "RefreshFailed", "progress": 40},
    ],
)
def test_no_estimate_without_a_progress_rate(fields: dict[str, Any]) -> None:
    assert normalize_record(raw(**fields), now_ms=NOW).estimated_end_at is None


def test_sources_are_parsed_when_json_and_kept_otherwise() -> None:
    assert normalize_record(raw(), now_ms=NOW).external_source == {
        "type": "volume",
        "path": "volume://my-volume/books",
    }
    assert normalize_record(raw(externalSource="s3://bucket/x"), now_ms=NOW).external_source == "s3://bucket/x"
    assert normalize_record(raw(externalSource="[1, 2]"), now_ms=NOW).external_source == "[1, 2]"
    for not_json in ('{"a": NaN}', '{"a": -Infinity}', '{"a": 1e999}'):  # Python reads them; JSON has no such value
        assert normalize_record(raw(externalSource=not_json), now_ms=NOW).external_source == not_json
    assert normalize_record(raw(externalSource=...), now_ms=NOW).external_source is None
    spec = normalize_record(raw(externalSpec='{"format":"parquet"}'), now_ms=NOW)
    assert spec.external_spec == {"format": "parquet"}
    assert normalize_record(raw(), now_ms=NOW).external_spec is None


def test_unknown_state_and_missing_optional_fields_pass() -> None:
    record = normalize_record({"jobId": 7, "state": "RefreshPaused"}, now_ms=NOW)
    assert record.state == "RefreshPaused"
    assert record.progress == 0
    assert record.collection_name is None
    assert record.reason is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("progress", "half"), ("startTime", "yesterday"), ("endTime", -5), ("collectionName", 3), ("state", None)],
)
def test_wrong_field_types_name_the_field(field: str, value: object) -> None:
    with pytest.raises(RecordError, match=field):
        normalize_record(raw(**{field: value}), now_ms=NOW)


def test_progress_is_clamped_to_0_100() -> None:
    assert normalize_record(raw(progress=140), now_ms=NOW).progress == 100
    assert normalize_record(raw(progress=-3), now_ms=NOW).progress == 0


def test_a_fractional_progress_is_rounded_down_so_a_running_job_never_reads_100() -> None:
    running = normalize_record(raw(state="RefreshInProgress", progress=99.6, endTime=0), now_ms=NOW)
    assert running.progress == 99
    assert normalize_record(raw(progress=37.5), now_ms=NOW).progress == 37


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("failed", "RefreshFailed"),
        ("Refresh_Failed", "RefreshFailed"),
        ("running", "RefreshInProgress"),
        ("in-progress", "RefreshInProgress"),
        ("RefreshCompleted", "RefreshCompleted"),
        ("pending", "RefreshPending"),
        ("RefreshPaused", "RefreshPaused"),
        ("error", "RefreshFailed"),
        ("Queued", "RefreshPending"),
    ],
)
def test_state_filter_names(given: str, expected: str) -> None:
    assert canonical_state(given) == expected
    assert state_filter([given, expected]) == [expected]


@pytest.mark.parametrize("given", ["RefreshFAILED", "refresh-complete", "refresh_running", "REFRESHINPROGRESS"])
def test_any_spelling_of_a_known_state_is_that_state(given: str) -> None:
    assert state_filter([given])[0] in records.KNOWN_STATES


@pytest.mark.parametrize("name", ["RefreshQueued", "RefreshRunning", "RefreshError"])
def test_the_exact_name_of_a_newer_clusters_state_is_that_state_not_an_alias(name: str) -> None:
    """README: another RefreshXxx name passes as a newer cluster's state may; "queued" alone means pending."""
    assert state_filter([name]) == [name]
    newer = [*four_jobs(), raw(jobId=9, collectionName="ext_new", state=name, endTime=0)]
    found = listing(newer, states=[name])
    assert [job.job_id for job in found.jobs] == ["9"]
    assert found.summary.total == 1 and found.summary.by_state[name] == 1


def test_an_unknown_state_beside_a_known_one_is_still_noted_when_no_job_is_in_it() -> None:
    """state=[RefreshRunning, RefreshFailed] lists the failure; the running job it left out is hinted at."""
    found = listing(four_jobs(), states=["RefreshRunning", "RefreshFailed"])
    assert found.summary.total == 1
    assert found.summary.text.endswith(
        "(RefreshRunning: not a state this server knows; a newer cluster's, or did you mean RefreshInProgress?)"
    )
    newer = [*four_jobs(), raw(jobId=9, collectionName="ext_new", state="RefreshRunning", endTime=0)]
    assert (
        "not a state this server knows" not in listing(newer, states=["RefreshRunning", "RefreshFailed"]).summary.text
    )


def test_no_jobs_in_an_unknown_state_that_reads_like_a_known_one_suggests_it() -> None:
    text = listing(four_jobs(), states=["RefreshRunning"]).summary.text
    assert "(RefreshRunning: not a state this server knows; a newer cluster's, or did you mean RefreshInProgress?)" in (
        text
    )


def test_no_jobs_in_a_state_this_server_does_not_know_says_so() -> None:
    text = listing(four_jobs(), states=["RefreshPaused"]).summary.text
    assert text.startswith("No refresh jobs in state RefreshPaused in default. (RefreshPaused: not a state")


@pytest.mark.parametrize("word", ["done", "finished", "", "paused", "Refresh", "refreshpaused", "RefreshPaused!"])
def test_a_word_that_names_no_state_is_refused(word: str) -> None:
    """A future state passes by its exact name; a word that would match nothing is an error, not 'no jobs'."""
    with pytest.raises(ValueError, match="is not a refresh-job state: use RefreshFailed"):
        state_filter(["failed", word])


def four_jobs() -> list[dict[str, Any]]:
    return [
        raw(jobId=1, collectionName="ext_books"),
        raw(
            jobId=2,
            collectionName="ext_music",
            state="RefreshFailed",
            progress=10,
            reason="permission denied",
            startTime=1_712_832_100_000,
            endTime=1_712_832_200_000,
        ),
        raw(jobId=3, collectionName="ext_movies", state="RefreshInProgress", progress=42, endTime=0),
        raw(jobId=4, collectionName="ext_news", state="RefreshPending", progress=0, startTime=0, endTime=0),
    ]


def as_answered(answer: list[Any], decoded: bool) -> list[Any] | records.WireRecords:
    """Upstream's records as build_listing gets them: as parsed generally, or (``decoded``) by msgspec's fast path."""
    if not decoded:
        return answer
    wire = records.decode_list_records(json.dumps({"code": 0, "data": {"records": answer}}).encode())
    assert wire, "the documented shape takes the msgspec path"
    return wire


def listing(records: Sequence[dict[str, Any]] | records.WireRecords, **kwargs: Any) -> jobs.JobListing:
    options: dict[str, Any] = {
        "db_name": "default",
        "collection_name": None,
        "states": None,
        "limit": 20,
        "cursor": None,
        "now_ms": NOW,
    }
    options.update(kwargs)
    return build_listing(records, **options)


def test_summary_sentence_counts_and_names_what_matters() -> None:
    result = listing(four_jobs())
    assert result.summary.text.startswith(
        "4 refresh jobs in default: 1 failed (ext_music), 1 in progress (ext_movies, 42%), 1 pending, 1 completed."
    )
    assert "Last completed: ext_books at 2024-04-11T10:50:00Z (took 10m00s)." in result.summary.text
    assert result.summary.total == 4
    assert result.summary.by_state == {
        "RefreshPending": 1,
        "RefreshInProgress": 1,
        "RefreshCompleted": 1,
        "RefreshFailed": 1,
    }
    assert [(g.reason, g.count, g.collections) for g in result.summary.failures] == [
        ("permission denied", 1, ["ext_music"])
    ]


WEEK_MS = 7 * 24 * 3_600_000


@pytest.mark.parametrize("states", [None, ["failed"]])
def test_an_old_failure_that_a_later_refresh_fixed_is_named_as_history(states: list[str] | None) -> None:
    """ "Did the ext_books refresh finish?": yes, even though a week-old refresh of it failed."""
    old = raw(
        jobId=9,
        state="RefreshFailed",
        progress=3,
        reason="permission denied",
        startTime=NOW - WEEK_MS,
        endTime=NOW - WEEK_MS + 60_000,
    )
    result = listing([*four_jobs(), old], states=states)
    assert "2 failed (1 not fixed since: ext_music; 1 fixed by a later refresh)" in result.summary.text
    assert [(g.count, g.not_fixed, g.collections, g.refreshed_since) for g in result.summary.failures] == [
        (2, 1, ["ext_music", "ext_books"], ["ext_books"])
    ]
    assert [(job.collection_name, job.fixed_since) for job in result.jobs if job.state == "RefreshFailed"] == [
        ("ext_music", False),
        ("ext_books", True),
    ]
    (line,) = [line for line in jobs.listing_text(result).splitlines() if " job 9:" in line]
    assert line.endswith("(fixedSince: true, a later refresh of this collection completed)")
    # The current failure first; the fixed one is history: after what is under way, before the completed.
    expected = ["2", "9"] if states else ["2", "3", "4", "9", "1"]
    assert [job.job_id for job in result.jobs] == expected


def test_each_failure_is_fixed_or_not_on_its_own_and_current_problems_rank_first() -> None:
    """ext_music: failed three days ago, fixed two days ago, failed again today. Only today's is current."""
    day = 24 * 3_600_000

    def job(job_id: int, state: str, days_ago: float, reason: str | None = None) -> dict[str, Any]:
        start = NOW - int(days_ago * day)
        return raw(
            jobId=job_id,
            collectionName="ext_music",
            state=state,
            startTime=start,
            endTime=start + 60_000,
            reason=reason or ...,
        )

    old = [job(10 + n, "RefreshFailed", 3 + n / 10, "deadline exceeded") for n in range(4)]
    records = [*old, job(20, "RefreshCompleted", 2), job(21, "RefreshFailed", 0.2, "permission denied")]
    summary = listing(records).summary
    assert "5 failed (1 not fixed since: ext_music; 4 fixed by a later refresh)" in summary.text
    assert [(g.reason, g.count, g.not_fixed, g.refreshed_since) for g in summary.failures] == [
        ("permission denied", 1, 1, []),  # fewer, but current: first
        ("deadline exceeded", 4, 0, ["ext_music"]),
    ]


@pytest.mark.parametrize("decoded", [False, True])
def test_a_current_failure_comes_before_newer_failures_that_were_fixed_since(decoded: bool) -> None:
    """ext_old failed three days ago and was never refreshed again; 14 others failed last night and were
    refreshed since. The one that matters is on the first page, and named first in its reason group."""
    hour = 3_600_000
    quota = "quota exceeded"
    rows = [raw(jobId=1, collectionName="ext_old", state="RefreshFailed", reason=quota, endTime=NOW - 72 * hour)]
    for n in range(14):
        name = f"ext_{n:02}"
        failed = raw(jobId=100 + n, collectionName=name, state="RefreshFailed", reason=quota, endTime=NOW - 9 * hour)
        rows += [failed, raw(jobId=200 + n, collectionName=name, endTime=NOW - hour)]
    given = records.decode_list_records(answer(*rows)) if decoded else rows
    assert given is not None
    result = listing(given, states=["failed"], limit=10)
    assert [job.collection_name for job in result.jobs][:1] == ["ext_old"]
    assert [job.fixed_since for job in result.jobs] == [False] + [True] * 9
    (group,) = result.summary.failures
    assert (group.count, group.not_fixed, group.collections[0]) == (15, 1, "ext_old")
    assert (len(group.collections), group.collection_count) == (10, 15)  # named in part, counted whole
    assert "ext_old" not in group.refreshed_since
    assert "15 failed (1 not fixed since: ext_old; 14 fixed by a later refresh)" in result.summary.text


def test_the_group_of_other_reasons_names_current_failures_first_too() -> None:
    """Six reasons: the two rarest share one group. Its newer failure was fixed since; the older one is current."""
    hour = 3_600_000
    common = [
        raw(jobId=10 + n, collectionName=f"ext_{n}", state="RefreshFailed", reason=f"reason {n}", endTime=NOW - hour)
        for n in range(4)
        for _ in range(2)
    ]
    current = raw(jobId=1, collectionName="ext_current", state="RefreshFailed", reason="rare a", endTime=NOW - 9 * hour)
    fixed = raw(jobId=2, collectionName="ext_fixed", state="RefreshFailed", reason="rare b", endTime=NOW - 3 * hour)
    later = raw(jobId=3, collectionName="ext_fixed", endTime=NOW - 2 * hour)
    result = listing([*common, current, fixed, later], states=["failed"], limit=200)
    others = result.summary.failures[-1]
    assert (others.reason, others.collections, others.refreshed_since) == (
        "(2 other reasons)",
        ["ext_current", "ext_fixed"],
        ["ext_fixed"],
    )
    assert [group.collection_count for group in result.summary.failures] == [1, 1, 1, 1, 2]
    assert [job.collection_name for job in result.jobs][-2:] == ["ext_current", "ext_fixed"]  # the listing's order


def test_a_collection_that_failed_more_than_once_is_named_once_and_the_count_adds_up() -> None:
    failures = [
        raw(jobId=job_id, collectionName=name, state="RefreshFailed", endTime=NOW - job_id * 60_000)
        for job_id, name in [(1, "ext_a"), (2, "ext_b"), (3, "ext_a"), (4, "ext_c"), (5, "ext_d"), (6, "ext_d")]
    ]
    assert "6 failed (ext_a twice, ext_b, ext_c and ext_d twice)" in listing(failures).summary.text
    fifth = raw(jobId=7, collectionName="ext_e", state="RefreshFailed", endTime=NOW - 7 * 60_000)
    # The jobs beyond the names shown, and how many collections they are of: not "and 3 more" (collections?).
    assert "7 failed (ext_a twice, ext_b, ext_c and 3 more in 2 other collections)" in (
        listing([*failures, fifth]).summary.text
    )
    nameless = [
        {**record, "jobId": 10 + i, "collectionName": None, "endTime": NOW - 3 * HOUR}
        for i, record in enumerate(failures[:2])
    ]
    assert "9 failed (ext_a twice, ext_b, ext_c and 5 more in 2 other collections or with no collection)" in (
        listing([*failures, fifth, *nameless]).summary.text
    )
    only = [{**record, "collectionName": None} for record in failures]
    assert "6 failed (job 1, job 2, job 3 and 3 more with no collection)" in listing(only).summary.text
    assert "3 failed (ext_a 3 times)" in listing([failures[0], failures[2], {**failures[0], "jobId": 9}]).summary.text


def test_long_reasons_are_cut_in_lists_and_whole_in_the_record_up_to_its_bound() -> None:
    trace = "java.io.IOException: failed to read parquet footer\n" + "\n".join(
        f"\tat x.y(Z.java:{i})" for i in range(300)
    )
    record = raw(jobId=5, state="RefreshFailed", reason=trace)
    page = listing([record]).model_dump(mode="json", by_alias=True)
    shown = page["jobs"][0]["reason"]
    head, tail = reasons.REASON_HEAD_CHARS, reasons.REASON_CHARS - reasons.REASON_HEAD_CHARS
    assert shown.startswith(trace[:head]) and shown.endswith(trace[-tail:])
    assert f"[... {len(trace) - reasons.REASON_CHARS} characters cut; get_refresh_job shows more ...]" in shown
    assert len(shown) < reasons.REASON_CHARS + 100
    assert page["summary"]["failures"][0]["reason"] == shown
    text = jobs.listing_text(listing([record]))
    assert len(text.splitlines()) == 2  # the summary and one line for the job, whatever the reason's newlines
    assert normalize_record(record, now_ms=NOW).reason == trace  # the job's resource has it whole

    log = "start of the error\n" + "".join(f"line {i:07d}\n" for i in range(200_000)) + "Caused by: disk full"
    kept = normalize_record(raw(jobId=6, state="RefreshFailed", reason=log), now_ms=NOW).reason
    assert kept is not None and len(kept) < reasons.RECORD_REASON_CHARS + 100
    assert kept.startswith("start of the error") and kept.endswith("Caused by: disk full")
    assert f"characters cut from the middle of {len(log)}" in kept


def test_failures_whose_long_reasons_differ_only_in_their_cause_are_two_groups_each_showing_it() -> None:
    """A trace names the error at its start and the cause at its end: cut to their start, an access problem and a
    schema problem read as one reason, and the cause of neither showed in a list or a wait."""
    frames = "".join(f"\n\tat org.apache.parquet.Reader.read(Reader.java:{i})" for i in range(60))
    denied = f"java.io.IOException: failed to read part-0007.parquet{frames}\nCaused by: AccessDeniedException: s3"
    mismatch = f"java.io.IOException: failed to read part-0007.parquet{frames}\nCaused by: SchemaMismatch: column id"
    result = listing(
        [
            raw(jobId=1, collectionName="ext_a", state="RefreshFailed", reason=denied),
            raw(jobId=2, collectionName="ext_b", state="RefreshFailed", reason=mismatch),
        ]
    )
    groups = {group.collections[0]: group for group in result.summary.failures}
    assert (groups["ext_a"].count, groups["ext_b"].count) == (1, 1)
    assert groups["ext_a"].reason.endswith("Caused by: AccessDeniedException: s3")
    assert groups["ext_b"].reason.endswith("Caused by: SchemaMismatch: column id")
    text = jobs.listing_text(result)
    assert "AccessDeniedException" in text and "SchemaMismatch" in text
    waited = jobs.WaitResult.ended(
        normalize_record(raw(jobId=1, state="RefreshFailed", reason=denied), now_ms=NOW), waited=3.0
    )
    assert "AccessDeniedException" in waited.message


def java_trace(cause: str, frames: int) -> str:
    """A Java trace as a JVM prints it: the error, its frames, then its root cause and that cause's frames."""
    at = "".join(
        f"\n\tat org.apache.parquet.hadoop.ParquetFileReader.readFooter(ParquetFileReader.java:{i})"
        for i in range(frames)
    )
    return f"java.io.IOException: could not read footer of part-0007.parquet{at}\nCaused by: {cause}{at}\n\t... 12 more"


def test_java_traces_show_their_root_cause_in_place_of_their_last_frames_and_group_by_it() -> None:
    """A Java trace ends in frames: cut to its ends, traces whose causes differ (a denied read, a schema mismatch)
    read alike and were one group, and no list showed why either failed."""
    denied, mismatch = java_trace("AccessDeniedException: s3://b/x", 40), java_trace("SchemaMismatch: column id", 40)
    denied_longer = java_trace("AccessDeniedException: s3://b/x", 60)  # the same problem, more frames
    rows = [
        raw(jobId=1, collectionName="ext_a", state="RefreshFailed", reason=denied),
        raw(jobId=2, collectionName="ext_b", state="RefreshFailed", reason=mismatch),
        raw(jobId=3, collectionName="ext_c", state="RefreshFailed", reason=denied_longer),
    ]
    result = listing(rows)
    groups = {name: group for group in result.summary.failures for name in group.collections}
    assert sorted((group.count, sorted(group.collections)) for group in result.summary.failures) == [
        (1, ["ext_b"]),
        (2, ["ext_a", "ext_c"]),
    ]
    for collection, cause in (("ext_a", "AccessDeniedException: s3://b/x"), ("ext_b", "SchemaMismatch: column id")):
        shown = groups[collection].reason
        assert shown.startswith(denied[: reasons.REASON_HEAD_CHARS])
        assert shown.endswith(f"] Caused by: {cause} [...]")  # the cause, marked as followed by more
    left_out = len(mismatch) - reasons.REASON_HEAD_CHARS - len("Caused by: SchemaMismatch: column id")
    assert f"[... {left_out} characters cut; get_refresh_job shows more ...]" in groups["ext_b"].reason
    assert [job.reason for job in result.jobs if job.collection_name == "ext_b"] == [groups["ext_b"].reason]
    text = jobs.listing_text(listing(rows, limit=1))  # its failure lines: the error and its cause, not frames
    error = "java.io.IOException: could not read footer of part-0007.parquet"
    cut = len(mismatch) - len(error) - len("Caused by: SchemaMismatch: column id")
    assert f"\n- 1 failed in ext_b: {error} [... {cut} characters cut ...] Caused by: " in text
    assert "Caused by: SchemaMismatch: column id [...]\n" in text
    waited = jobs.WaitResult.ended(
        normalize_record(raw(jobId=2, state="RefreshFailed", reason=mismatch), now_ms=NOW), waited=3.0
    )
    assert "Caused by: SchemaMismatch: column id [...]" in waited.message
    record = normalize_record(raw(jobId=2, state="RefreshFailed", reason=mismatch), now_ms=NOW)
    assert record.reason == mismatch  # the job's own record has it whole


FRAMES = "".join(f"\n\tat org.apache.hadoop.fs.s3a.Invoker.once(Invoker.java:{i})" for i in range(30))


@pytest.mark.parametrize(
    ("reason", "shown_end"),
    [
        # anyhow's chain: "Caused by:" alone on its line, the root cause last
        (
            "refresh failed: "
            + "while reading the segments of the source; " * 8
            + "\n\nCaused by:\n"
            + "".join(f"    {i}: reading segment {i}\n" for i in range(40))
            + "    40: "
            "permission denied (os error 13)",
            "40: permission denied (os error 13)",
        ),
        # a message after the trace: the end is no frame
        (
            f"java.io.IOException: x{FRAMES}\nCaused by: java.net.SocketTimeoutException: Read timed out{FRAMES}\n\n"
            "Refresh aborted after 3 retries: quota exceeded for bucket b",
            "Refresh aborted after 3 retries: quota exceeded for bucket b",
        ),
        # a Python traceback that quotes "Caused by:" in its middle
        (
            'Traceback (most recent call last):\n  File "a.py", line 1\nValueError: Caused by: bad thing in mid\n'
            + "".join(f'  File "b.py", line {i}, in read\n' for i in range(30))
            + "pyarrow.lib.ArrowInvalid: Parquet magic bytes not found",
            "pyarrow.lib.ArrowInvalid: Parquet magic bytes not found",
        ),
        # the root cause starts in the head and ends past it: whole at the end
        (
            "e" * 280 + "\nCaused by: AccessDeniedException: s3a://b/k" + FRAMES,
            "Caused by: AccessDeniedException: s3a://b/k [...]",
        ),
    ],
)
def test_only_a_root_cause_that_frames_follow_takes_the_place_of_a_reasons_end(reason: str, shown_end: str) -> None:
    """An anyhow chain, a message after the trace, a traceback quoting the words: their end is their cause."""
    assert reasons.short_reason(reason).endswith(shown_end)


def test_a_long_root_cause_shows_both_its_ends_so_causes_that_differ_late_are_two_groups() -> None:
    cause = "Caused by: java.nio.file.AccessDeniedException: s3a://bucket/" + "deep/" * 40 + "x.parquet: getFileStatus"
    denied, missing = (f"java.io.IOException: refresh failed{FRAMES}\n{cause} on {code}{FRAMES}" for code in "AB")
    shown = reasons.short_reason(denied)
    assert shown.endswith(f"{cause[:120]} ... {(cause + ' on A')[-75:]} [...]")
    result = listing([failed(1, "ext_a", denied), failed(2, "ext_b", missing)])
    assert [group.count for group in result.summary.failures] == [1, 1]


def failed(job_id: int, collection: str, reason: str) -> dict[str, Any]:
    """A failed job that ended ``job_id`` minutes ago: the smaller the id, the earlier it is listed."""
    ended = NOW - job_id * 60_000
    return raw(
        jobId=job_id,
        collectionName=collection,
        state="RefreshFailed",
        reason=reason,
        startTime=ended - 600_000,
        endTime=ended,
    )


def test_reasons_that_differ_only_in_the_file_id_or_time_they_name_are_one_group_that_says_so() -> None:
    """A denied read names each collection's own file: one group a reason, 30 failures of one problem filled the
    five groups and summed the rest as "(26 other reasons)", which no answer explained."""
    denied = [
        failed(
            i,
            f"ext_c{i:02d}",
            f"failed to read volume://my-volume/ext_c{i:02d}/part-{i:04d}.parquet: permission denied",
        )
        for i in range(1, 31)
    ]
    timeouts = [
        failed(100 + i, f"ext_t{i}", f"job {449503829274509313 + i} timed out at 2026-11-2{i}T01:02:0{i}Z after 600 s")
        for i in range(1, 4)
    ]
    own_names = [failed(200 + i, name, f"collection {name}: disk full") for i, name in enumerate(["ext_x", "ext_y"])]
    refused = [
        failed(
            300 + i,
            f"ext_r{i}",
            f"connection to 10.0.3.{i}:9000 refused (request a1b2c3d{i}-e89b-12d3-a456-42661417400{i})",
        )
        for i in range(1, 5)
    ]
    result = listing([*denied, *timeouts, *own_names, *refused], limit=5)
    groups = sorted((group.count, group.distinct_reasons, group.reason) for group in result.summary.failures)
    newest = {"ext_c01", "ext_t1", "ext_x", "ext_r1"}  # each group's first in listing order
    assert groups == [
        (2, 2, "collection ext_x: disk full"),
        (3, 3, f"job {449503829274509314} timed out at 2026-11-21T01:02:01Z after 600 s"),
        (4, 4, "connection to 10.0.3.1:9000 refused (request a1b2c3d1-e89b-12d3-a456-426614174001)"),
        (30, 30, "failed to read volume://my-volume/ext_c01/part-0001.parquet: permission denied"),
    ]
    assert all(group.collections[0] in newest for group in result.summary.failures)
    text = jobs.listing_text(result)
    assert (
        "\n- 30 failed in ext_c01, ext_c02, ext_c03 and 27 more: failed to read "
        "volume://my-volume/ext_c01/part-0001.parquet: permission denied (and 29 other reasons like it, differing "
        "only in the paths, ids, numbers, times, addresses or collection names in them)\n"
    ) in text
    assert "\n- 2 failed in ext_x, ext_y: collection ext_x: disk full (and 1 other reason like it, differing " in text
    assert len(result.summary.failures) == 4  # no "(N other reasons)"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("HTTP 403 Forbidden", "HTTP 404 Not Found"),
        ("code 1100: invalid parameter", "code 1804: invalid parameter"),
        ("(code=65535, message=failed to refresh)", "(code=10001, message=failed to refresh)"),
        ("java.io.IOException: stream closed", "java.io.EOFException: stream closed"),
        ("schema mismatch: column `a` has dimension 512", "schema mismatch: column `b` has dimension 512"),
        (  # the JVM names classes with slashes: two missing jars
            "java.lang.NoClassDefFoundError: org/apache/hadoop/fs/s3a/S3AFileSystem",
            "java.lang.NoClassDefFoundError: org/apache/parquet/hadoop/ParquetReader",
        ),
        ("open /data/x.parquet:EACCES", "open /data/x.parquet:ENOENT"),
        ("GET https://b.s3.amazonaws.com/x?status=403", "GET https://b.s3.amazonaws.com/x?status=404"),
        ("s3://bucket-a/x.parquet: AccessDenied", "s3://bucket-b/x.parquet: AccessDenied"),  # two policies to fix
        (
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            "<Error><Code>SignatureDoesNotMatch</Code><Message>Access Denied</Message></Error>",
        ),
        ("unexpected Content-Type text/html", "unexpected Content-Type application/xml"),
        ("dial tcp 10.0.0.5:9000: connection refused", "dial tcp 10.0.0.5:19530: connection refused"),
        ("s3://b/x", "449503829274509313"),  # nothing in common but what was masked
        ("Base64DecodingException: bad input", "Base64EncodingException: bad input"),
        ("collection ext_a: disk full", "collection ext_b: disk full"),  # ext_b is neither job's own collection
        ("io error: std::io::Error", "io error: std::fmt::Error"),
        ("the 1st read failed", "the 2nd read failed"),
        ("dial tcp node10:9000: refused", "dial tcp node10:9100: refused"),  # ports, not times of day
        ("dial tcp minio-0:9000: refused", "dial tcp minio-0:9100: refused"),  # a pod's number before its port
        ("dial tcp sftp-0:22: refused", "dial tcp sftp-1:22: refused"),  # a port under 60 too
        ("arn:aws:sqs:us-east-1:123456789012:jobs denied", "arn:aws:sqs:us-east-2:123456789012:jobs denied"),
        ("rpc error: status: 1100 invalid", "rpc error: status: 1804 invalid"),
        ("rpc error: code = 1100 desc = x", "rpc error: code = 65535 desc = x"),
        ("failed: error: 1100", "failed: error: 1200"),
        ("rejected code(1100)", "rejected code(1101)"),
        ("cannot read data/2024/05/01/part0001", "cannot read logs/2024/05/01/part0001"),  # a path's words
        ("a [fd00::1]:9000 refused", "a [fd00::1]:19530 refused"),
        ("file 'books.csv' not found", "file 'books.parquet' not found"),  # a file's format, not its name
        ("bad header in orders.csv.gz", "bad header in orders.json.gz"),  # a compressed file's format too
        ("codec error in /v/part-0.snappy.parquet", "codec error in /v/part-0.lz4.parquet"),
        ("storage.log.example.com refused", "backup.log.example.com refused"),  # hosts, not files
        ("expected dimension 768, got 512", "expected dimension 768, got 256"),
        ("Sat 3 segments failed", "Sun 3 segments failed"),  # a weekday with no date after it is a word
        ("node 2:5000 down", "node 3:5000 down"),  # a port of 5000, not a time
    ],
)
def test_reasons_that_differ_in_what_tells_problems_apart_stay_apart(first: str, second: str) -> None:
    """Short numbers (a status, an error code, a port), words, class names, a bucket, a collection other than the
    job's own, tell different problems: grouped, one would hide the other."""
    result = listing([failed(1, "ext_a", first), failed(2, "ext_z", second)])
    assert [(group.count, group.distinct_reasons) for group in result.summary.failures] == [(1, 1), (1, 1)]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("read segment 4567: AccessDenied", "read segment 4580: AccessDenied"),
        (
            "cannot decode part-0007.parquet: invalid magic number",
            "cannot decode part-0012.parquet: invalid magic number",
        ),
        ("context deadline exceeded (elapsed 60m49.959s)", "context deadline exceeded (elapsed 59m42.822s)"),
        ("timed out after 150ms", "timed out after 3s"),
        ("file too large: 1.2GiB exceeds 1GiB", "file too large: 3.4GiB exceeds 1GiB"),
        ("timed out at Mar 9 23:14", "timed out at Mar 9 23:52"),
        # The dates of log lines: Milvus and Go write 2025/11/27, Spark 25/11/28; a US date names its year last.
        (
            "[2025/11/27 02:00:13.412 +00:00] [ERROR] read volume://v/ext_a/part-3.parquet: permission denied",
            "[2025/11/28 02:00:14.007 +00:00] [ERROR] read volume://v/ext_a/part-3.parquet: permission denied",
        ),
        ("25/11/27 02:00:13 ERROR Executor: task failed", "25/11/28 02:00:13 ERROR Executor: task failed"),
        ("expired on 11/27/2025: renew the key", "expired on 12/01/2025: renew the key"),
        ("expired on 1/5/2025: renew the key", "expired on 12/01/2025: renew the key"),  # a one-digit month, day
        ("snapshot of Nov 2025 missing", "snapshot of Dec 2024 missing"),  # a month and its year
        # Values in a row are one instance, however many: a vector's, the rows a batch rejected.
        ("dim mismatch, expected 768: [0.1234, -0.5678, 0.9]", "dim mismatch, expected 768: [-0.25, 0.5, 0.125, 1.0]"),
        ("rows rejected at indices 3 7 12", "rows rejected at indices 5 9 10 44"),
        ("Rows rejected: 3, 7, 12.", "Rows rejected: 5, 9, 10, 44."),  # a sentence's end is no decimal
        ("ids 4, 5, 6 9:05:00 bad", "ids 7, 8, 9 9:06:00 bad"),  # values in a row, then a time of day
        # A time of day after a date (java.util.logging, JavaScript) is a time, not a value in a row.
        ("Nov 27, 2025 10:00:00 PM SEVERE: read failed", "Nov 27, 2025 11:42:17 PM SEVERE: read failed"),
        ("Thu Nov 27 2025 10:00:00 GMT+0000: read failed", "Thu Nov 27 2025 23:42:17 GMT+0000: read failed"),
        ("Nov 27, 2025 9:05:00 PM SEVERE: read failed", "Nov 28, 2025 10:42:17 PM SEVERE: read failed"),  # h:mm:ss
        # Its words: the half of the day, the month (a month's last night and the next's first), the weekday.
        ("Nov 27, 2025 9:05:00 PM SEVERE: read failed", "Nov 28, 2025 10:42:17 AM SEVERE: read failed"),
        ("Nov 30, 2025 11:00:00 PM SEVERE: read failed", "Dec 1, 2025 11:00:00 PM SEVERE: read failed"),
        ("SlowDown until Sun, 30 Nov 2025 10:00:00 GMT", "SlowDown until Mon, 1 Dec 2025 10:00:00 GMT"),
        ("token expired at Sun Nov 30 21:05:00 UTC 2025", "token expired at Mon Dec 01 21:05:00 UTC 2025"),
        ("retry after 9:05 pm", "retry after 10:15 am"),
        ("at 2025-11-27 12:00:00.123456-05:00 read failed", "at 2025-11-28 12:00:00.5-04:00 read failed"),  # zones
        ("SlowDown until 27 Nov 2025 10:00:00 GMT", "SlowDown until 3 Nov 2025 10:00:00 GMT"),  # a day by its month
        ("SlowDown until Thu, 27 Nov 2025 10:00:00 GMT", "SlowDown until Fri, 28 Nov 2025 10:00:00 GMT"),  # its weekday
        ("token expired at Thu Nov 27 21:05:00 UTC 2025", "token expired at Fri Nov 28 21:05:00 UTC 2025"),
        # A day, its month's name and its year by hyphens (Tomcat) or slashes (a web server's access log).
        ("27-Nov-2025 10:30:05.123 SEVERE [main] read failed", "01-Dec-2025 09:02:44.900 SEVERE [main] read failed"),
        (
            '10.0.0.5 - - [30/Nov/2025:23:59:58 +0000] "GET /b/x.parquet HTTP/1.1" 403',
            '10.0.0.5 - - [01/Dec/2025:00:00:03 +0000] "GET /b/x.parquet HTTP/1.1" 403',
        ),
        ("snapshot 2025-11-27_10:30:05 unreadable", "snapshot 2025-11-28_23:59:59 unreadable"),  # a time after a _
        ("no answer in 30 seconds", "no answer in 1.5 minutes"),  # durations in words
        ("dim mismatch: [0.1234, -0.5678, 1.2e-05]", "dim mismatch: [1.0E-5, 0.25, -0.5, 0.75]"),  # exponents
        (
            "StatusCode: 403, RequestID: A1B2C3D4E5F6319D, api error",
            "StatusCode: 403, RequestID: 4442587FB7D0A2F9, api error",
        ),
        (
            "refresh failed [traceID=4bf92f3577b34da6a3ce929d0e0e4736]",
            "refresh failed [traceID=0af7651916cd43dd8448eb211c80319c]",
        ),
        ("dial tcp 10.0.3.17:9000: i/o timeout", "dial tcp 10.0.3.42:9000: i/o timeout"),
        ("no heartbeat [node=[fd00:10:3::18]:21124]", "no heartbeat [node=[fd00:10:3::2a]:21124]"),
        ("requires Milvus 2.5.0, found 2.4.1", "requires Milvus 2.5.0, found 2.4.0"),
        (
            "cannot read data/550e8400-e29b-41d4-a716-446655440000/part.parquet",
            "cannot read data/6ba7b810-9dad-11d1-80b4-00c04fd430c8/part.parquet",
        ),
        (
            "Access Denied; S3 Extended Request ID: D440E50454F31AF3176813E02EA68EF7=)",
            "Access Denied; S3 Extended Request ID: 6F0FB23C6F5DA2CEC255404E4FB44003=)",
        ),
        # A file's name, with or without a path; and a number after a word that counts places or pieces of work.
        ("failed to read part-001.parquet: permission denied", "failed to read part-002.parquet: permission denied"),
        ("file 'customers_a.csv' not found", "file 'orders.csv' not found"),
        ("cannot read ORDERS.CSV: bad header", "cannot read CUSTOMERS.CSV: bad header"),  # in capitals
        ("cannot open exports/customers.jsonl: EACCES", "cannot open exports/orders.jsonl: EACCES"),
        ("parse error at line 12: unexpected token", "parse error at line 345: unexpected token"),
        ("cannot open app.log.1", "cannot open app.log.2"),  # rotated logs
        ("parse error at /vol/orders.csv:45", "parse error at /vol/books.csv:46"),  # a place in a file
        (
            "SparkException: Task 0 in stage 3.0 failed 4 times, most recent failure: Lost task 0.3 in stage 3.0 "
            "(TID 100): java.io.FileNotFoundException: s3a://lake/ext_a/part-00000.parquet",
            "SparkException: Task 7 in stage 10.0 failed 4 times, most recent failure: Lost task 7.3 in stage 10.0 "
            "(TID 107): java.io.FileNotFoundException: s3a://lake/ext_z/part-00007.parquet",
        ),
    ],
)
def test_reasons_that_differ_in_an_instance_of_one_problem_are_one_group(first: str, second: str) -> None:
    result = listing([failed(1, "ext_a", first), failed(2, "ext_z", second)])
    assert [(group.count, group.distinct_reasons) for group in result.summary.failures] == [(2, 2)]
    assert result.summary.failures[0].reason == first


def test_a_word_that_ends_in_the_name_of_a_day_or_month_is_kept() -> None:
    """Only a name of its own is a date's: PerfMon is a program, not a Monday."""
    for word in ("PerfMon", "SysMon", "ExecDec"):
        assert word in reasons._reason_shape(f"{word} 4096 counters lost")


def test_long_reasons_whose_instances_differ_in_length_are_one_group() -> None:
    """Cut first, then masked, an address one character longer moved the cut: the last word of the head differed."""
    timeouts = [
        failed(i, f"ext_{i}", f"dial tcp 10.0.3.{host}:9000: i/o timeout; " + "retrying the read of the segment; " * 17)
        for i, host in enumerate((7, 17, 42))
    ]
    traces = [
        failed(10 + i, name, f"java.lang.RuntimeException: refresh of {name} failed{FRAMES}\nCaused by: denied{FRAMES}")
        for i, name in enumerate(("ext_a", "ext_bb", "ext_ccc"))
    ]
    groups = listing([*timeouts, *traces]).summary.failures
    assert sorted((group.count, group.distinct_reasons) for group in groups) == [(3, 3), (3, 3)]
    assert all(len(reason) > reasons.REASON_CHARS for reason in (row["reason"] for row in [*timeouts, *traces]))


def test_a_second_listing_of_10000_long_failures_finds_every_reasons_shape_made() -> None:
    """Each failure names its own collection, file and request in a stack trace: a cache of shapes smaller than one
    listing asked for found none of them, and every list of the same jobs grouped them all again (~1 s of CPU)."""
    many = [
        failed(
            i,
            f"ext_{i}",
            f"java.io.IOException: cannot read s3://b/ext_{i}/part-{i:05d}.parquet (request {i:032x}) for ext_{i}"
            f"{FRAMES}\nCaused by: SdkClientException: read timed out, request {i:032x}{FRAMES}",
        )
        for i in range(1, 10_001)
    ]
    assert all(len(row["reason"]) > reasons.REASON_CHARS for row in many)  # a head and an end each
    reasons._SHAPES.clear()
    first = listing(many).summary.failures
    made = reasons._SHAPES.misses
    again = listing(many).summary.failures
    assert reasons._SHAPES.misses == made
    assert [(group.count, group.distinct_reasons) for group in again] == [(10_000, 10_000)]
    assert again == first


@pytest.mark.parametrize("listings", [["a", "a", "a"], ["a", "b", "a", "b", "a"]])
def test_listings_that_read_more_reason_shapes_than_are_held_find_those_held(
    monkeypatch: pytest.MonkeyPatch, listings: list[str]
) -> None:
    """An LRU cache smaller than what each listing reads found nothing: each shape was pushed out just before it was
    read again (12,000 failures with traces: ~1.4 s of CPU at every list). Two databases listed in turn, each
    within the cache but not both, did the same. The shapes a listing reads stay while it runs."""
    monkeypatch.setattr(reasons, "_SHAPES", reasons._ShapeCache(10))
    databases = {
        db: [(f"{db}: checksum mismatch in block {1000 + i * 7919}", None) for i in range(12 if db == "a" else 6)]
        for db in ("a", "b")
    }  # a: 12 shapes, more than are held; b: 6, but with a's, more too
    made = []
    for db in listings:
        before = reasons._SHAPES.misses
        groups = reasons.alike(databases[db])
        made.append(reasons._SHAPES.misses - before)
        # One problem, each block its instance: what a cache cannot change.
        assert [(group.members, group.distinct) for group in groups] == [
            (list(range(len(databases[db]))), len(databases[db]))
        ]
    if listings == ["a", "a", "a"]:
        assert made == [12, 2, 2]  # 10 held
    else:
        assert made == [12, 6, 8, 6, 8]  # b's 6 take the place of 6 of a's, then a's 8 of the 10 held


@pytest.mark.parametrize(
    ("state", "ended", "told"),
    [
        ("RefreshPending", False, "started 2024-04-11T11:04:40Z ({})"),
        ("RefreshFailed", False, "started 2024-04-11T11:04:40Z ({})"),  # no end reported: its start says it
        ("RefreshCompleted", True, "started 2024-04-11T11:04:40Z, ended 2024-04-11T11:14:40Z ({})"),  # the end, once
    ],
)
def test_a_time_after_this_servers_clock_is_told_as_the_clusters_clock_ahead_wherever_a_line_states_it(
    state: str, ended: bool, told: str
) -> None:
    """An answer audit: a start or an end after the answer's own "As of" was stated as a fact."""
    start = NOW + 3 * 60_000
    row = raw(state=state, progress=0, startTime=start, endTime=start + 10 * 60_000 if ended else 0)
    line = jobs.listing_text(listing([row])).splitlines()[-1]
    assert told.format(CLOCK_AHEAD.format("13m00s" if ended else "3m00s")) in line
    assert line.count("clock appears ahead") == 1


def test_the_summarys_last_completion_after_this_servers_clock_is_told_as_the_clusters_clock_ahead() -> None:
    """A mutation audit: nothing held it. The summary's "Last completed" states its time as the job lines do."""
    start = NOW + 3 * 60_000
    ended = listing([raw(startTime=start, endTime=start + 10 * 60_000)]).summary.text
    assert (
        f"Last completed: ext_books at {iso_utc(start + 10 * 60_000)} (took 10m00s; {CLOCK_AHEAD.format('13m00s')})."
        in ended
    )
    unended = listing([raw(startTime=start, endTime=0)]).summary.text
    assert f"started {iso_utc(start)} (its end not reported; {CLOCK_AHEAD.format('3m00s')})." in unended


def test_a_pending_jobs_start_after_this_servers_clock_is_told_ahead_beside_an_end_its_state_denies() -> None:
    """A mutation audit: nothing held it. The end time a pending job's record gives is not stated as its end, so
    the start says the cluster's clock is ahead itself."""
    start = NOW + 3 * 60_000
    row = raw(state="RefreshPending", progress=0, startTime=start, endTime=start + 60_000)
    line = jobs.listing_text(listing([row])).splitlines()[-1]
    ahead = CLOCK_AHEAD.format("3m00s")
    assert f"started {iso_utc(start)} ({ahead}), an end time given ({iso_utc(start + 60_000)})" in line


def test_the_clusters_clock_is_told_ahead_from_a_whole_second_after_this_servers() -> None:
    """A mutation audit: nothing held the edge. A time within this server's second (its "As of" is cut to the
    second) is no time ahead; one a whole second after it is."""
    now = "2024-04-11T11:00:00Z"
    assert wording.clock_ahead("2024-04-11T11:00:00.999Z", now) is None
    assert wording.clock_ahead("2024-04-11T11:01:30.900Z", now) == CLOCK_AHEAD.format("1m30s")  # not 1m31s: at least
    assert wording.clock_ahead("2024-04-11T11:00:01Z", now) == CLOCK_AHEAD.format("1s")


def test_a_collection_named_like_a_word_does_not_split_the_same_reason() -> None:
    """Masked in its own job's reason, the collection "data" made "failed to read data from s3" another reason."""
    same = "failed to read data from s3: AccessDenied"
    groups = listing([failed(i, name, same) for i, name in enumerate(("docs", "images", "data"))]).summary.failures
    assert [(group.count, group.distinct_reasons) for group in groups] == [(3, 1)]


def test_the_root_cause_is_the_traces_own_not_a_suppressed_exceptions() -> None:
    suppressed = f"\n\tSuppressed: java.io.IOException: close failed{FRAMES}\n\tCaused by: SUPPRESSED-CAUSE{FRAMES}"
    trace = f"java.io.IOException: x{FRAMES}\nCaused by: AccessDeniedException: s3a://b/k{FRAMES}{suppressed}"
    assert reasons.short_reason(trace).endswith("] Caused by: AccessDeniedException: s3a://b/k [...]")


def test_grouping_does_not_depend_on_which_job_comes_first() -> None:
    """Two reasons that lists show alike (their ends) but that differ past them in a number masked to one character:
    the first job's shape was kept for both, so which job failed last decided the groups."""
    tail = " then the read was retried" * 10
    a, b, c = (
        f"err {'9' * digits} {'a' * 95} {word} failed{'.' * 400}{tail}"
        for digits, word in ((200, "alpha"), (200, "beta"), (250, "beta"))
    )
    assert reasons.grouping_view(a)[0] == reasons.grouping_view(b)[0]
    orders = ([a, b, c], [b, a, c], [c, b, a])
    groupings = [
        sorted(
            (group.count, group.distinct_reasons)
            for group in listing([failed(i + 1, f"c{i}", r) for i, r in enumerate(order)]).summary.failures
        )
        for order in orders
    ]
    assert groupings[0] == groupings[1] == groupings[2]


def test_one_reason_is_one_group_whichever_collection_it_names() -> None:
    """Masked in ext_a's job only, "table ext_a: schema mismatch" was two reasons for ext_a and ext_b."""
    rows = [failed(1, "ext_a", "table ext_a: schema mismatch"), failed(2, "ext_b", "table ext_a: schema mismatch")]
    rows.append(failed(3, "ext_c", "table ext_c: schema mismatch"))
    groups = listing(rows).summary.failures
    assert [(group.count, group.distinct_reasons) for group in groups] == [(3, 2)]


def test_the_characters_cut_count_what_is_not_shown() -> None:
    """Neither the " ... " inside a long cause nor the part of a cause that the head already shows is a character
    shown of the reason."""
    cause = "Caused by: " + "x" * 600  # shown by its first 120 and last 75 characters
    past_head = f"java.io.IOException: {'y' * 400}{FRAMES}\n{cause}{FRAMES}"
    assert f"[... {len(past_head) - 300 - 120 - 75} characters cut;" in reasons.short_reason(past_head)
    in_head = f"E\n{cause}{FRAMES}"  # its first 120 characters are within the head's 300
    assert f"[... {len(in_head) - 300 - 75} characters cut;" in reasons.short_reason(in_head)


def test_the_group_of_the_rarest_reasons_counts_reasons_as_its_distinct_reasons_does() -> None:
    """And says of how many kinds they are: thirty denied reads, each naming its own file, among the rarest, made
    "(31 other reasons)", which overstated how many problems there are."""
    common = [failed(i, f"ext_{i}", f"reason {'abcd'[i % 4]}") for i in range(8)]  # four groups of two
    rare = [failed(10, "ext_p", "s3://b/p/1.parquet: gone"), failed(11, "ext_q", "s3://b/q/2.parquet: gone")]
    rare.append(failed(12, "ext_r", "quota exceeded"))
    others = listing([*common, *rare]).summary.failures[-1]
    assert (others.reason, others.count, others.distinct_reasons) == ("(3 other reasons, of 2 kinds)", 3, 3)


def test_request_ids_and_blanks_do_not_make_reasons_different() -> None:
    """The S3 error of every denied read carries its own request ids; "disk  full" is "disk full"."""
    denied = [
        failed(
            i,
            f"ext_{i}",
            f"Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: "
            f"4442587FB7D0A2F{i}; S3 Extended Request ID: hbWZ0N3s2tGhXK8C0cLz1q6uJ0o7QKf0yBFf0m5d3uO{i}gXWq6sM7pLp=)",
        )
        for i in range(1, 4)
    ]
    blanks = [failed(10, "ext_x", "disk full"), failed(11, "ext_y", "disk  full\n")]
    groups = listing([*denied, *blanks]).summary.failures
    assert sorted((group.count, group.distinct_reasons) for group in groups) == [(2, 1), (3, 3)]
    assert "(and" not in jobs.listing_text(listing(blanks))  # one reason: nothing "like it"


def test_upstream_words_in_text_show_their_control_characters_instead_of_obeying_them() -> None:
    """A colour code or a clear-screen in a reason (a file name in the bucket can put one there) would act on the
    terminal that shows a tool's text; a right-to-left mark would reorder the line. The data keeps them exactly."""
    name, reason = "ext_\x1b[31mred", "bad file\x1b[2J\u202eevil\x00 end"
    record = raw(jobId=1, collectionName=name, state="RefreshFailed", reason=reason)
    result = listing([record])
    ended = jobs.WaitResult.ended(normalize_record(record, now_ms=NOW), waited=1.0)
    for text in (jobs.listing_text(result), ended.message):
        assert not {"\x1b", "\u202e", "\x00"} & set(text), text
        assert "ext_\\x1b[31mred" in text and "bad file\\x1b[2J\\u202eevil\\x00 end" in text
    assert "\x1b" not in result.summary.text and "ext_\\x1b[31mred" in result.summary.text
    assert (result.jobs[0].collection_name, result.jobs[0].reason) == (name, reason)


def test_a_failure_without_times_is_current() -> None:
    """It failed before it started (or upstream did not say when): it cannot be history."""
    unplaced = raw(jobId=9, state="RefreshFailed", reason="quota exceeded", startTime=0, endTime=0)
    result = listing([*four_jobs(), unplaced])
    assert "later refresh" not in result.summary.text
    assert all(group.refreshed_since == [] for group in result.summary.failures)


def test_a_failure_after_the_last_completion_is_current() -> None:
    newer = raw(jobId=9, state="RefreshFailed", reason="schema mismatch", startTime=NOW - 60_000, endTime=NOW - 1)
    running = raw(jobId=10, collectionName="ext_music", state="RefreshInProgress", progress=5, startTime=NOW, endTime=0)
    result = listing([*four_jobs(), newer, running])
    assert "later refresh" not in result.summary.text
    assert all(group.refreshed_since == [] for group in result.summary.failures)


def test_order_is_failed_running_pending_rest_newest_first() -> None:
    records = [
        *four_jobs(),
        raw(jobId=5, collectionName="ext_a", startTime=1_712_832_500_000, endTime=1_712_832_900_000),
        raw(jobId=6, state="RefreshPaused", startTime=1_712_832_700_000, endTime=0),
    ]
    ordered = [job.job_id for job in listing(records).jobs]
    assert ordered[:3] == ["2", "3", "4"]
    # completed and unknown states share the last group, the most recent first: 5 ended after 6 started
    assert ordered[3:] == ["5", "6", "1"]


def test_the_failure_that_happened_last_comes_first() -> None:
    """ "Why did last night's refresh fail?": by when each failed, not when each started."""
    hour = 3_600_000
    records = [
        raw(jobId=1, collectionName="ext_long", state="RefreshFailed", startTime=NOW - 20 * hour, endTime=NOW - hour),
        raw(
            jobId=2, collectionName="ext_short", state="RefreshFailed", startTime=NOW - 8 * hour, endTime=NOW - 7 * hour
        ),
        raw(jobId=3, collectionName="ext_unstarted", state="RefreshFailed", startTime=0, endTime=NOW - 2 * hour),
        raw(jobId=4, collectionName="ext_undated", state="RefreshFailed", startTime=0, endTime=0),
    ]
    result = listing(records, limit=2)
    assert [job.collection_name for job in result.jobs] == ["ext_long", "ext_unstarted"]
    rest = listing(records, limit=2, cursor=result.page.next_cursor)
    assert [job.collection_name for job in rest.jobs] == ["ext_short", "ext_undated"]


def test_empty_answer_reads_naturally() -> None:
    assert listing([]).summary.text == "No refresh jobs in default."
    scoped = listing([], collection_name="ext_books", states=["failed"])
    assert scoped.summary.text == "No refresh jobs in state RefreshFailed for ext_books in default."


def test_text_has_one_compact_line_per_job() -> None:
    text = jobs.listing_text(listing(four_jobs()))
    lines = text.splitlines()
    assert len(lines) == 5
    assert lines[0].endswith(" As of 2024-04-11T11:01:40Z.")  # NOW: a model reading only text learns the time
    assert lines[1].startswith("- RefreshFailed ext_music job 2: 10%")
    assert lines[1].endswith("reason: permission denied")
    # 42% in 1300 s: the end 1795 s on, shown to the second (11:31:36), 29m56s after NOW (11:01:40)
    assert lines[2].endswith("running for 21m40s, estimated end 2024-04-11T11:31:36Z (in ~29m56s)")
    assert not text.lstrip().startswith("{")  # not a JSON dump


def test_a_first_page_that_shows_some_failures_tells_in_its_text_why_all_of_them_failed() -> None:
    """A host that reads only the text: seven failures of three reasons, a page of two jobs."""
    failed = [
        raw(
            jobId=10 + i,
            state="RefreshFailed",
            collectionName=f"ext_{i % 4}",
            reason=reason,
            endTime=NOW - 1000 - i * 1000,
        )
        for i, reason in enumerate(["denied", "denied", "schema", "denied", "quota", "schema", "denied"])
    ]
    fixer = raw(jobId=99, collectionName="ext_0", endTime=NOW)  # ext_0's failures (jobs 10 and 14) are fixed by it
    first = listing([*failed, fixer], limit=2)
    lines = jobs.listing_text(first).splitlines()
    assert lines[1] == "Why they failed (all 7 failed jobs, by reason):"
    # In listing order, current failures first: three names, then how many more.
    assert lines[2] == "- 4 failed in ext_1, ext_3, ext_2 and 1 more (1 fixed by a later refresh): denied"
    assert lines[3] == "- 2 failed in ext_2, ext_1: schema"
    assert lines[4] == "- 1 failed in ext_0 (1 fixed by a later refresh): quota"
    assert [group.count for group in first.summary.failures] == [4, 2, 1]  # the same groups as the structured ones
    assert lines[5].startswith("- RefreshFailed ext_1 job 11:") and len(lines) == 8  # two jobs, then the hint
    later = jobs.listing_text(listing([*failed, fixer], limit=2, cursor=first.page.next_cursor))
    assert "Why they failed" not in later  # a later page: its jobs come after the failures
    assert "Why they failed" not in jobs.listing_text(listing([*failed, fixer], limit=20))  # every failure shown


# On a page of one failed job, as the tests below ask for.
READ_EACH = (
    'list_refresh_jobs with the same dbName and state=["RefreshFailed"] shows each failed job and its reason '
    "(it begins with the failed job on this page)"
)


def test_the_text_says_where_the_reasons_it_sums_up_are_read() -> None:
    """Seven reasons, one job each: four groups and one of the three rarest, which says how to read them, in the
    scope of the question asked; asked for failed jobs already, the next pages."""
    failed = [
        raw(jobId=i, state="RefreshFailed", collectionName=f"ext_{i}", reason=f"disk {i} full", endTime=NOW - i * 1000)
        for i in range(7)
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    assert lines[2:6] == [f"- 1 failed in ext_{i}: disk {i} full" for i in range(4)]
    assert lines[6] == f"- 3 failed in ext_4, ext_5, ext_6: 3 other reasons; {READ_EACH}"
    assert listing(failed, limit=1).summary.failures[-1].reason == "(3 other reasons)"  # the structured group's
    asked = listing(failed, limit=7, states=["RefreshFailed"])
    assert [job.reason for job in asked.jobs] == [f"disk {i} full" for i in range(7)]  # as the line says
    paged = jobs.listing_text(listing(failed, limit=1, states=["failed"])).splitlines()
    assert paged[6].endswith("3 other reasons; the next pages (cursor) show each failed job and its reason")
    one = [{**record, "collectionName": "ext_x"} for record in failed]
    scoped = jobs.listing_text(listing(one, limit=1, collection_name="ext_x")).splitlines()
    same = 'the same dbName and collectionName and state=["RefreshFailed"]'
    assert scoped[6].endswith(f"3 other reasons; list_refresh_jobs with {same} shows {READ_EACH.split(' shows ')[1]}")
    two = jobs.listing_text(listing(failed, limit=2)).splitlines()
    assert two[6].endswith("shows each failed job and its reason (it begins with the 2 failed jobs on this page)")
    first_two = [job.job_id for job in listing(failed, limit=2, states=["RefreshFailed"]).jobs]
    assert first_two == [job.job_id for job in listing(failed, limit=2).jobs]  # as it says


def test_the_more_hint_offers_only_the_narrowing_not_asked_already() -> None:
    many = [raw(jobId=i, collectionName="ext_x", endTime=NOW - i * 1000) for i in range(3)]
    window = jobs.Since("1d", NOW - 24 * HOUR)
    ending = {
        (None, None, None): ", or narrow with state=[...] or collectionName or since.",
        ("ext_x", None, None): ", or narrow with state=[...] or since.",
        (None, ("RefreshCompleted",), None): ", or narrow with collectionName or since.",
        (None, None, window): ", or narrow with state=[...] or collectionName.",
        ("ext_x", ("RefreshCompleted",), window): '".',
    }
    for (collection, states, since), end in ending.items():
        hint = listing(many, limit=1, collection_name=collection, states=states, since=since).page.hint
        assert hint is not None and hint.endswith(end), (collection, states, since, hint)


def test_a_reason_that_reads_like_the_sum_of_others_is_shown_as_upstream_gave_it() -> None:
    failed = [
        raw(jobId=1, state="RefreshFailed", collectionName="a", reason="(3 other reasons)"),
        raw(jobId=2, state="RefreshFailed", collectionName="b", reason="disk full"),
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    assert "- 1 failed in a: (3 other reasons)" in lines


def test_the_failure_lines_of_the_text_stay_short_whatever_the_reasons() -> None:
    failed = [
        raw(
            jobId=i,
            state="RefreshFailed",
            collectionName=f"ext_{'n' * 200}{i}",
            reason=f"{i} " + "\U0001f4a5" * 1000,
        )
        for i in range(9)
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    block = lines[1 : lines.index(next(line for line in lines if line.startswith("- RefreshFailed")))]
    wire = sum(len(json.dumps(line, ensure_ascii=False).encode()) for line in block)
    assert wire <= 2_000  # on the wire (an emoji takes four bytes): the budget keeps room for the jobs
    assert block[-1].startswith("- and ") and block[-1].endswith(f"other reasons; {READ_EACH}.")
    assert all(" characters cut ...] " in line for line in block[1:-1])  # each reason by its two ends
    shown = sum(int(line.split()[1]) for line in block[1:-1])
    assert shown + int(block[-1].split()[2].rstrip(",")) == 9  # every failure counted, shown or not


def test_a_failure_line_too_long_to_fit_leaves_room_for_a_shorter_one_after_it() -> None:
    """Five failures whose reason is 600 control characters, and two of "disk full": the long group's line does not
    fit, and the short one's is shown rather than passed over with it."""
    failed = [
        raw(jobId=i, state="RefreshFailed", collectionName=f"c{i}", reason="\x1b" * 600 if i < 5 else "disk full")
        for i in range(7)
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    assert "- 2 failed in c6, c5: disk full" in lines
    assert any(line.startswith("- and 5 more failed jobs, of other reasons; ") for line in lines)


def test_a_failure_line_of_jobs_that_gave_no_reason_says_so() -> None:
    failed = [
        raw(jobId=i, state="RefreshFailed", collectionName=f"c{i}", reason=... if i < 3 else "disk full")
        for i in range(5)
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    assert "- 3 failed in c2, c1, c0: (no reason given)" in lines


@pytest.mark.parametrize("length", range(20, 420, 13))
def test_the_failure_lines_never_pass_their_bound_closing_line_included(length: int) -> None:
    """Reasons of control characters (six bytes each on the wire once escaped) of every length, five groups."""
    failed = [
        raw(jobId=i, state="RefreshFailed", collectionName=f"ext_{i}", reason=f"{i}" + "\x01" * length)
        for i in range(8)
    ]
    lines = jobs.listing_text(listing(failed, limit=1)).splitlines()
    block = [line for line in lines[1:] if not line.startswith(("- RefreshFailed", "Showing "))]
    assert sum(len(json.dumps(line, ensure_ascii=False).encode()) - 1 for line in block) <= 2_000
    groups = [line for line in block[1:] if not line.startswith("- and ")]
    shown = sum(int(line.split()[1]) for line in groups)
    rest = 8 - shown
    closing = f"- and {rest} more failed job{'s' if rest > 1 else ''}, of other reasons; {READ_EACH}."
    assert rest == 0 or block[-1] == closing


def test_a_wait_that_runs_out_says_how_far_off_the_estimated_end_is_or_how_long_ago_it_passed() -> None:
    running = normalize_record(raw(jobId=3, state="RefreshInProgress", progress=42, endTime=0), now_ms=NOW)
    assert running.estimated_end_at == "2024-04-11T11:31:36Z"  # as the listing's test works it out
    ahead = jobs.WaitResult.still_running(running, 45.0, now="2024-04-11T11:01:40Z")
    assert "Estimated end: 2024-04-11T11:31:36Z (in ~29m56s)." in ahead.message
    overrun = jobs.WaitResult.still_running(running, 45.0, now="2024-04-11T11:33:06Z")  # an old read's estimate
    assert "Estimated end: 2024-04-11T11:31:36Z (~1m30s ago)." in overrun.message
    assert "Estimated end: 2024-04-11T11:31:36Z." in jobs.WaitResult.still_running(running, 45.0).message


def test_a_wait_tells_a_stall_only_where_the_job_should_have_moved() -> None:
    """42% after 21m40s: ~1.9 points a minute. Unmoved over 180 s it should have gained ~5.8; over 90 s, ~2.9,
    which a cluster that reports progress in steps of a few points may not show yet."""
    running = normalize_record(raw(jobId=3, state="RefreshInProgress", progress=42, endTime=0), now_ms=NOW)
    now = "2024-04-11T11:01:40Z"
    stalled = jobs.WaitResult.still_running(running, 180.0, now=now, unmoved_for=180.0)
    assert "Its progress did not move during this wait: it may have stalled at 42%." in stalled.message
    assert "(in ~29m56s), if it goes on at its average rate so far." in stalled.message
    for quiet in (
        jobs.WaitResult.still_running(running, 90.0, now=now, unmoved_for=90.0),
        jobs.WaitResult.still_running(running, 180.0, now=now),
    ):
        assert "stalled" not in quiet.message and "average rate" not in quiet.message
        assert quiet.message.endswith("Call wait_for_refresh_job again to keep waiting.")


def test_a_wait_on_a_job_days_from_its_end_says_to_tell_the_user_not_to_wait_on() -> None:
    """5% after 10 hours: 190 hours to go. Told to wait on, a model would call every minute for a week."""
    started = NOW - 10 * 3600 * 1000
    slow = raw(jobId=4, state="RefreshInProgress", progress=5, startTime=started, endTime=0)
    message = jobs.WaitResult.still_running(normalize_record(slow, now_ms=NOW), 45.0, now=iso_utc(NOW)).message
    assert "(in ~7d22h00m)." in message
    assert message.endswith(
        "It is not expected to end for ~7d22h00m: tell the user the estimate rather than waiting on; "
        "get_refresh_job reads it again later."
    )


def test_a_job_too_early_to_estimate_says_so_and_the_least_time_it_will_take_at_its_pace() -> None:
    """4% after 24 minutes: under 5% the rate is too rough for an estimate, but a whole percent is less than one
    more than it says, so at its pace the job needs at least 24 min x 95 / 5 = 7h36m more. Told nothing, a model
    made up an estimate or was told to wait on, for hours."""
    started = NOW - 24 * 60 * 1000
    early = normalize_record(
        raw(jobId=4, state="RefreshInProgress", progress=4, startTime=started, endTime=0), now_ms=NOW
    )
    assert early.estimated_end_at is None
    said = "too early to estimate its end (under 5%); at its pace so far, at least ~7h36m more"
    assert said in wording.job_line(early, iso_utc(NOW))
    message = jobs.WaitResult.still_running(early, 45.0, now=iso_utc(NOW)).message
    assert message.endswith(
        f"It is {said}. Tell the user that rather than waiting on; get_refresh_job reads it again later."
    )
    # At 0% there is no pace to go by; a minute in at 2%, the least time left is under an hour: wait on.
    zero = normalize_record(
        raw(jobId=5, state="RefreshInProgress", progress=0, startTime=started, endTime=0), now_ms=NOW
    )
    assert wording.job_line(zero).endswith(
        "started 2024-04-11T10:37:40Z, running for 24m00s, too early to estimate its end (under 5%)"
    )
    soon = normalize_record(
        raw(jobId=6, state="RefreshInProgress", progress=2, startTime=NOW - 60_000, endTime=0), now_ms=NOW
    )
    assert jobs.WaitResult.still_running(soon, 45.0, now=iso_utc(NOW)).message.endswith(
        "It is too early to estimate its end (under 5%); at its pace so far, at least ~32m20s more. Call "
        "wait_for_refresh_job again to keep waiting."
    )


def test_the_text_rounds_durations_to_the_second_as_the_structured_answer_holds_them() -> None:
    """A job of 19.998 s "took 19s" beside its durationSeconds: 19.998."""
    quick = normalize_record(raw(startTime=1_712_832_000_000, endTime=1_712_832_019_998), now_ms=NOW)
    assert quick.duration_seconds == 19.998
    assert ", took 20s" in wording.job_line(quick)


def test_a_wait_on_a_job_that_had_ended_says_so_and_how_long_ago() -> None:
    """Else "completed at 10:50" read as news: neither a wait nor a job's record says what time it is now."""
    done = normalize_record(raw(), now_ms=NOW)
    already = jobs.WaitResult.ended(done, 0.0, already=True, now=iso_utc(NOW))
    assert already.message == (
        f"Refresh job {BIG_ID_TEXT} (ext_books) had already completed at 2024-04-11T10:50:00Z (~11m40s ago), "
        "before this wait began."
    )
    assert (
        jobs.WaitResult.ended(done, 12.0).message
        == f"Refresh job {BIG_ID_TEXT} (ext_books) completed at 2024-04-11T10:50:00Z."
    )


def test_paging_reaches_ids_that_differ_only_by_leading_zeros() -> None:
    records = [raw(jobId="7"), raw(jobId="007"), raw(jobId="0007")]
    seen: list[str] = []
    cursor = None
    for _ in range(len(records) + 1):
        page = listing(records, limit=1, cursor=cursor)
        seen += [job.job_id for job in page.jobs]
        cursor = page.page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == ["0007", "007", "7"]


def answer(*records: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({"code": 0, "data": {"records": list(records)}} | envelope).encode()


def test_answers_of_the_documented_shape_decode_to_checked_records() -> None:
    decoded = records.decode_list_records(answer(raw(), raw(jobId=5, state="RefreshPaused", extra={"x": 1})))
    assert decoded is not None
    assert [(r.job_id, r.state, r.collection) for r in decoded] == [
        (int(BIG_ID_TEXT), "RefreshCompleted", "ext_books"),
        (5, "RefreshPaused", "ext_books"),  # unknown states and fields pass, as in normalize_record
    ]
    assert records.decode_list_records(b'{"code":0,"data":{"records":null}}') == []  # Go's empty slice


@pytest.mark.parametrize(
    "body",
    [
        answer(raw(jobId="449503829274509313")),  # a string id: the general path reads it
        answer(raw(jobId=-1)),
        answer(raw(jobId=True)),
        answer(raw(startTime=None)),
        answer(raw(startTime=1.5e12)),
        answer(raw(endTime=records.MAX_EPOCH_MS + 1)),
        answer(raw(progress=101)),
        answer(raw(progress=37.5)),
        answer(raw(state="")),
        answer(raw(collectionName=7)),
        answer(raw(externalSource={"type": "volume"})),  # an object: the general path keeps it as one
        answer(raw(jobId=...)),
        answer(raw(), code=1800),
        b'{"code":0}',
        b'{"code":0,"data":{}}',
        b'{"code":0,"data":{"records":[1]}}',
        b"<html>busy</html>",
        b'{"code":0,"data":{"records":[]}} trailing',
        b'{"code":0,"data":{"records":[{"jobId":1,"state":"caf\xe9"}]}}',  # not UTF-8
        b'{"code":0,"data":{"records":[{"jobId":1,"state":"a","x":' + b"[" * 3000 + b"]" * 3000 + b"}]}}",
    ],
)
def test_anything_else_is_left_to_the_general_path(body: bytes) -> None:
    assert records.decode_list_records(body) is None


@pytest.mark.parametrize("decoded", [False, True])
def test_of_jobs_that_ended_together_the_first_listed_is_the_last_completed(decoded: bool) -> None:
    """Ties are rare but real (one batch finishing); the answer must not depend on upstream's order."""
    rows = [
        raw(jobId=1, startTime=1_712_830_000_000, endTime=1_712_832_600_000),
        raw(jobId=2, startTime=1_712_831_000_000, endTime=1_712_832_600_000),  # started later: listed first
        raw(jobId=3, startTime=1_712_829_000_000, endTime=1_712_832_000_000),
        raw(jobId=4, state="RefreshFailed", reason="denied"),  # the one-job page stops here: no sort of the rest
    ]
    for order in (rows, rows[::-1]):
        answer_records = records.decode_list_records(answer(*order)) if decoded else order
        assert answer_records is not None
        summary = listing(answer_records, limit=1).summary
        assert summary.last_completed is not None
        assert summary.last_completed.job_id == "2"


# --- the output schema -------------------------------------------------------------------------


class _Named(records.CamelModel):
    """A model with a field that happens to be called title."""

    title: str = Field(description="Kept: a property, not a schema title.")


class _Holder(records.CamelModel):
    named: _Named | None
    labels: dict[str, str] = Field(default={"title": "data, not a schema"})


def _schema_keys(node: Any) -> set[str]:
    """Every keyword used in a schema position (property names and data values excluded)."""
    if isinstance(node, list):
        return set().union(*(_schema_keys(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    keys = set(node)
    for key, value in node.items():
        if key == "properties":
            keys |= set().union(*(_schema_keys(sub) for sub in value.values()))
        elif key not in {"default", "enum", "const", "examples"}:
            keys |= _schema_keys(value)
    return keys


def test_output_schema_inlines_refs_and_drops_generated_titles_only() -> None:
    schema = _Holder.model_json_schema(by_alias=True)
    assert not {"$ref", "$defs", "title"} & _schema_keys(schema)
    named = schema["properties"]["named"]["anyOf"][0]
    assert named["properties"]["title"] == {"description": "Kept: a property, not a schema title.", "type": "string"}
    assert named["required"] == ["title"]
    assert named["description"] == "A model with a field that happens to be called title."
    assert schema["properties"]["labels"]["default"] == {"title": "data, not a schema"}


def test_output_schema_accepts_real_answers_and_rejects_off_contract_ones() -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(jobs.JobListing.model_json_schema(by_alias=True))
    answer = listing(four_jobs(), limit=2).model_dump(mode="json", by_alias=True)
    assert list(validator.iter_errors(answer)) == []
    breakages: dict[str, Callable[[dict[str, Any]], object]] = {
        "job id as a number": lambda a: a["jobs"][0].update(jobId=449503829274509313),
        "progress above 100": lambda a: a["jobs"][0].update(progress=101),
        "state missing": lambda a: a["jobs"][1].pop("state"),
        "null total": lambda a: a["summary"].update(total=None),
        "cursor as a number": lambda a: a["page"].update(nextCursor=3),
        "collections not a list": lambda a: a["summary"]["failures"][0].update(collections="ext_music"),
    }
    for name, breaks in breakages.items():
        broken = json.loads(json.dumps(answer))
        breaks(broken)
        assert list(validator.iter_errors(broken)), name


def test_a_wait_that_ends_in_failure_carries_the_reason_cut() -> None:
    record = normalize_record(raw(jobId=5, state="RefreshFailed", reason="x" * 20_000), now_ms=NOW)
    ended = jobs.WaitResult.ended(record, 3.0)
    assert ended.job.reason is not None and len(ended.job.reason) < reasons.REASON_CHARS + 100
    assert len(ended.message) < reasons.REASON_CHARS + 200 and "get_refresh_job shows more" in ended.message


def test_unreadable_records_are_counted_apart_and_the_first_problem_named() -> None:
    odd = [raw(jobId=2, progress="most"), raw(jobId=3, state=None), raw(jobId=4, endTime=[1])]
    both = listing([raw(jobId=1), *odd]).summary
    assert (both.total, both.unreadable, both.by_state[records.COMPLETED]) == (1, 3, 1)
    assert both.text.startswith("1 refresh job in default: 1 completed.")
    assert both.text.endswith(
        "3 job records from the cluster could not be read and are not counted: job 2: progress should be "
        "an integer 0-100, got str 'most' (and 2 more)."
    )
    only_odd = listing(odd[:1], states=["failed"]).summary
    assert (only_odd.total, only_odd.unreadable) == (0, 1)
    assert only_odd.text.startswith("No refresh jobs in state RefreshFailed in default. 1 job record from")
    assert listing([raw(jobId=1)]).summary.unreadable == 0


def test_a_job_without_a_collection_is_named_by_its_id_not_as_if_the_id_were_one() -> None:
    summary = listing([raw(jobId=12, collectionName=None, state="RefreshFailed", reason="denied")]).summary
    assert summary.text.startswith("1 refresh job in default: 1 failed (job 12).")
    assert summary.failures[0].collections == ["job 12"]
    # Where a line names a job's collection, it says there is none: a "-" read as a formatting slip.
    nameless = normalize_record(raw(jobId=12, collectionName=None, state="RefreshFailed", reason="denied"), now_ms=NOW)
    assert wording.job_line(nameless).startswith("- RefreshFailed (no collection) job 12: 100%")
    assert jobs.WaitResult.ended(nameless, 1.0).message.startswith("Refresh job 12 (no collection) failed at ")
    running = nameless.model_copy(update={"state": "RefreshInProgress", "ended_at": None})
    assert jobs.WaitResult.still_running(running, 1.0).message.startswith("Refresh job 12 (no collection) has not ")


def test_a_time_window_reads_a_job_by_its_newest_copy() -> None:
    """A stale "running" copy of a job that ended before the window is no job of the window, nor are jobs that
    ended before it; one still running is, however long ago it started."""
    ended = raw(jobId=1, state="RefreshFailed", progress=40, startTime=NOW - 3 * HOUR, endTime=NOW - 2 * HOUR)
    stale = {**ended, "state": "RefreshInProgress", "endTime": 0}
    running = raw(jobId=2, collectionName="ext_a", state="RefreshInProgress", progress=9, startTime=NOW - 5 * HOUR)
    running |= {"endTime": 0}
    done = raw(jobId=3, collectionName="ext_b", startTime=NOW - 40 * 60_000, endTime=NOW - 30 * 60_000)
    # Odd times: a running job whose record says it ended a day ago; one that ended "before" it started.
    says_ended = raw(jobId=4, collectionName="ext_c", state="RefreshInProgress", progress=3, endTime=NOW - 24 * HOUR)
    skewed = raw(jobId=5, collectionName="ext_d", startTime=NOW - 30 * 60_000, endTime=NOW - 2 * HOUR)
    window = listing([stale, ended, running, done, says_ended, skewed], since=jobs.Since("1h", NOW - HOUR))
    assert sorted(job.job_id for job in window.jobs) == ["2", "3", "4", "5"]
    assert window.since == iso_utc(NOW - HOUR) and window.summary.by_state["RefreshFailed"] == 0


def test_where_a_time_window_reads_each_failed_job_it_names_since() -> None:
    failed = [
        raw(jobId=i, state="RefreshFailed", collectionName=f"ext_{i}", reason=f"disk {i} full", endTime=NOW - i * 1000)
        for i in range(7)
    ]
    text = jobs.listing_text(listing(failed, limit=1, since=jobs.Since("1h", NOW - HOUR)))
    at = iso_utc(NOW - HOUR)
    assert f'list_refresh_jobs with the same dbName, since="{at}" and state=["RefreshFailed"] shows each' in text
    one = [{**record, "collectionName": "ext_1"} for record in failed]
    scoped = jobs.listing_text(listing(one, limit=1, collection_name="ext_1", since=jobs.Since("1h", NOW - HOUR)))
    assert f'with the same dbName and collectionName, since="{at}" and state=' in scoped


@pytest.mark.parametrize("decoded", [False, True], ids=["general path", "msgspec path"])
def test_of_copies_of_one_job_that_differ_the_one_furthest_along_is_the_job(decoded: bool) -> None:
    """A gateway merging a retried page may repeat a record read at two moments: the later copy is the news."""
    running = raw(state="RefreshInProgress", progress=40, endTime=0)
    ended = raw(state="RefreshFailed", progress=40, endTime=1_712_832_600_000, reason="permission denied")
    further = raw(jobId=7, state="RefreshInProgress", progress=80, endTime=0)
    behind = raw(jobId=7, state="RefreshInProgress", progress=30, endTime=0)
    answer: list[Any] = [running, behind, ended, further]
    result = listing(as_answered(answer, decoded))
    assert [(job.job_id, job.state, job.progress) for job in result.jobs] == [
        (BIG_ID_TEXT, "RefreshFailed", 40),
        ("7", "RefreshInProgress", 80),
    ]
    counted = {state: count for state, count in result.summary.by_state.items() if count}
    assert counted == {"RefreshFailed": 1, "RefreshInProgress": 1}
    assert result.summary.total == 2


@pytest.mark.parametrize("decoded", [False, True], ids=["general path", "msgspec path"])
def test_jobs_of_two_collections_that_share_an_id_are_two_jobs_and_the_text_says_why(decoded: bool) -> None:
    """The API reference's own example: ext_books completed and ext_movies running, both with an id rounded to
    449503829274509300. Merged as copies of one job, the running one vanished from every count."""
    rounded = 449503829274509300
    books = raw(jobId=rounded)
    movies = raw(jobId=rounded, collectionName="ext_movies", state="RefreshInProgress", progress=42, endTime=0)
    stale_movies = {**movies, "progress": 30}  # a copy of one of them still merges into the job
    answer: list[Any] = [books, stale_movies, movies]
    result = listing(as_answered(answer, decoded))
    assert [(job.collection_name, job.state, job.progress) for job in result.jobs] == [
        ("ext_movies", "RefreshInProgress", 42),
        ("ext_books", "RefreshCompleted", 100),
    ]
    assert result.summary.total == 2
    assert {state: n for state, n in result.summary.by_state.items() if n} == {
        "RefreshInProgress": 1,
        "RefreshCompleted": 1,
    }
    assert "1 in progress (ext_movies, 42%)" in result.summary.text
    assert "share job id 449503829274509300 (ext_books, ext_movies): ids rounded on their way" in result.summary.text
    assert "share" not in listing([books, movies | {"jobId": 7}]).summary.text
    small = listing([books | {"jobId": 7}, movies | {"jobId": 7}]).summary.text
    assert "share job id 7 (ext_books, ext_movies): the cluster gave them one id;" in small
    assert "rounded" not in small and "2^53" not in small  # 7 is exact as any number


@pytest.mark.parametrize("decoded", [False, True], ids=["general path", "msgspec path"])
@pytest.mark.parametrize("rounded", [449503829274509300, 449503829274509312], ids=["as JavaScript prints", "whole"])
def test_refreshes_of_one_collection_whose_ids_were_rounded_alike_are_two_jobs(decoded: bool, rounded: int) -> None:
    """ext_books's refresh of the night (...313) completed, and the one of the morning (...315) runs: both ids round
    to one double. Merged as copies of one job, the running refresh vanished, and ext_books read as refreshed."""
    done = raw(jobId=rounded)
    running = raw(jobId=rounded, state="RefreshInProgress", progress=30, startTime=1_712_836_400_000, endTime=0)
    stale = {**running, "progress": 20}  # a copy of the running one, started when it did: still one job
    answer: list[Any] = [done, stale, running]
    result = listing(as_answered(answer, decoded))
    assert [(job.job_id, job.state, job.progress) for job in result.jobs] == [
        (str(rounded), "RefreshInProgress", 30),
        (str(rounded), "RefreshCompleted", 100),
    ]
    assert result.summary.total == 2
    assert "1 in progress (ext_books, 30%), 1 completed" in result.summary.text
    assert f"Jobs of ext_books share job id {rounded}: ids rounded on their way" in result.summary.text
    first = listing(answer, limit=1)
    second = listing(answer, limit=1, cursor=first.page.next_cursor)
    assert [first.jobs[0].state, second.jobs[0].state] == ["RefreshInProgress", "RefreshCompleted"]
    assert second.page.next_cursor is None


def test_a_record_of_a_rounded_id_not_yet_started_is_a_copy_of_the_job_of_that_id_that_started() -> None:
    """Pending with no start time beside running: a stale copy (or a refresh queued since, which shows once it
    starts); two jobs would count one twice."""
    rounded = 449503829274509300
    pending = raw(jobId=rounded, state="RefreshPending", progress=0, startTime=0, endTime=0)
    running = raw(jobId=rounded, state="RefreshInProgress", progress=10, startTime=1_712_836_400_000, endTime=0)
    result = listing([pending, running])
    assert [(job.state, job.progress) for job in result.jobs] == [("RefreshInProgress", 10)]
    assert result.summary.total == 1 and "share" not in result.summary.text


def test_a_page_tells_a_job_that_moved_past_the_cursor_under_an_id_that_two_collections_share() -> None:
    """The cursor's digest tells jobs by id and collection: ext_books's job, shown, completes and moves past the
    cursor, and ext_movies's job of the same rounded id starts, before it, never to be shown."""
    rounded = 449503829274509300
    books = raw(jobId=rounded, state="RefreshInProgress", progress=50, startTime=1_712_830_000_000, endTime=0)
    movies = raw(jobId=rounded, collectionName="ext_movies", state="RefreshPending", progress=0, startTime=0, endTime=0)
    first = listing([books, movies], limit=1)
    assert [job.collection_name for job in first.jobs] == ["ext_books"]
    books_done = {**books, "state": "RefreshCompleted", "progress": 100, "endTime": 1_712_836_000_000}
    movies_running = {**movies, "state": "RefreshInProgress", "progress": 5, "startTime": 1_712_836_100_000}
    second = listing([books_done, movies_running], limit=5, cursor=first.page.next_cursor)
    assert [job.collection_name for job in second.jobs] == ["ext_books"]  # shown again; ext_movies passed over
    assert "The jobs before this page changed since the page before" in second.summary.text


def test_records_of_an_exact_id_that_started_at_different_times_are_copies_of_one_job() -> None:
    """...313 is no double's value: no rounding made it, so its records are copies, and the one furthest along
    stands for the job."""
    done = raw()
    running = raw(state="RefreshInProgress", progress=30, startTime=1_712_836_400_000, endTime=0)
    result = listing([running, done])
    assert [(job.job_id, job.state) for job in result.jobs] == [(BIG_ID_TEXT, "RefreshCompleted")]
    assert "share" not in result.summary.text


@pytest.mark.parametrize("decoded", [False, True], ids=["general path", "msgspec path"])
def test_reasons_that_differ_only_in_blanks_around_them_are_one_and_a_blank_reason_is_none(decoded: bool) -> None:
    answer: list[Any] = [
        raw(jobId=1, collectionName="ext_a", state="RefreshFailed", reason="disk full"),
        raw(jobId=2, collectionName="ext_b", state="RefreshFailed", reason="disk full \n"),
        raw(jobId=3, collectionName="ext_c", state="RefreshFailed", reason="\n"),
        raw(jobId=4, collectionName="ext_d", state="RefreshFailed", reason=...),
    ]
    result = listing(as_answered(answer, decoded))
    groups = {group.reason: sorted(group.collections) for group in result.summary.failures}
    assert groups == {"disk full": ["ext_a", "ext_b"], "(no reason given)": ["ext_c", "ext_d"]}
    assert {job.collection_name: job.reason for job in result.jobs} == {
        "ext_a": "disk full",
        "ext_b": "disk full",
        "ext_c": None,
        "ext_d": None,
    }
    assert "reason: (no reason given)" in wording.job_line(
        next(job for job in result.jobs if job.collection_name == "ext_c")
    )


def test_in_an_answer_for_one_collection_a_copy_that_names_none_is_a_copy_of_its_job() -> None:
    named = raw(jobId=42, collectionName="ext_a", state="RefreshInProgress", progress=40, endTime=0)
    unnamed = {**named, "collectionName": None, "progress": 30}
    result = listing([named, unnamed], collection_name="ext_a")
    assert [(job.job_id, job.collection_name, job.progress) for job in result.jobs] == [("42", "ext_a", 40)]
    assert result.summary.total == 1 and "share" not in result.summary.text


def test_in_an_answer_for_one_collection_a_later_refresh_fixes_a_failure_whose_record_names_none() -> None:
    """Upstream filtered by ext_books and left the name out: both jobs are ext_books's, so the later completed
    refresh fixed the failure, and neither is named "job <id>"."""
    failed = raw(jobId=11, collectionName=..., state="RefreshFailed", progress=37, reason="disk full")
    done = raw(jobId=12, collectionName=..., startTime=1_712_836_400_000, endTime=1_712_837_000_000)
    result = listing([failed, done], collection_name="ext_books")
    assert [(job.job_id, job.collection_name, job.fixed_since) for job in result.jobs] == [
        ("11", "ext_books", True),
        ("12", "ext_books", None),
    ]
    [group] = result.summary.failures
    assert (group.collections, group.not_fixed, group.refreshed_since) == (["ext_books"], 0, ["ext_books"])
    assert "1 failed (1 fixed by a later refresh)" in result.summary.text
    assert "job 11" not in result.summary.text and "job 12" not in result.summary.text
    everywhere = listing([failed, done])  # in an answer for every collection, a record that names none stays so
    assert [job.collection_name for job in everywhere.jobs] == [None, None]


def test_collections_whose_names_share_a_crc32_are_still_told_apart_by_the_cursor() -> None:
    """The names plumless and buckeroo have one CRC-32: a 32-bit tie lost one of two jobs that share an id and
    times."""
    pair = [raw(jobId=7, collectionName=name) for name in ("plumless", "buckeroo")]
    seen: list[str | None] = []
    cursor = None
    for _ in range(3):
        page = listing(pair, limit=1, cursor=cursor)
        seen += [job.collection_name for job in page.jobs]
        if (cursor := page.page.next_cursor) is None:
            break
    assert sorted(map(str, seen)) == ["buckeroo", "plumless"]


def test_long_reasons_that_differ_only_in_how_much_was_cut_between_their_ends_are_one_group() -> None:
    head, tail = "java.io.IOException: read failed" + "." * 400, "Caused by: AccessDeniedException" + "!" * 200
    short, longer = head + "x" * 100 + tail, head + "x" * 900 + tail
    groups = listing(
        [
            raw(jobId=1, collectionName="ext_a", state="RefreshFailed", reason=short),
            raw(jobId=2, collectionName="ext_b", state="RefreshFailed", reason=longer),
            raw(jobId=3, collectionName="ext_c", state="RefreshFailed", reason="(no reason given)"),
            raw(jobId=4, collectionName="ext_d", state="RefreshFailed", reason=...),
        ]
    ).summary.failures
    assert sorted((group.count, sorted(group.collections)) for group in groups) == [
        (1, ["ext_c"]),  # a reason that reads like none given is still its own
        (1, ["ext_d"]),
        (2, ["ext_a", "ext_b"]),
    ]
    assert sum(group.count for group in groups) == 4


def test_many_states_this_server_does_not_know_are_counted_together_beyond_the_five_most_common() -> None:
    """A cluster sending a state per job must not make the summary grow with the jobs: exact, but folded."""
    odd = [raw(jobId=i, state=f"RefreshQ{i}") for i in range(1, 2001)]
    common = [raw(jobId=3000 + i, state=f"RefreshZ{i % 2}") for i in range(6)]  # 3 jobs each in two states
    summary = listing([*odd, *common, raw(jobId=9000)]).summary
    assert summary.total == 2007 and sum(summary.by_state.values()) == 2007
    assert summary.by_state["RefreshZ0"] == summary.by_state["RefreshZ1"] == 3
    assert summary.by_state["(1997 other states)"] == 1997  # of the 2000 seen once, the first 3 by name are named
    assert len(summary.by_state) == 4 + 5 + 1
    assert summary.text.startswith(
        "2007 refresh jobs in default: 1 completed, 1 RefreshQ1, 1 RefreshQ10, 1 RefreshQ100, 3 RefreshZ0, "
        "3 RefreshZ1, 1997 jobs in 1997 other states. Last completed:"
    )
    assert jobs.answer_bytes(listing(odd, limit=10)) < jobs.ANSWER_BUDGET_BYTES


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("collectionName", "x" * 256, "collectionName is 256 characters long, more than a Milvus name may be"),
        ("state", "RefreshQ" * 9, "state is 72 characters long, not a state name"),
    ],
)
@pytest.mark.parametrize("decoded", [False, True], ids=["general path", "msgspec path"])
def test_a_name_or_state_longer_than_any_a_cluster_gives_makes_the_record_unreadable(
    field: str, value: str, problem: str, decoded: bool
) -> None:
    """One such field would outweigh the whole answer (a name appears in the summary, the page and the text)."""
    answer: list[Any] = [raw(jobId=1), raw(jobId=2, **{field: value}), raw(jobId=3, collectionName="x" * 255)]
    if decoded:
        answer = records.decode_list_records(json.dumps({"code": 0, "data": {"records": answer}}).encode()) or answer
    summary = listing(answer).summary
    assert (summary.total, summary.unreadable) == (2, 1)
    assert f"job 2: {problem}" in summary.text


def test_failure_groups_name_fewer_collections_when_their_names_are_long() -> None:
    """Five groups of ten names of 255 characters would take 25 kB: each group names ~600 characters of them."""
    failures = [
        raw(jobId=i, collectionName=f"{'x' * 250}_{i:04d}", state="RefreshFailed", reason=f"reason {i % 5}")
        for i in range(60)
    ]
    result = listing(failures, limit=10)
    for group in result.summary.failures:
        assert 1 <= len(group.collections) <= 2 and sum(map(len, group.collections)) <= 600
    assert sum(group.count for group in result.summary.failures) == 60
    assert jobs.answer_bytes(result) < jobs.ANSWER_BUDGET_BYTES and result.page.returned >= 5
    short = listing([raw(jobId=i, state="RefreshFailed", collectionName=f"ext_{i}", reason="r") for i in range(12)])
    assert len(short.summary.failures[0].collections) == 10  # short names: ten, as before


def test_states_asked_for_or_one_more_than_five_are_named_and_a_sum_never_takes_a_states_place() -> None:
    six = [raw(jobId=i, state=f"RefreshQ{i}") for i in range(6)]
    assert "(1 other states)" not in listing(six).summary.by_state  # one more is named, not summed alone
    assert {f"RefreshQ{i}" for i in range(6)} <= set(listing(six).summary.by_state)
    asked = [f"RefreshQ{letter}" for letter in "abcdefgh"]
    filtered = listing([raw(jobId=i, state=state) for i, state in enumerate(asked)], states=asked).summary.by_state
    assert filtered == dict.fromkeys(asked, 1)  # asked for by name: each named
    odd = [raw(jobId=i, state=f"RefreshQ{i}") for i in range(7)]
    clash = [raw(jobId=100 + i, state="(3 other states)") for i in range(3)]  # upstream's own state of that name
    by_state = listing([*odd, *clash]).summary.by_state  # named: it and four of the seven; three summed
    assert by_state["(3 other states)"] == 3 and by_state["((3 other states))"] == 3
    assert sum(by_state.values()) == 10


@pytest.mark.parametrize("char", ["x", "\U0001f600", "\x01"], ids=["ascii", "emoji", "control"])
def test_long_names_of_any_characters_keep_pages_whole(char: str) -> None:
    """The names' cap counts bytes on the wire, as the budget does: an emoji takes four, a control character six.
    Names of 250 control characters, which no cluster allows, pass the budget through its floors (one job a page,
    one name a group, three in the text) but stay under the 24 kB a default answer may take."""
    failures = [
        raw(jobId=i, collectionName=f"{char * 250}_{i:04d}", state="RefreshFailed", reason=f"reason {i % 7}")
        for i in range(60)
    ]
    result = listing(failures, limit=10)
    budget = 24_000 if char == "\x01" else jobs.ANSWER_BUDGET_BYTES
    assert jobs.answer_bytes(result) < budget and result.page.returned >= 1


def test_a_job_at_100_percent_is_finishing_only_while_no_end_is_reported_and_whatever_the_clocks_say() -> None:
    """From a review: "ended ..., at 100% and finishing up (its end not yet reported)" beside an end; and a start
    after this server's clock gave the line "finishing up" but the wait "the cluster's clock appears ahead"."""
    now_ms = 1_714_560_000_000
    now = iso_utc(now_ms)

    def running(start_ms: int, end_ms: int = 0) -> JobRecord:
        fields = RecordFields(
            "449503829274509312", "RefreshInProgress", start_ms, end_ms, 100, "ext_books", None, None, None
        )
        return render_record(fields, now_ms)

    ended = running(now_ms - 600_000, now_ms - 5_000)
    assert "finishing" not in job_line(ended, now) and "ended" in job_line(ended, now)
    ahead = running(now_ms + 30_000)
    assert job_line(ahead, now).endswith("at 100% and finishing up (its end not yet reported)")
    waited = wait_running(ahead, 30, None, now=now)
    assert "It is at 100% and finishing up" in waited and "clock appears ahead" not in waited


def test_an_earlier_read_further_along_is_told_only_of_the_same_running_job() -> None:
    """A read at 60% before one at 35%: told. Not of a job of another collection that shares its id (a gateway
    rounded both), nor of one back at 60% or past it, nor of one no longer running, nor from a read that ended after
    this one was asked."""
    now_ms = 1_714_560_000_000

    def job(progress: int, collection: str = "ext_a", state: str = "RefreshInProgress") -> JobRecord:
        fields = RecordFields("7", state, now_ms - 3_600_000, 0, progress, collection, None, None, None)
        return render_record(fields, now_ms)

    highest: records.Highest = {("7", "ext_a"): (60, now_ms - 300_000, 1)}  # the server's second read's answer
    asked = 4  # this read's request: the server's fifth
    down = records.with_earlier_progress(job(35), highest, asked)
    assert down.earlier_progress is not None
    assert (down.earlier_progress.progress, down.earlier_progress.read_at) == (60, iso_utc(now_ms - 300_000))
    assert "down from 60% read at" in job_line(down, iso_utc(now_ms))
    alone = [job(35, "ext_b"), job(60), job(61), job(35, state="RefreshPending"), job(35, state="RefreshFailed")]
    for told_alone in alone:
        assert records.with_earlier_progress(told_alone, highest, asked) is told_alone
    other: records.Highest = {("8", "ext_a"): highest["7", "ext_a"]}
    assert records.with_earlier_progress(job(35), other, asked).earlier_progress is None
    # A review: a list asked before a read that found 62% came back after it, with 60%: the two overlapped.
    overlapped = job(60)
    later: records.Highest = {("7", "ext_a"): (62, now_ms - 500, 5)}
    assert records.with_earlier_progress(overlapped, later, asked) is overlapped


def test_a_running_job_is_told_it_may_have_stalled_only_when_its_own_rate_should_have_moved_it() -> None:
    """20% after an hour (a point every 3 minutes): unmoved for 30 minutes it should have gained 10 points, for 12
    minutes only 4 (a cluster may report progress in steps of a few points); another reading or another state is no
    stall, nor, under a minute (``UNMOVED_SECONDS``), is a job that moves fast (30 points a minute); a first read
    before the job's start counts from the start. Under 5%, its average rate cannot add 5 points while it has not
    moved: "under 5% after 1h" says it."""
    now_ms = 1_714_560_000_000
    now = iso_utc(now_ms)

    def running(progress: int, started_ago_ms: int) -> JobRecord:
        fields = RecordFields("7", "RefreshInProgress", now_ms - started_ago_ms, 0, progress, "b", None, None, None)
        return render_record(fields, now_ms)

    job, since = running(20, 3_600_000), now_ms - 1_800_000
    stalled = records.with_no_progress_since(job, {"7": (("RefreshInProgress", 20), since)}, now_ms)
    assert stalled.no_progress_since == iso_utc(since)
    assert (
        f"running for 1h00m, no progress since {iso_utc(since)} (~30m00s ago), estimated end "
        f"{job.estimated_end_at} (in ~4h00m) if it resumes at its average rate: it may have stalled"
    ) in job_line(stalled, now)
    for seen in [
        (("RefreshInProgress", 20), now_ms - 720_000),
        (("RefreshInProgress", 19), since),
        (("RefreshPending", 20), since),
    ]:
        assert records.with_no_progress_since(job, {"7": seen}, now_ms) is job
    # A first read before its start (the cluster's clock ahead): unmoved since its start, not before it.
    ahead = records.with_no_progress_since(job, {"7": (("RefreshInProgress", 20), now_ms - 3_700_000)}, now_ms)
    assert ahead.no_progress_since == job.started_at
    assert records.with_no_progress_since(job, {"8": (("RefreshInProgress", 20), since)}, now_ms) is job
    fast = running(50, 100_000)  # 30 points a minute
    assert records.with_no_progress_since(fast, {"7": (("RefreshInProgress", 50), now_ms - 59_000)}, now_ms) is fast
    assert records.with_no_progress_since(fast, {"7": (("RefreshInProgress", 50), now_ms - 60_000)}, now_ms) != fast
    slow = running(4, 3_000_000)
    assert records.with_no_progress_since(slow, {"7": (("RefreshInProgress", 4), now_ms - 3_000_000)}, now_ms) is slow


def test_the_stall_claims_edges_five_points_at_least_an_hour_at_100_and_running_jobs_only() -> None:
    """A mutation audit: nothing held the edges. 20% after an hour, unmoved for exactly 15 minutes, should have
    gained 5 points (``STALLED_POINTS``, at least); 99% after 100 hours, unmoved for 2 hours, only 2, and 99% is not
    100% (finishing up): no claim. At 100%, a second past the hour is over it. A job with no start time has no
    average rate (nothing to divide by), and a state not running (pending, or a newer cluster's with no end) makes
    no claim at 100% either. ``noProgressSince`` is told to the second, as times read are shown."""
    now_ms = 1_714_560_000_000

    def job(progress: int, started_ago_ms: int | None, state: str = "RefreshInProgress") -> JobRecord:
        start = 0 if started_ago_ms is None else now_ms - started_ago_ms
        return render_record(RecordFields("7", state, start, 0, progress, "b", None, None, None), now_ms)

    def unmoved(record: JobRecord, for_ms: int) -> JobRecord:
        seen = {"7": ((record.state, record.progress), now_ms - for_ms)}
        return records.with_no_progress_since(record, seen, now_ms)

    assert unmoved(job(20, HOUR), 900_000).no_progress_since == iso_utc(now_ms - 900_000)  # 20 x 15 / 60 = 5 points
    assert unmoved(job(20, HOUR), 899_000).no_progress_since is None
    late = job(99, 100 * HOUR)
    assert unmoved(late, 2 * HOUR) is late  # 2 points at its rate: not yet
    done = job(100, 3 * HOUR)
    assert unmoved(done, HOUR + 1000).no_progress_since == iso_utc(now_ms - HOUR - 1000)
    assert unmoved(done, HOUR) is done
    no_start = job(30, None)
    assert no_start.duration_seconds is None
    assert unmoved(no_start, 2 * HOUR) is no_start
    for state in ("RefreshPending", "RefreshCancelling"):
        other = job(100, 3 * HOUR, state)
        assert not other.has_ended
        assert unmoved(other, 2 * HOUR) is other
    # A first read at 10:00:00.750 is told as 10:00:00, as every time this server read is.
    since = now_ms - 1_800_000 + 750
    told = records.with_no_progress_since(job(20, HOUR), {"7": (("RefreshInProgress", 20), since)}, now_ms)
    assert told.no_progress_since == iso_utc(since - 750)


@pytest.mark.parametrize("state", ["RefreshInProgress", "RefreshPending"])
def test_an_end_time_beside_a_state_that_has_not_ended_is_not_told_as_an_end(state: str) -> None:
    """An audit: a running job whose record gave an end time (5 minutes from now) read "ended ..., took 15m00s", and
    a model reported it finished; the API gives 0 while a job runs. Its state decides; the end time is told as given."""
    now_ms = 1_714_560_000_000
    fields = RecordFields("7", state, now_ms - 600_000, now_ms + 300_000, 50, "ext_books", None, None, None)
    job = render_record(fields, now_ms)
    line = job_line(job, iso_utc(now_ms))
    assert f"an end time given ({iso_utc(now_ms + 300_000)}) though its state has not ended" in line
    assert "ended 2" not in line and "took" not in line
    # Its time runs on, as durationSeconds says of a job not ended (a review: it was the end minus the start).
    assert job.duration_seconds == 600
    assert ("running for 10m00s" if state == "RefreshInProgress" else "10m00s ago") in line
    # Unmoved for hours, it may have stalled, and with no end to expect, a wait says to tell the user.
    since = now_ms - 3 * 3_600_000
    stalled = records.with_no_progress_since(job, {"7": ((state, 50), since)}, now_ms)
    if state == "RefreshPending":
        assert stalled is job  # a pending job does not move
        return
    waited = wait_running(stalled, 30, None, now=iso_utc(now_ms))
    assert f"Every read since {job.started_at} (~10m00s ago) found it at 50%: it may have stalled." in waited
    assert waited.endswith("Tell the user that rather than waiting on; get_refresh_job reads it again later.")


def read_after(reads: Sequence[tuple[float, int]], **fields: Any) -> JobRecord:
    """A running job's record as the last of ``reads`` (minutes from now, progress) finds it, after the others."""
    pace: records.Pace | None = None
    for minute, progress in reads[:-1]:
        pace = records.paced(pace, progress, NOW + int(minute * 60_000))
    minute, progress = reads[-1]
    now_ms = NOW + int(minute * 60_000)
    record = raw(jobId=7, state="RefreshInProgress", progress=progress, startTime=NOW - 65 * 60_000, endTime=0)
    job = normalize_record(record | fields, now_ms=now_ms)
    return records.with_observed_pace(job, {"7": pace} if pace else {}, now_ms)


def test_an_estimate_is_made_from_the_pace_seen_between_two_rises_only() -> None:
    """12% after 65 minutes, read every minute as it gained a point a minute: the pace seen, once 5 points over 10
    minutes or more show between two rises, each seen within a quarter of the span; not from a first read's value,
    nor a rise seen long after it came, nor a burst (a review: 10 points in 3 minutes, then still for 27, told an end
    10 times too early), nor once the job has stopped for two steps' time, nor for a job not running, at 100%, with
    an end time given, or gone back. A list's page gets it through ``as_seen``, as a read does."""
    smooth = [(minute, 12 + minute) for minute in range(-11, 1)]  # 1% eleven minutes ago, 12% now
    paced = read_after(smooth)
    assert (paced.estimated_end_at, paced.pace_since) == (iso_utc(NOW + 88 * 60_000), iso_utc(NOW - 600_000))
    average = read_after([(0, 12)])
    assert average.estimated_end_at == iso_utc(NOW + 65 * 60_000 * 88 // 12)  # since the start: ~7h57m
    unpaced: list[list[tuple[float, int]]] = [
        [(-10, 2), (0, 12)],  # 2% at the first read: reached when is unknown
        [(minute, 12 + minute) for minute in range(-4, 1)],  # 4 points
        [(-55 / 60, 2), (-50 / 60, 3), (0, 12)],  # 9 points in 50 s
        [(-3 + quarter / 4, 2 + quarter) for quarter in range(13)],  # a burst: 12 points in 3 minutes, read often
        [*smooth[:-1], (0, 10)],  # gone back
        [(-12, 0), (-2, 5), (0, 10)],  # 5% seen 10 minutes after 0%: it came any time between
        [*[(minute - 10, 12 + minute) for minute in range(-11, 1)], (0, 12)],  # unmoved for 10 minutes since
    ]
    for reads in unpaced:
        job = read_after(reads)
        assert job.pace_since is None, reads
    others: list[dict[str, Any]] = [{"state": "RefreshPending"}, {"progress": 100}, {"endTime": NOW - 1000}]
    for fields in others:
        assert read_after(smooth, **fields).pace_since is None
    ahead = read_after(smooth, startTime=NOW + 3_600_000)  # the cluster's clock an hour ahead: no time running
    assert (ahead.duration_seconds, ahead.estimated_end_at) == (None, paced.estimated_end_at)
    assert job_line(ahead, iso_utc(NOW)).endswith(f"its start after this server's clock: {CLOCK_AHEAD.format('1h00m')}")
    pace: records.Pace | None = None
    for minute, progress in smooth[:-1]:
        pace = records.paced(pace, progress, NOW + minute * 60_000)
    assert pace is not None
    page = listing(
        [raw(jobId=7, state="RefreshInProgress", progress=12, startTime=NOW - 65 * 60_000, endTime=0)],
        as_seen=lambda listed: records.with_observed_pace(listed, {"7": pace}, NOW),
    )
    assert page.jobs[0].estimated_end_at == paced.estimated_end_at
    assert f", at the pace seen since {iso_utc(NOW - 600_000)}" in jobs.listing_text(page)


def test_a_pace_of_steps_is_measured_between_the_reads_that_saw_two_steps() -> None:
    """A review: a job that moves 5 points every 10 minutes (200 minutes in all), read just before a step and just
    after: 5 points in 66 s, an end told 3 hours early. Between the reads that first saw two values, the pace is
    its own: 5 points in 10 minutes."""
    pace: records.Pace | None = None
    estimates = {}
    for minute in (9.9, 11, 13, 16, 19.9, 21, 25):
        now_ms, progress = int(minute * 60_000), 5 * int(minute // 10)
        record = raw(jobId=7, state="RefreshInProgress", progress=progress, startTime=1, endTime=0)
        job = records.with_observed_pace(normalize_record(record, now_ms=now_ms), {"7": pace} if pace else {}, now_ms)
        estimates[minute] = job.pace_since is not None and epoch_ms(job.estimated_end_at or "") / 60_000
        pace = records.paced(pace, progress, now_ms)
    assert [minute for minute, paced in estimates.items() if paced] == [21, 25]
    assert estimates[21] == estimates[25] == 201  # 90 points at 5 every 10 minutes, from the read at 21 minutes


def test_a_pace_is_told_only_within_its_edges_and_an_overdue_one_ends_any_moment_now() -> None:
    """A mutation audit: nothing held the edges of a pace. The reads around each rise within a quarter of its span,
    a quarter itself included, each end's own (a first rise seen 10 minutes after the read before, a last one seen
    15 minutes after, or both 3); a span of 10 minutes, not 9m59s; no longer unmoved than two of its last steps take
    at that pace, two included (steps of 2 points, a point a minute: 4 minutes, not 5); an end past already (98%, 2
    points to go, read 3 minutes after the last rise) is now, not in the past; the estimate in whole seconds, rounded
    up, and the pace's start to the second, rounded down."""
    by_minute: list[tuple[float, int]] = [(minute, 25 + minute) for minute in range(-20, 1)]  # 5% to 25% now
    unpaced: list[list[tuple[float, int]]] = [
        [(-30, 1), *by_minute],  # the first rise seen 10 minutes after the read before it
        [(-21, 4), *by_minute[:6], (0, 25)],  # the last seen 15 minutes after the read before it
        [(-23, 2), *by_minute[:16:3], (-3, 22), (0, 25)],  # 3 minutes each: 6 of 20
        [*[(minute, 12 + minute) for minute in range(-11, 0)], (-1 / 60, 12)],  # 10 points in 9m59s
    ]
    for reads in unpaced:
        assert read_after(reads).pace_since is None, reads
    quarter = read_after([(-22, 3), *by_minute[:-4:2], (-3, 22), (0, 25)])  # 2 and 3 minutes: 5 of 20
    assert (quarter.pace_since, quarter.estimated_end_at) == (iso_utc(NOW - 20 * 60_000), iso_utc(NOW + 75 * 60_000))
    steps = [(minute, 22 + 2 * (minute // 2)) for minute in range(-20, 1)]  # 2% twenty minutes ago, 22% now
    for unmoved, paced in ((3, True), (4, True), (5, False)):
        job = read_after([*steps, (unmoved, 22)])
        assert (job.pace_since is not None) is paced, unmoved
        if paced:  # 78 points left at 18 in 18 minutes, from the last rise
            assert job.estimated_end_at == iso_utc(NOW + 78 * 60_000)
    overdue = read_after([*[(minute, 98 + 2 * (minute // 2)) for minute in range(-20, 1)], (3, 98)])
    assert overdue.pace_since is not None and overdue.estimated_end_at == iso_utc(NOW + 3 * 60_000)
    assert job_line(overdue, iso_utc(NOW + 3 * 60_000)).endswith(
        f"estimated end {overdue.estimated_end_at} (about now), at the pace seen since {overdue.pace_since}"
    )
    pace: records.Pace | None = None
    for minute, progress in [(minute, 12 + minute) for minute in range(-11, 0)]:
        pace = records.paced(pace, progress, NOW + minute * 60_000 + 750)  # read at .750 of a second
    record = raw(jobId=7, state="RefreshInProgress", progress=12, startTime=NOW - 65 * 60_000, endTime=0)
    assert pace is not None
    late = records.with_observed_pace(normalize_record(record, now_ms=NOW + 750), {"7": pace}, NOW + 750)
    assert (late.pace_since, late.estimated_end_at) == (iso_utc(NOW - 600_000), iso_utc(NOW + 88 * 60_000 + 1000))


def test_a_wait_that_saw_a_paced_job_not_move_says_its_estimate_assumes_that_pace() -> None:
    """A mutation audit: a job that steps 10 points every 10 minutes (40% an hour in), its estimate made from that
    pace, and unmoved for the 8 minutes of a wait, which its average rate says should have moved it: the wait says
    it may have stalled, and that the estimate assumes it goes on at the pace seen, not at its average rate."""
    reads: list[tuple[float, int]] = [(minute, 20 + 10 * ((minute + 28) // 10)) for minute in range(-28, -7)]
    job = read_after([*reads, (0, 40)], startTime=NOW - HOUR)
    assert (job.pace_since, job.estimated_end_at) == (iso_utc(NOW - 18 * 60_000), iso_utc(NOW + 52 * 60_000))
    message = jobs.WaitResult.still_running(job, 480.0, now=iso_utc(NOW), unmoved_for=480.0).message
    assert "Its progress did not move during this wait: it may have stalled at 40%." in message
    assert (
        f"Estimated end: {job.estimated_end_at} (in ~52m00s), at the pace seen since {job.pace_since}, if it goes on "
        "at that pace."
    ) in message


LONG_IN_BYTES = ["\x01", "\u202e", "\U0001f600", "\u6570"]  # 6, 7 once escaped in a line, 4 and 3 bytes a character


@pytest.mark.parametrize("unit", LONG_IN_BYTES)
def test_a_listed_reason_is_cut_by_the_bytes_json_writes_it_in(unit: str) -> None:
    """500 characters pass the lists' cut by characters; of control characters they took 3 kB in each listed job,
    and in a wait's answer (which cuts as lists do)."""
    reason = "disk " + unit * 495
    listed = render_record(records.read_record(raw(state="RefreshFailed", reason=reason)), NOW, listed=True)
    assert listed.reason is not None and reasons.wire_bytes(listed.reason) <= reasons.REASON_BYTES
    assert listed.reason.startswith("disk ") and "get_refresh_job shows more" in listed.reason
    own = normalize_record(raw(state="RefreshFailed", reason=reason), now_ms=NOW)
    assert own.reason == reason, "the job's own record keeps it whole"
    waited = own.as_listed().reason
    assert waited is not None and reasons.wire_bytes(waited) <= reasons.REASON_BYTES


@pytest.mark.parametrize("unit", LONG_IN_BYTES)
@pytest.mark.parametrize("shape", ["text", "object"])
def test_a_listed_source_and_spec_are_cut_by_the_bytes_json_writes_them_in(unit: str, shape: str) -> None:
    """Under 1,000 characters, but of control characters 6 kB each, source and spec alike, in every listed job."""
    value = unit * 900 if shape == "text" else json.dumps({"path": unit * 900}, ensure_ascii=False)
    fields = records.read_record(raw(externalSource=value, externalSpec=value))
    listed = render_record(fields, NOW, listed=True)
    for shown in (listed.external_source, listed.external_spec):
        assert isinstance(shown, str) and "get_refresh_job shows all of it" in shown
        assert reasons.wire_bytes(shown) <= 2 * records.SOURCE_CHARS + 100  # and the words that say so
        assert shown.startswith(value[:10])
    assert render_record(fields, NOW).external_source == (value if shape == "text" else json.loads(value))


@pytest.mark.parametrize("unit", LONG_IN_BYTES)
def test_the_summary_names_a_long_name_that_breaks_the_milvus_rule_by_its_ends(unit: str) -> None:
    """Eight names in the summary's text (failed, running, the last completed), and up to ten in each failure group:
    of 250 bidi marks, each took 1.75 kB in the text. The records carry each name whole."""
    names = [f"{unit * 250}_{k}" for k in range(9)]
    rows = [raw(jobId=k, collectionName=names[k], state="RefreshFailed", reason="denied") for k in range(4)]
    rows += [raw(jobId=k, collectionName=names[k], state="RefreshInProgress", endTime=None) for k in range(4, 8)]
    rows += [raw(jobId=8, collectionName=names[8])]
    answer = listing(rows)
    text = answer.summary.text
    assert "3 failed" not in text and text.count("...") >= 7  # 3 failed names and "1 more", 3 running, the last
    assert reasons.wire_bytes(text) <= 7 * 120 + 400, text
    group = answer.summary.failures[0]
    assert all(reasons.wire_bytes(name) <= 120 for name in group.collections + group.refreshed_since)
    assert {job.collection_name for job in answer.jobs} == set(names)


def test_a_groups_names_and_their_repetition_in_refreshed_since_share_its_room() -> None:
    """``refreshedSince`` names again the collections whose failures are history: five such names of control
    characters took 600 bytes in ``collections`` and 600 more there, in each group."""
    names = ["\x01" * 250 + f"_{k}" for k in range(5)]
    rows = [raw(jobId=k, collectionName=name, state="RefreshFailed", reason="denied") for k, name in enumerate(names)]
    rows += [raw(jobId=10 + k, collectionName=name, startTime=NOW - HOUR, endTime=NOW) for k, name in enumerate(names)]
    (group,) = listing(rows).summary.failures
    assert group.refreshed_since == group.collections and 1 <= len(group.collections) < len(names)
    shown = sum(reasons.wire_bytes(name) - 1 for name in group.collections + group.refreshed_since)
    assert shown <= 600 or len(group.collections) == 1


@pytest.mark.parametrize("unit", LONG_IN_BYTES)
def test_words_of_a_state_this_server_does_not_know_are_shortened_where_text_names_it(unit: str) -> None:
    """A state is at most 64 characters; of bidi marks, each named in the summary's text took 450 bytes, twice (the
    text content repeats it), and again in every job's line and link. ``byState`` keeps it whole."""
    state = unit * 63 + "x"
    answer = listing([raw(jobId=1, state=state)])
    assert answer.summary.by_state[state] == 1
    assert reasons.text_bytes(answer.summary.text) <= 120 + 200, answer.summary.text
    job = answer.jobs[0]
    assert job.state == state
    assert reasons.text_bytes(job_line(job, answer.as_of)) <= 120 + 200
    assert reasons.text_bytes(wording.link_description(job)) <= 120 + 10


def test_a_page_of_one_job_over_the_budget_cuts_that_jobs_words_shorter() -> None:
    """A page holds one job at least; beside a summary swollen by upstream's words it took the answer past the
    budget whole. Its reason, source and spec are cut by half until the answer fits; its resource keeps them."""
    states = ["\u202e" * 63 + str(k) for k in range(6)]  # a summary of 4 kB
    fat = {"reason": "disk " + "\x01" * 600, "externalSource": "\x01" * 900, "externalSpec": "\x01" * 900}
    rows = [raw(jobId=1, state="RefreshFailed", **fat)] + [raw(jobId=2 + k, state=s) for k, s in enumerate(states)]
    whole = listing(rows, limit=1)
    budget = jobs.answer_bytes(whole) - 2000
    cut = jobs._within_budget(whole, lambda page, cut_from=None: whole.model_copy(update={"jobs": page}), budget=budget)
    assert jobs.answer_bytes(cut) <= budget and [job.job_id for job in cut.jobs] == ["1"]
    (job,) = cut.jobs
    before = whole.jobs[0].external_source
    assert isinstance(job.external_source, str) and "read detailsUri for more" in job.external_source
    assert isinstance(before, str) and len(job.external_source) < len(before)


def test_the_last_completed_is_dated_by_its_end_else_its_start_as_listings_and_fixes_date_jobs() -> None:
    """An audit: a completion that upstream gave no end, started after another's end, was listed first and fixed
    its collection's failure, yet "Last completed" named the other (or none at all when no completion had an end)."""
    ended = raw(jobId=11, collectionName="ext_x", startTime=NOW - 20 * 60_000, endTime=NOW - 10 * 60_000)
    failed = raw(jobId=32, collectionName="ext_z", state="RefreshFailed", progress=40, endTime=NOW - 59 * 60_000)
    no_end = raw(jobId=31, collectionName="ext_z", startTime=NOW - 5 * 60_000, endTime=0)
    for decoded in (False, True):
        answer = listing(as_answered([ended, failed, no_end], decoded))
        summary = answer.summary
        assert summary.last_completed == jobs.Completion(job_id="31", collection_name="ext_z", ended_at=None)
        assert summary.text.endswith(
            f" Last completed: ext_z, started {records.iso_utc(NOW - 5 * 60_000)} (its end not reported)."
        )
        assert [job.job_id for job in answer.jobs] == ["32", "31", "11"]  # the same order, by end else start
        assert answer.jobs[0].fixed_since is True  # fixed by job 31
    alone = listing([raw(jobId=5, startTime=NOW - 60_000, endTime=0)]).summary
    assert alone.last_completed is not None and alone.last_completed.job_id == "5"  # was None: no end anywhere
    nothing = listing([raw(jobId=6, startTime=0, endTime=0)]).summary
    assert nothing.last_completed is None and "Last completed" not in nothing.text  # nothing says when


def test_a_failure_line_counts_the_collections_its_names_leave_out() -> None:
    """An audit: five collections of 100-character names, all fixed since, kept three names (600 bytes, refreshedSince
    counted again), and the text read "5 failed in A, B, C", as if in three collections."""
    names = [f"ext_{letter}_" + "orders_embeddings_" * 5 + "x" * 4 for letter in "abcde"]
    assert all(len(name) == 100 for name in names)
    failed = [
        raw(jobId=100 + at, collectionName=name, state="RefreshFailed", reason="permission denied", endTime=NOW - HOUR)
        for at, name in enumerate(names)
    ]
    fixes = [raw(jobId=200 + at, collectionName=name, endTime=NOW - 60_000) for at, name in enumerate(names)]
    other = raw(jobId=300, collectionName="ext_other", state="RefreshFailed", reason="disk full", endTime=NOW - HOUR)
    answer = listing([*failed, *fixes, other], limit=1)
    [_, group] = answer.summary.failures
    assert (group.collection_count, len(group.collections)) == (5, 3)
    line = next(line for line in jobs.listing_text(answer).splitlines() if line.endswith(": permission denied"))
    assert line.startswith("- 5 failed in ") and " and 2 more (5 fixed by a later refresh)" in line


def test_a_failure_line_says_when_its_more_counts_jobs_with_no_collection() -> None:
    """A review: 4 collections and 6 jobs with no collection read "in ext_a, ext_b, ext_c and 7 more", as if in 7
    more collections; each such job counts as one in collectionCount."""
    named = [
        raw(jobId=10 + at, collectionName=f"ext_{name}", state="RefreshFailed", reason="denied", endTime=NOW - HOUR)
        for at, name in enumerate("abcd")
    ]
    unnamed = [
        raw(jobId=20 + at, collectionName="", state="RefreshFailed", reason="denied", endTime=NOW - 2 * HOUR)
        for at in range(6)
    ]
    answer = listing([*named, *unnamed], limit=1)
    [group] = answer.summary.failures
    assert (group.collection_count, len(group.without_collection)) == (10, 6)
    line = next(line for line in jobs.listing_text(answer).splitlines() if line.endswith(": denied"))
    assert line.startswith("- 10 failed in ext_") and line.count("ext_") == 3
    assert line.endswith(" and 7 more (of collections, or jobs with no collection): denied")
    # A second review: such a job among the names shown leaves only collections in "and N more".
    newest = raw(jobId=30, collectionName="", state="RefreshFailed", reason="denied", endTime=NOW - 60_000)
    answer = listing([newest, *named], limit=1)
    line = next(line for line in jobs.listing_text(answer).splitlines() if line.endswith(": denied"))
    assert line.startswith("- 5 failed in job 30, ext_") and line.endswith(" and 2 more: denied")


def test_a_step_counts_once_held_as_long_as_it_took_and_the_smallest_step_stays() -> None:
    """A mutation audit: nothing held the pace's step rules at their edges. Reads every 10 minutes see a job at 10%
    go to 20%, then to 40%: each rise after a hold as long as the rise took (10 minutes: as long is long enough), and
    held as long after it, is a step; the smallest of them, 10, stays the least step, and tells the steps seen; a
    rise held for less time than it took, not yet."""
    minute = 60_000

    def read(*progress: int) -> records.Pace:
        pace = None
        for at, value in enumerate(progress):
            pace = records.paced(pace, value, NOW + 10 * minute * at)
        assert pace is not None
        return pace

    def steps_seen(pace: records.Pace, progress: int) -> int:
        job = render_record(RecordFields("7", "RefreshInProgress", NOW - HOUR, 0, progress, "b", None, None, None), NOW)
        return records.with_steps_seen(job, {"7": pace}).steps_seen

    rose = read(10, 10, 20)
    assert (rose.candidate, rose.candidate_window, rose.least_step) == (10, 10 * minute, 0)
    assert records.paced(rose, 20, NOW + 21 * minute).least_step == 0  # held 1 minute of the 10 the rise took
    held = read(10, 10, 20, 20)
    assert (held.least_step, held.candidate) == (10, 0)
    again = read(10, 10, 20, 20, 40)  # a rise of 20 after a hold: waits for its own
    assert (again.least_step, again.candidate) == (10, 20)
    assert steps_seen(again, 40) == 10  # the smaller of the two
    assert read(10, 10, 20, 20, 40, 40).least_step == 10


def test_a_rise_seen_within_one_instant_is_no_step() -> None:
    """A fifth review: two jobs that share an id (rounded on their way) are read by one list at one instant, 40% and
    70%: the "rise" between them had a window of 0, a hold of 0 was as long, and it counted as a step of 30 at once.
    The stalled job at 70% was then never told it may have stalled (its threshold 35 points)."""
    pace = records.paced(records.paced(None, 40, NOW), 70, NOW)
    assert (pace.candidate, pace.least_step) == (0, 0)
    later = records.paced(records.paced(pace, 40, NOW + 600_000), 70, NOW + 600_000)
    assert (later.candidate, later.least_step) == (0, 0)
