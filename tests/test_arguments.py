"""The forms of ``since`` a model may write, read as meant, or refused saying which forms work."""

from __future__ import annotations

import pytest

from zilliz_refresh_mcp.arguments import since_ms
from zilliz_refresh_mcp.errors import InvalidArgument

NOW = 1_796_027_748_123  # 2026-11-30T08:35:48.123Z
WHOLE_NOW = NOW - NOW % 1000  # spans count back from the whole second, as asOf is
HOUR, DAY = 3600, 86_400


@pytest.mark.parametrize(
    ("since", "seconds_back"),
    [
        ("24h", DAY),
        ("24 H", DAY),
        ("90m", 5400),
        ("90 minutes", 5400),
        ("1.5h", 5400),
        ("7d", 7 * DAY),
        ("2 weeks ago", 14 * DAY),
        ("last 12 hours", 12 * HOUR),
        ("past week", 7 * DAY),  # no number: one
        ("last day", DAY),
        ("PT24H", DAY),  # ISO-8601 durations
        ("P7D", 7 * DAY),
        ("P1W", 7 * DAY),
        ("pt1h30m", 5400),
        ("P1DT12H", DAY + 12 * HOUR),
    ],
)
def test_a_span_counts_back_from_now(since: str, seconds_back: int) -> None:
    assert since_ms(since, NOW) == WHOLE_NOW - seconds_back * 1000


@pytest.mark.parametrize(
    ("since", "at"),
    [
        ("2026-11-29T18:00:00Z", 1_795_975_200_000),
        ("2026-11-29T20:00:00+02:00", 1_795_975_200_000),
        ("2026-11-29T18:00:00", 1_795_975_200_000),  # no offset: UTC
        ("2026-11-29 18:00", 1_795_975_200_000),
        ("2026-11-29", 1_795_910_400_000),  # a date: its midnight, UTC
        ("1969-07-20T20:17:00Z", 0),  # before the epoch: every job
        ("0001-01-01T00:00:00+05:00", 0),
        # Job times are whole milliseconds: "then or later" of a time between two is the later one.
        ("2026-11-29T18:00:00.0004Z", 1_795_975_200_001),
        ("2026-11-29T18:00:00.0009Z", 1_795_975_200_001),
        ("2026-11-29T18:00:00.123Z", 1_795_975_200_123),
        ("2026-11-29T18:00:00.123000Z", 1_795_975_200_123),
        ("1969-12-31T23:59:59.9996Z", 0),
    ],
)
def test_a_time_is_read_in_utc(since: str, at: int) -> None:
    assert since_ms(since, NOW) == at


@pytest.mark.parametrize(
    ("since", "said"),
    [
        ("yesterday", "is neither an ISO-8601 time (2026-11-29T18:00:00Z) nor a span back from now"),
        ("m", "is neither an ISO-8601 time"),  # a unit alone is no span
        ("P1M", "is neither an ISO-8601 time"),  # a month: no fixed length
        ("6M", "write minutes as m (90m), days as d (30d)"),  # months, or minutes?
        ("2026-12-01T00:00:00Z", "since 2026-12-01T00:00:00Z is after now (2026-11-30T08:35:48Z)"),
    ],
)
def test_what_names_no_past_time_is_refused_saying_which_forms_work(since: str, said: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        since_ms(since, NOW)
    assert said in str(refused.value)


def test_a_time_within_a_minute_of_now_is_the_callers_clock_not_a_time_to_come() -> None:
    assert since_ms("2026-11-30T08:36:30Z", NOW) == 1_796_027_790_000


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ('"449503829274509315"', "449503829274509315"),
        ("job 449503829274509315", "449503829274509315"),
        ("Job ID: 12", "12"),
        ("#12", "12"),
        ("12.", "12"),
        ("zilliz://refresh-jobs/12", "12"),
        # What may be a plain id itself is sent as it is: "job" and "id" stand apart from an id they name.
        ("job123", "job123"),
        ("JobId42", "JobId42"),
        ("12.5", "12.5"),
        ('""', '""'),
    ],
)
def test_a_job_id_is_read_from_the_forms_a_sentence_or_a_quote_gives_it(sent: str, read: str) -> None:
    from zilliz_refresh_mcp.arguments import as_read

    assert as_read(sent) == read
