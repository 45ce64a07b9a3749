"""What answers say in words: one job's line, the failure lines of a listing's text, what a wait ends on.

Pure functions over records and listings, no I/O and no MCP; the counts and the order behind them are jobs.py's.
A model reads these lines when its host shows it only the text content; they say how far off a time is ("in
~17m24s"), as a model cannot tell the time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import one_line, shortened
from .names import shown_name
from .reasons import both_ends, cut_between, reason_shown, wire_bytes
from .records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    KNOWN_STATES,
    MIN_PROGRESS_TO_ESTIMATE,
    PENDING,
    JobRecord,
    as_text,
    epoch_ms,
    may_have_stalled,
)

if TYPE_CHECKING:
    from .jobs import FailureGroup, JobListing

NO_COLLECTION = "(no collection)"  # how a job that upstream gave no collection is named where a name stands


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _of_collection(job: JobRecord) -> str:
    return f"({job.collection_name})" if job.collection_name else NO_COLLECTION


def link_description(job: JobRecord) -> str:
    """What a job's resource link says of it: upstream's words, on one line, as the text shows them."""
    return one_line(f"{shown_name(job.state)} {shown_name(job.collection_name or '')}")


def duration_text(seconds: float) -> str:
    whole = round(seconds)  # 19.998 s took 20 s, not 19
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def job_line(job: JobRecord, now: str | None = None) -> str:
    """One compact line per job for hosts that read only text content; ``now`` (ISO) to say how far off its
    estimated end is."""
    parts = [
        f"{shown_name(job.state)} {shown_name(job.collection_name or NO_COLLECTION)} job {job.job_id}: {job.progress}%"
    ]
    # Upstream's end time beside a state that has not ended: "ended ..., took ..." would read as over.
    contradicted = job.ended_at is not None and job.state in (IN_PROGRESS, PENDING)
    if job.started_at:
        # A start after this server's clock: a running job's line says so where it tells why it has no estimate;
        # an ended job's end, later, says it of both.
        told = job.state == IN_PROGRESS or (job.ended_at is not None and not contradicted)
        parts.append(f"started {job.started_at}{'' if told else ahead_note(job.started_at, now)}")
    if contradicted:
        parts.append(f"an end time given ({job.ended_at}) though its state has not ended")
    elif job.ended_at:
        parts.append(f"ended {job.ended_at}{ahead_note(job.ended_at, now)}")
    if job.duration_seconds is not None:
        took = duration_text(job.duration_seconds)
        ended = job.ended_at and not contradicted
        parts.append(f"took {took}" if ended else f"running for {took}" if job.state == IN_PROGRESS else f"{took} ago")
    if earlier := job.earlier_progress:
        parts.append(
            f"down from {earlier.progress}% read at {_time_and_how_far(earlier.read_at, now)}: it may have started over"
        )
    stalled = None if _stuck_finishing(job) else job.no_progress_since  # at 100%, _no_estimate says it
    if stalled:
        parts.append(f"no progress since {_time_and_how_far(stalled, now)}")
    if job.estimated_end_at:
        resumes = " if it resumes at its average rate: it may have stalled" if stalled else ""
        parts.append(f"estimated end {_estimate(job.estimated_end_at, job, now)}{resumes}")
        if job.pace_since and job.started_at and now and _seconds_until(job.started_at, now) >= 1:
            # Estimated from the pace seen, whatever the start: the clocks apart are still worth a word.
            parts.append(f"its start {_AFTER_CLOCK}: {_clock_ahead(job.started_at, now)}")
    elif stalled:
        parts.append("it may have stalled")
    elif no_estimate := _no_estimate(job, now):
        parts.append(no_estimate)
    line = ", ".join(parts)
    if job.reason:
        line += f"; reason: {job.reason}"
    elif job.state == FAILED:
        line += "; reason: (no reason given)"
    if job.fixed_since:
        line += " (fixedSince: true, a later refresh of this collection completed)"
    return "- " + one_line(line)  # upstream's words: on one line, their control characters shown, not obeyed


def record_text(job: JobRecord, now: str) -> str:
    """One job's text for hosts that read only text content: its line, then its source and spec, if reported."""
    lines = [job_line(job, now).removeprefix("- ")]
    for name, value in (("externalSource", job.external_source), ("externalSpec", job.external_spec)):
        if value is not None:
            lines.append(one_line(f"{name}: {as_text(value)}"))
    return "\n".join(lines)


_FAR_OFF_SECONDS = 3600  # an estimated end further off than this is told, not waited on
_READ_LATER = "get_refresh_job reads it again later."


def _least_remaining(job: JobRecord) -> float | None:
    """The least time a running job too early to estimate will take more, at its pace so far: its progress is a
    whole percent, so less than one more than it says. None at 0% (no pace yet) or with no time running."""
    elapsed = job.duration_seconds
    if job.state != IN_PROGRESS or not elapsed or not 1 <= job.progress < MIN_PROGRESS_TO_ESTIMATE:
        return None
    return elapsed * (99 - job.progress) / (job.progress + 1)


# A running job at 100%: its progress can go no further, so an unmoved 100% tells nothing of a stall, for an hour.
_FINISHING = "at 100% and finishing up (its end not yet reported)"


def _stuck_finishing(job: JobRecord) -> bool:
    """Running at 100%, read so for over an hour (``records.finishing_too_long``)."""
    return job.state == IN_PROGRESS and job.progress >= 100 and job.no_progress_since is not None


def _no_estimate(job: JobRecord, now: str | None) -> str | None:
    """Why a running job has no estimated end, as its line says it (a wait: "It is ..."); None for any other job
    (a model told nothing makes up an estimate, or reads a finishing job as a stuck one)."""
    if _stuck_finishing(job) and job.no_progress_since is not None:
        since = _time_and_how_far(job.no_progress_since, now)
        return f"at 100% since {since}, its state not ended: it may be stuck"
    if job.state == IN_PROGRESS and job.progress >= 100 and job.ended_at is None:
        return _FINISHING
    if ahead := _start_ahead(job, now):
        return f"{_AFTER_CLOCK}: {ahead}"
    return _too_early(job)


_AFTER_CLOCK = "after this server's clock"


def _start_ahead(job: JobRecord, now: str | None) -> str | None:
    """What to say of a running job whose start is after this server's clock as it was read (no time running:
    ``duration_seconds`` is null), which leaves it with no estimated end; None for any other job."""
    if job.state != IN_PROGRESS or job.started_at is None or job.ended_at or job.duration_seconds is not None:
        return None
    return f"{_clock_ahead(job.started_at, now)}, so its end cannot be estimated yet"


def _clock_ahead(at: str, now: str | None) -> str:
    """Of a time the cluster gave that is after this server's clock: the cluster's, ahead of it by that much at
    least (the job started or ended before the cluster's own now)."""
    seconds = _seconds_until(at, now) if now is not None else 0
    by = f" by ~{duration_text(seconds // 1)} or more" if seconds >= 1 else ""  # at least: not rounded up
    return f"the cluster's clock appears ahead of this server's{by}"


def _reported_when(at: str, now: str | None) -> str:
    """How long ago a time the cluster gave was (a start, an end), as ``_from_now`` says it; one after this server's
    clock is the cluster's clock running ahead, not a time to come ("had already completed ... (in ~30s)")."""
    return ahead_note(at, now) or _from_now(at, now)


def clock_ahead(at: str, now: str | None) -> str | None:
    """Of a time past that the cluster gave (a start, an end), when it is after this server's clock (``now``), the
    words that say the cluster's clock is ahead: stated bare, it would read as a time to come, or as a fact."""
    # ISO times (iso_utc) compare as text to the second: no later second is no second ahead, as most times are.
    if now is None or at[:19] <= now[:19]:
        return None
    return _clock_ahead(at, now) if _seconds_until(at, now) >= 1 else None


def ahead_note(at: str, now: str | None) -> str:
    """``clock_ahead`` as a note in brackets; "" for a time not after this server's clock."""
    return f" ({ahead})" if (ahead := clock_ahead(at, now)) else ""


# A running job still under MIN_PROGRESS_TO_ESTIMATE% after this long is not early. A fresh job sits at 0% for its
# first minutes (listing its files, waiting for a slot), not an hour; and one that has not shown 1% in an hour would,
# if it moves at all, take over four days. We do not know how long refreshes take on a given cluster, so a plain
# duration, the hour past which an estimated end is told rather than waited on (_FAR_OFF_SECONDS).
_LONG_UNDER_ESTIMATE_SECONDS = 3600


def _long_under_estimate(job: JobRecord) -> bool:
    """Whether a running job is still under MIN_PROGRESS_TO_ESTIMATE% after ``_LONG_UNDER_ESTIMATE_SECONDS``."""
    elapsed = job.duration_seconds or 0
    under = job.state == IN_PROGRESS and job.progress < MIN_PROGRESS_TO_ESTIMATE
    return under and elapsed > _LONG_UNDER_ESTIMATE_SECONDS


def _too_early(job: JobRecord) -> str | None:
    """What to say of a running job with no estimated end because it is under MIN_PROGRESS_TO_ESTIMATE% done (a
    model told nothing makes up an estimate): too early to estimate, or, that long after its start, at 0% that it
    may be stuck (a model told "too early" waits on for ever); None for any other job."""
    if job.state != IN_PROGRESS or job.progress >= MIN_PROGRESS_TO_ESTIMATE or job.started_at is None:
        return None
    least = _least_remaining(job)
    at_least = f"; at its pace so far, at least ~{duration_text(least)} more" if least is not None else ""
    if not _long_under_estimate(job):
        return f"too early to estimate its end (under {MIN_PROGRESS_TO_ESTIMATE}%){at_least}"
    after = duration_text(job.duration_seconds or 0)
    if job.progress == 0:
        return f"showing no progress after {after}: it may be stuck; its end cannot be estimated"
    return f"still under {MIN_PROGRESS_TO_ESTIMATE}% after {after}: its end cannot be estimated yet{at_least}"


def _estimate(at: str, job: JobRecord, now: str | None) -> str:
    """A job's estimated end ``at``, how far off, and, when made from the pace this server saw, since when."""
    paced = f", at the pace seen since {job.pace_since}" if job.pace_since else ""
    return f"{_time_and_how_far(at, now)}{paced}"


def _seconds_until(at: str, now: str) -> float:
    return (epoch_ms(at) - epoch_ms(now)) / 1000


def _far_off(at: str | None, now: str | None) -> str | None:
    """How long until ``at``, when it is more than an hour off; else None."""
    if at is None or now is None:
        return None
    seconds = _seconds_until(at, now)
    return duration_text(seconds) if seconds > _FAR_OFF_SECONDS else None


def _time_and_how_far(at: str, now: str | None) -> str:
    """``at`` and how far off it is: "2026-12-01T10:00:00Z (~5m00s ago)"."""
    return f"{at}{_from_now(at, now)}"


def _from_now(at: str, now: str | None) -> str:
    """How far off ``at`` is, for a model that cannot tell the time: " (in ~17m24s)"."""
    if now is None:
        return ""
    seconds = _seconds_until(at, now)
    if seconds >= 1:
        return f" (in ~{duration_text(seconds)})"
    # An estimate made at an earlier read that the job has overrun (a listing's is made as of now: never past).
    return f" (~{duration_text(-seconds)} ago)" if seconds <= -1 else " (about now)"


# The failure lines of a first page's text: short reasons whole, long ones by their ends, and never more than
# _FAILURE_TEXT_BYTES on the wire, so that a page of long reasons or names keeps its jobs within the budget.
_FAILURE_TEXT_BYTES = 2_000
_FAILURE_TEXT_NAMES = 3
_FAILURE_TEXT_NAME_CHARS = 40
_FAILURE_TEXT_REASON_HEAD, _FAILURE_TEXT_REASON_TAIL = 140, 60


def failure_lines(listing: JobListing) -> list[str]:
    """The summary's failure groups, on a first page that does not show every failed job: a host that reads only
    the text learns why the others failed too. Later pages leave them out, as their jobs come after the failures."""
    failures = listing.summary.failures
    failed = sum(group.count for group in failures)
    first_page = listing.page.returned + listing.page.remaining == listing.summary.total
    on_page = sum(job.state == FAILED for job in listing.jobs)
    if not first_page or failed <= on_page:
        return []
    lines = [f"Why they failed (all {failed} failed jobs, by reason):"]
    read_each = _read_each(listing, on_page)
    closing = max(wire_bytes(_more_failures(failed, read_each, none_shown=unnamed)) for unnamed in (False, True))
    room = _FAILURE_TEXT_BYTES - wire_bytes(lines[0]) - closing  # the closing line's room is kept
    # The failed jobs of the groups whose lines do not fit (a shorter line after one may), and whether a line names a
    # reason (not only "(N other reasons)").
    left, named = 0, False
    for group in failures:
        line = "- " + one_line(_failure_line(group, read_each))
        if group.sums_others and left and named:  # beside "and M more, of other reasons": one line says it
            left += group.count
        elif wire_bytes(line) <= room:
            room -= wire_bytes(line)
            lines.append(line)
            named = named or not group.sums_others
        else:
            left += group.count
    if left:
        lines.append(_more_failures(left, read_each, none_shown=not named))
    return lines


def _read_each(listing: JobListing, on_page: int) -> str:
    """Where the reasons that the failure lines sum up or leave out are read: one per failed job. The ``on_page``
    failed jobs of this first page begin that list too, as failures come first."""
    if listing.states == [FAILED]:
        return "the next pages (cursor) show each failed job and its reason"
    scope = "dbName and collectionName" if listing.collection_name else "dbName"
    # The time a span named: "24h" asked again later would name a later one, and another list of failures.
    scope += f', since="{listing.since}"' if listing.since else ""
    # Not "the first 5 are on this page" after a group's line: that read as the group's first 5.
    here = f" (it begins with {'the failed job' if on_page == 1 else f'the {on_page} failed jobs'} on this page)"
    return f'list_refresh_jobs with the same {scope} and state=["{FAILED}"] shows each failed job and its reason' + (
        here if on_page else ""
    )


def _more_failures(count: int, read_each: str, *, none_shown: bool = False) -> str:
    if none_shown:  # "and 1000 more, of other reasons" under no reason at all would read as a group left out
        return f"- {plural(count, 'failed job')} of reasons too long to show here; {read_each}."
    return f"- and {plural(count, 'more failed job')}, of other reasons; {read_each}."


def _failure_line(group: FailureGroup, read_each: str) -> str:
    shown = group.collections[:_FAILURE_TEXT_NAMES]
    names = [shortened(name, _FAILURE_TEXT_NAME_CHARS) for name in shown]
    # By the group's count of collections, not its names: long names leave fewer of them than it has.
    left = group.collection_count - len(names)
    more = f" and {left} more" if left > 0 else ""
    if left > 0 and group.without_collection.difference(shown):  # "7 more" would read as 7 collections
        more += " (of collections, or jobs with no collection)"
    fixed = group.count - group.not_fixed
    since = f" ({fixed} fixed by a later refresh)" if fixed else ""
    if group.sums_others:  # "(N other reasons)": this server's words, followed by where to read them
        reason = f"{group.reason[1:-1]}; {read_each}"
    else:
        reason = _text_reason(group)
        if group.distinct_reasons > 1:
            alike = group.distinct_reasons - 1
            reason += (
                f" (and {plural(alike, 'other reason')} like it, differing only in the paths, ids, numbers, "
                "times, addresses or collection names in them)"
            )
    return f"{group.count} failed in {', '.join(names)}{more}{since}: {reason}"


def _text_reason(group: FailureGroup) -> str:
    """What a failure line shows of its group's reason: a short one by its ends; one that lists cut, by the first
    line of its head (a trace's error, not its frames) and the end they show whole (the error's cause)."""
    shown = reason_shown(group.whole_reason)
    if shown is None:
        whole = group.whole_reason or group.reason  # "(no reason given)" has none of its own
        return both_ends(whole, _FAILURE_TEXT_REASON_HEAD, _FAILURE_TEXT_REASON_TAIL, " ... ")
    head, end, spans = shown
    error = head.split("\n", 1)[0].rstrip()[:_FAILURE_TEXT_REASON_HEAD]
    return cut_between(group.whole_reason, (error, end, spans))


def wait_ended(job: JobRecord, *, already: bool, now: str | None, began: str | None = None) -> str:
    """What a wait that began at ``began`` says of a job that ended; ``already``: before the wait began (its first
    read, a prompt one, found it ended, or its end was well before then), told with how long ago it ended as of
    ``now`` (ISO, as ``began``). An end during the wait needs no such word, but an end before the wait (one it could
    not call "already" for sure, its clock and the cluster's apart) or after this server's clock (the cluster's clock
    ahead) does."""
    what = {COMPLETED: "completed", FAILED: "failed"}.get(job.state, f"ended ({job.state})")
    message = f"Refresh job {job.job_id} {_of_collection(job)} {'had already ' if already else ''}{what}"
    if job.ended_at:
        message += f" at {job.ended_at}"
        during = began is None or _seconds_until(job.ended_at, began) > -1
        if already or not during or (now is not None and _seconds_until(job.ended_at, now) >= 1):
            message += _reported_when(job.ended_at, now)
    if already:
        message += ", before this wait began"
    message += f"; reason: {job.reason}." if job.reason else "."
    return one_line(message)


def wait_running(
    job: JobRecord,
    waited: float,
    trouble: str | None,
    *,
    now: str | None,
    unmoved_for: float = 0.0,
    read_at: str | None = None,
) -> str:
    """What a wait that ran out says of a job still going. ``trouble``: why the job shown, read at ``read_at`` (ISO),
    may be older than the last poll; ``now`` (ISO), to say how far off a time is; ``unmoved_for``: seconds of this
    wait over which every read found the same progress (the job's ``no_progress_since`` tells what reads of this
    server, in any call, found)."""
    state = f"{job.state}, {job.progress}%"
    if trouble:
        when = f", at {_time_and_how_far(read_at, now)}" if read_at else ""
        message = (
            f"Refresh job {job.job_id} {_of_collection(job)} could not be read at the end of this wait ({waited:g} s): "
            f"{trouble} When last read{when}, it was {state}; it may have moved on, or ended, since."
        )
    else:
        message = f"Refresh job {job.job_id} {_of_collection(job)} has not finished after {waited:g} s: {state}."
    if earlier := job.earlier_progress:
        read = _time_and_how_far(earlier.read_at, now)
        message += f" An earlier read found it at {earlier.progress}%, at {read}: it may have started over."
    # Up to the last read that worked, as the record says it: polls that failed since found nothing, unmoved or not.
    since = None if _stuck_finishing(job) else job.no_progress_since  # at 100%, _no_estimate says it
    stalled = since is not None or may_have_stalled(job, unmoved_for)
    if since is not None:
        message += (
            f" Every read since {_time_and_how_far(since, now)} found it at {job.progress}%: it may have stalled."
        )
    elif stalled:
        message += f" Its progress did not move during this wait: it may have stalled at {job.progress}%."
    if job.estimated_end_at:
        rate = "that pace" if job.pace_since else "its average rate so far"
        at_rate = f", if it goes on at {rate}" if stalled else ""
        message += f" Estimated end: {_estimate(job.estimated_end_at, job, now)}{at_rate}."
    # As its line says it: a job at 100% is finishing up, whatever the clocks say; a stalled job is not "too early
    # to estimate", which a model would wait on.
    no_estimate = _no_estimate(job, now) if job.estimated_end_at is None and since is None else None
    if no_estimate:
        message += f" {'Its start is' if no_estimate.startswith(_AFTER_CLOCK) else 'It is'} {no_estimate}."
    least = _least_remaining(job) if no_estimate else None
    if job.state in KNOWN_STATES and (far := _far_off(job.estimated_end_at, now)):
        # A model told to wait on would poll for days, a call every minute: the user is better told when.
        told = "that it may have stalled" if stalled else "the estimate"
        message += f" It is not expected to end for ~{far}: tell the user {told} rather than waiting on; "
        message += _READ_LATER
    elif (
        (least is not None and least > _FAR_OFF_SECONDS)
        or _long_under_estimate(job)
        or _stuck_finishing(job)
        or (stalled and job.estimated_end_at is None)
    ):
        # As an estimated end that far off: told, not waited on; so is a job at 0% that long, at 100% for over an
        # hour, or stalled with no end to expect, which may be stuck.
        message += f" Tell the user that rather than waiting on; {_READ_LATER}"
    elif job.state in KNOWN_STATES:
        message += " Call wait_for_refresh_job again to keep waiting."
    else:  # a newer cluster's state: this server cannot tell whether the job will ever end
        message += (
            f" {job.state} is not a state this server knows (a newer cluster's): it may be final though no "
            "end time is given; before waiting again, check the job with list_refresh_jobs."
        )
    return one_line(message)
