"""Lists of refresh jobs: filtering by state and time, ordering, paging with cursors, exact summaries, and the
size of an answer (a page is cut to fit its budget).

Pure functions over plain data: no I/O, no MCP, no clock (callers pass ``now_ms``). One record's reading and
rendering is in records.py; what is shown of a long failure reason and which reasons are one problem, in
reasons.py; what answers say in words (a job's line, failure lines, a wait's message), in wording.py. The pydantic
models here and in records.py are the server's public output contract (camelCase on the wire, snake_case in Python).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import itertools
import json
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec
from pydantic import Field, PrivateAttr

from .errors import CursorError, RecordError, one_line
from .names import shown_name
from .reasons import (
    REASON_BYTES,
    REASON_CHARS,
    REASON_HEAD_CHARS,
    RECORD_REASON_CHARS,
    alike,
    listed_reason,
    wire_bytes,
)
from .records import (
    CLOCK_SKEW_MS,
    COMPLETED,
    EXACT_IN_A_DOUBLE,
    FAILED,
    IN_PROGRESS,
    INT64_MAX,
    KNOWN_STATES,
    MAX_EPOCH_MS,
    PENDING,
    SOURCE_CHARS,
    CamelModel,
    JobRecord,
    RecordFields,
    WireRecord,
    WireRecords,
    epoch_ms,
    fields_of,
    iso_utc,
    iso_utc_second,
    looks_rounded,
    read_record,
    render_record,
    stripped,
)
from .states import alias_of, state_filter
from .wording import (
    NO_COLLECTION,
    clock_ahead,
    duration_text,
    failure_lines,
    job_line,
    link_description,
    plural,
    record_text,
    wait_ended,
    wait_running,
)

# What is wrong now, then what is under way, then history: failed first, then running, then waiting, the order in
# which a person wants to read them. Failures a later refresh fixed are history: they come after the waiting jobs,
# since they pile up for good, and ten of them ahead would push off the first page the failure that matters, or the
# running job whose end the user asks about.
_STATE_RANK = {FAILED: 0, IN_PROGRESS: 1, PENDING: 2}
_FIXED_RANK = 3
_OTHER_RANK = 4

_NAMES_PER_GROUP = 3
_OTHER_STATES_SHOWN = 5  # states this server does not know, named in byState and the text; the rest are summed
_INT_DIGITS = 4000  # int() refuses longer digit strings (ValueError); such an id sorts as text
# The summary must not grow with the number of jobs: real reasons name a file or a shard and rarely repeat.
_FAILURE_GROUPS = 5
_NAMES_PER_FAILURE = 10
_NAME_BYTES_PER_FAILURE = 600  # as JSON writes them: ten names of 60 letters; Milvus allows 255


class FailureGroup(CamelModel):
    """Failed jobs that share one reason, or reasons alike but for the instance of the problem they name."""

    reason: str = Field(
        description=f"Upstream's failure reason, the group's first (past {REASON_CHARS} characters, its first "
        f"{REASON_HEAD_CHARS} and last {REASON_CHARS - REASON_HEAD_CHARS}, or a Java trace's last 'Caused by:' line; "
        f"fewer when they take over {REASON_BYTES} bytes as JSON writes them). "
        f"Groups with failures not fixed since come first. With more than {_FAILURE_GROUPS} reasons, the last group, "
        '"(N other reasons)", holds the rest (", of K kinds" when reasons alike are among them).'
    )
    count: int = Field(description="Number of failed jobs in this group (exact).")
    distinct_reasons: int = Field(
        description="How many different reasons the group holds; 1 when all its jobs give the same. Reasons that "
        "differ only in the paths they name (a URI's path, not its bucket or host), files' names, their own "
        "collection's name, ids, times, IP addresses, decimals, numbers of 4+ digits or a number after a word such "
        "as 'line' or 'task' group as one, and `reason` is the first of them; "
        "get_refresh_job shows each job's own."
    )
    not_fixed: int = Field(
        description="How many of them no later refresh of their collection has completed since: current problems."
    )
    collections: list[str] = Field(
        description=f"Their collections, in listing order (at most {_NAMES_PER_FAILURE}, fewer when their names are "
        f"long: {_NAME_BYTES_PER_FAILURE} bytes of names at most, refreshedSince's counted again, one name at least); "
        'a job that upstream gave no collection shows as "job <jobId>", and a long name that breaks the Milvus rule '
        "by its two ends (its jobs' records carry it whole)."
    )
    collection_count: int = Field(
        description="How many collections the group's jobs are in (a job with no collection counts as one): more "
        "than `collections` names when it is cut."
    )
    refreshed_since: list[str] = Field(
        description="Those of these collections whose every failure here a later refresh completed after: "
        "history, not their current state."
    )
    # True for the last group when it holds the rarest reasons: its reason is this server's words, not upstream's.
    _sums_others: bool = PrivateAttr(default=False)
    # The reason shown, whole (its head and end are what the text's line shows of a long one), or "" for none.
    _whole_reason: str = PrivateAttr(default="")
    # Of its collections' names, those that stand for a job that upstream gave no collection ("job <id>"): each such
    # job counts as one in collection_count.
    _without_collection: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def sums_others(self) -> bool:
        return self._sums_others

    @property
    def whole_reason(self) -> str:
        return self._whole_reason

    @property
    def without_collection(self) -> frozenset[str]:
        return self._without_collection


class Completion(CamelModel):
    """The most recent completed refresh."""

    job_id: str
    collection_name: str | None
    ended_at: str | None


class Summary(CamelModel):
    """Exact counts over every matching job, and the jobs that matter."""

    total: int = Field(description="Number of matching jobs (all of them, not only this page).")
    by_state: dict[str, int] = Field(
        description="Upstream state -> number of matching jobs: every known state and any other upstream "
        "reported, or under a state filter only the states asked for (one this server does not know only when "
        f"jobs are in it). Of the states this server does not know, the {_OTHER_STATES_SHOWN} most common and those "
        'a filter names are named; two or more others are summed under "(N other states)".'
    )
    text: str = Field(
        description="A few plain sentences for a person: the counts, the last completion, and any notes (unreadable "
        "records, ids that jobs share, jobs that moved before a cursor)."
    )
    failures: list[FailureGroup] = Field(
        description=f"Failed jobs grouped by reason, those with failures not fixed since first, then the most "
        f"common; at most {_FAILURE_GROUPS} groups; their counts add up to every failed job."
    )
    last_completed: Completion | None = Field(
        description="The most recent completed job, by its end, else its start (its endedAt null when upstream gave "
        "no end)."
    )
    unreadable: int = Field(
        description="Job records upstream sent that this server could not read (a field of the wrong type): "
        "in no count above; the text names the first problem."
    )


class Page(CamelModel):
    """Where this answer sits in the full, ordered list of matching jobs."""

    returned: int = Field(description="Jobs in this answer.")
    remaining: int = Field(description="Matching jobs after this page.")
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
    hint: str | None = Field(description="How to get more, when there is more.")


class WaitResult(CamelModel):
    """The answer of wait_for_refresh_job."""

    finished: bool = Field(
        description="True when the job ended: RefreshCompleted, RefreshFailed, or another state with an end time."
    )
    timed_out: bool = Field(description="True when the wait ran out while the job was still going.")
    waited_seconds: float
    message: str = Field(description="One plain sentence on the outcome.")
    job: JobRecord
    read_at: str | None = Field(
        default=None,
        description="When `job` was read (ISO-8601 UTC): earlier than the answer when the wait's last polls failed.",
    )

    @classmethod
    def ended(
        cls,
        job: JobRecord,
        waited: float,
        *,
        already: bool = False,
        now: str | None = None,
        read_at: str | None = None,
        began: str | None = None,
    ) -> WaitResult:
        """The job ended, as read at ``read_at`` (``wording.wait_ended`` says what ``already``, ``now`` and ``began``
        change)."""
        job = job.as_listed()
        message = wait_ended(job, already=already, now=now, began=began)
        return cls(finished=True, timed_out=False, waited_seconds=waited, message=message, job=job, read_at=read_at)

    @classmethod
    def still_running(
        cls,
        job: JobRecord,
        waited: float,
        trouble: str | None = None,
        *,
        now: str | None = None,
        unmoved_for: float = 0.0,
        read_at: str | None = None,
    ) -> WaitResult:
        """The wait ran out with the job still going (``wording.wait_running`` says what the arguments change)."""
        job = job.as_listed()
        message = wait_running(job, waited, trouble, now=now, unmoved_for=unmoved_for, read_at=read_at)
        return cls(finished=False, timed_out=True, waited_seconds=waited, message=message, job=job, read_at=read_at)


class RefreshStarted(CamelModel):
    """The answer of refresh_external_collection."""

    job_id: str
    db_name: str
    collection_name: str
    details_uri: str
    message: str


class JobListing(CamelModel):
    """The answer of list_refresh_jobs."""

    db_name: str
    collection_name: str | None
    states: list[str] | None = Field(description="The state filter applied, or null for all states.")
    since: str | None = Field(
        default=None,
        description="The time filter applied (ISO-8601 UTC): jobs that ended then or later, or have not ended; "
        "null for all times.",
    )
    as_of: str = Field(description="When upstream was read (ISO-8601 UTC): 'now' for durations and estimates.")
    summary: Summary
    jobs: list[JobRecord] = Field(
        description="Current failures first, then in progress, then pending, then failures fixed since, then "
        "the rest; in each, the most recent first (by end time, else start time)."
    )
    page: Page
    # Its text content, once made (``listing_text``): sizing the answer makes it, and the answer then carries it.
    _text: str | None = PrivateAttr(default=None)


# --- ordering and paging -----------------------------------------------------------------------


_SortKey = tuple[int, int, tuple[int, int, str], int]


@dataclass(frozen=True, slots=True)
class _Position:
    """What a cursor remembers: a job's place in the listing order."""

    rank: int
    at: str  # ISO time the job is ordered by (its end, else its start), or "" when it has neither
    job_id: str
    tie: int  # ``_tie`` of the job's collection

    def key(self) -> _SortKey:
        return _sort_key(self.rank, epoch_ms(self.at) if self.at else None, self.job_id, self.tie)


def _sort_key(rank: int, at_ms: int | None, job_id: str, tie: int) -> _SortKey:
    """The listing order: by state rank; the most recent first, by end, else start (neither: last); then by id,
    then by ``_tie`` (jobs of two collections may come with one id: ``_distinct``).

    By end, so that a long job that failed last night comes before one that started later but failed earlier.
    """
    return (rank, -at_ms if at_ms is not None else 1, _id_key(job_id), tie)


_TIES = 1 << 64  # a tie is a 64-bit digest


def _tie(collection: str | None) -> int:
    """What orders jobs of one id and time: a 64-bit digest of their collection's name, which a cursor carries in a
    few bytes where a name could take a kilobyte (32 bits were too few: "plumless" and "buckeroo" share a CRC-32).
    Two jobs of one collection whose ids were rounded alike and that ended in the same millisecond share a place:
    a page may pass over one of them, and then says that the jobs before it changed (``seen_tag``)."""
    if not collection:
        return 0
    digest = hashlib.blake2b(collection.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _id_key(job_id: str) -> tuple[int, int, str]:
    if job_id.isascii() and job_id.isdigit() and len(job_id) <= _INT_DIGITS:
        return (0, -int(job_id), job_id)  # the text breaks ties such as "7" and "007"
    return (1, 0, job_id)


def _position(job: JobRecord) -> _Position:
    rank = _FIXED_RANK if job.fixed_since else _STATE_RANK.get(job.state, _OTHER_RANK)
    return _Position(rank, job.ended_at or job.started_at or "", job.job_id, _tie(job.collection_name))


# What ordering, paging and the summary read of one record: both shapes have the same field names.
_Row = WireRecord | RecordFields


def _row_key(row: _Row) -> _SortKey:
    return _sort_key(_STATE_RANK.get(row.state, _OTHER_RANK), _when(row) or None, str(row.job_id), _tie(row.collection))


def _time_and_id(row: _Row) -> tuple[int, tuple[int, int, str], int]:
    return _row_key(row)[1:]


def _readable(raw_records: Sequence[Any]) -> tuple[list[_Row], list[str]]:
    """The records that can be read, and what is wrong with each of the others.

    One odd record (a newer server's field type, a gateway's rewrite) must not hide every other job.
    """
    rows: list[_Row] = []
    problems: list[str] = []
    for raw in raw_records:
        try:
            rows.append(raw if isinstance(raw, WireRecord) else read_record(raw))
        except RecordError as err:
            problems.append(str(err))
    return rows, problems


def _distinct(rows: Sequence[_Row]) -> tuple[Sequence[_Row], dict[str, list[str]]]:
    """The rows with each job once: of copies that differ, the one furthest along; and the job ids that more than
    one job shares, with the collection of each.

    An answer that repeats a record (a gateway merging a retried page) would count the job twice, and a cursor,
    which names a job by its place and id, could not tell the copies apart: the next page would skip the second.
    A job only moves forward (pending, running, ended; progress and times only grow), so the copy furthest along
    is the newest: kept first by place, a stale "running" copy would hide that the job has ended.

    A copy names the same collection. Records of two collections with one id are two jobs whose ids were rounded on
    their way (past 2^53, as a JavaScript number is; the API reference's own example shows two such jobs): merged,
    one of them, a running job perhaps, would vanish from every count. So are two records of one collection with a
    rounded id that started at different times (a job's start, once set, never changes): one collection's
    refreshes follow each other, and their ids round alike; a record of it not yet started is a copy of one of
    them (a new refresh, queued, cannot be told from a stale copy: it shows once it starts).
    """
    if len({row.job_id for row in rows}) == len(rows):
        return rows, {}
    newest: dict[tuple[int | str, str, int], _Row] = {}
    for row in rows:
        job = (row.job_id, row.collection or "", row.start_ms if _rounded(row.job_id) else 0)
        kept = newest.get(job)
        if kept is None or _headway(row) > _headway(kept):  # of equals, the first copy stays
            newest[job] = row
    started = {(job_id, collection) for job_id, collection, start in newest if start}
    for job_id, collection, start in list(newest):
        if not start and (job_id, collection) in started:  # not started: a copy from before one of them started
            del newest[job_id, collection, start]
    collections: dict[str, list[str]] = {}
    for job_id, collection, _ in newest:
        collections.setdefault(str(job_id), []).append(collection)
    return list(newest.values()), {job_id: names for job_id, names in collections.items() if len(names) > 1}


def _rounded(job_id: int | str) -> bool:
    """Whether records with this id may be of jobs whose ids were rounded alike: a double's value past 2^53, as
    JavaScript prints it (449503829274509300) or whole (449503829274509312). One real id in 64 is such a value, and
    a stale copy of its job is then seldom taken for another job: a copy starts when its job did."""
    number = job_id if isinstance(job_id, int) else int(job_id) if job_id.isascii() and job_id.isdigit() else 0
    return EXACT_IN_A_DOUBLE < number <= INT64_MAX and (number == int(float(number)) or looks_rounded(number))


def _for(collection: str, row: _Row) -> _Row:
    """A record of an answer for one collection, that names it: upstream filtered by it, if it left the name out."""
    if row.collection:
        return row
    if isinstance(row, WireRecord):
        return msgspec.structs.replace(row, collection=collection)
    return dataclasses.replace(row, collection=collection)


_STAGE = {PENDING: 0, IN_PROGRESS: 1, COMPLETED: 2, FAILED: 2}


def _active_since(row: _Row, at_ms: int) -> bool:
    """Whether a job was under way at or after ``at_ms``: it has not ended (running, pending: whatever end time a
    record of it says), or it ended then or later (by the later of its times: an end before its start is a clock's
    slip), or, ended with no end time given, it started then or later; one that gives neither time is kept, as it
    may be recent."""
    if row.state in (IN_PROGRESS, PENDING):
        return True
    if row.end_ms:
        return max(row.end_ms, row.start_ms) >= at_ms
    if row.state in (COMPLETED, FAILED):
        return not row.start_ms or row.start_ms >= at_ms
    return True  # a state this server does not know, with no end: as running


def _of(collection: str, row: _Row) -> bool:
    """Whether a record of an answer for one collection is of it: one that names none is (the name implied)."""
    return not row.collection or row.collection == collection


def _headway(row: _Row) -> tuple[int, int, int, int]:
    """How far along a copy of a job record is; a state this server does not know counts as running."""
    return (_STAGE.get(row.state, 1), row.end_ms, row.progress, row.start_ms)


def _name(row: _Row) -> str:
    """How the summary names a job: by its collection, else (upstream named none) as "job <id>"."""
    return row.collection or f"job {row.job_id}"


class _StateGroups:
    """Matching rows split by rank: failed (not fixed since), in progress, pending, fixed since, every other state.

    A group is put in listing order (``_row_key``) only when its order is read: the summary reads the failed
    and running groups, a page the groups it reaches. The first page of 10,000 mostly completed jobs sorts a
    few hundred rows, not 10,000.
    """

    def __init__(self, rows: Iterable[_Row], *, integer_ids: bool) -> None:
        self._groups: list[list[_Row]] = [[] for _ in range(_OTHER_RANK + 1)]
        rest = self._groups[_OTHER_RANK]
        for row in rows:
            # Most jobs of a long history are completed: compared, not looked up (a state decoded from the
            # answer has its hash still to compute), a 10,000-job list is split ~0.5 ms faster.
            if row.state == COMPLETED:
                rest.append(row)
            else:
                self._groups[_STATE_RANK.get(row.state, _OTHER_RANK)].append(row)
        self._sorted = [False] * len(self._groups)
        self._integer_ids = integer_ids
        self.total = sum(map(len, self._groups))

    def set_aside_fixed(self, fixed: set[int]) -> None:
        """Move the failed rows whose ``id()`` is in ``fixed`` to their own group, after the pending rows."""
        failed = self._groups[_STATE_RANK[FAILED]]
        self._groups[_FIXED_RANK] = [row for row in failed if id(row) in fixed]
        failed[:] = [row for row in failed if id(row) not in fixed]

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
                # Within a group only time and id tell rows apart (a fixed failure's state says rank 0, not 1).
                before += (skip := bisect_right(ordered, after[1:], key=_time_and_id))
                page += ordered[skip : skip + limit]
            elif group and len(page) < limit:
                page += self.ordered(rank)[: limit - len(page)]
        return page, before

    def through(self, at: _SortKey) -> Iterator[_Row]:
        """The rows at or before the position ``at`` in listing order, in no particular order."""
        for group in self._groups[: at[0]]:
            yield from group
        ordered = self.ordered(at[0])
        yield from ordered[: bisect_right(ordered, at[1:], key=_time_and_id)]


def query_tag(db_name: str, collection_name: str | None, states: Sequence[str] | None, since: str | None = None) -> str:
    """What a cursor carries of the question it continues: a page of another question would be wrong silently.
    ``since`` as asked ("24h"): the time it named for the first page goes in the cursor itself."""
    asked = [db_name, collection_name or "", sorted(states or ())] + (
        [" ".join(since.lower().split())] if since else []
    )
    question = json.dumps(asked, separators=(",", ":"))
    return hashlib.blake2b(question.encode(), digest_size=6).hexdigest()


# Cursors of earlier builds (1 to 7) ordered the jobs otherwise, carried less, told a change by the counts per
# state, or carried no check of their own: refused, saying so, not misread.
_CURSOR_VERSION = 8
_CHECK_BYTES = 6


def _check(fields: list[Any]) -> str:
    """A digest of a cursor's fields: a cursor copied with a character changed, or edited by hand, is told from one
    this server handed out (it would otherwise continue from the place the edit names, as if jobs had moved).

    Not keyed: a key made of the credentials would let anyone holding a cursor test guesses of the password
    offline, and a key of the process would refuse every cursor once the host restarts the server. A forger who
    reads this code gains nothing by it: a cursor only says which page of the same answer comes next."""
    payload = json.dumps(fields, separators=(",", ":")).encode()
    return hashlib.blake2b(payload, digest_size=_CHECK_BYTES, person=b"zrm cursor").hexdigest()


class Continuation(NamedTuple):
    """What a cursor says: the position it continues after, ``seen_tag`` of the jobs up to it when it was handed
    out, and the time its ``since`` named when the first page was read (a span such as "24h" names a later time on
    each page)."""

    after: _SortKey
    seen: str
    since_ms: int | None = None


class Since(NamedTuple):
    """The ``since`` argument as asked, and the time it names now (ms since the epoch)."""

    asked: str
    at_ms: int


def tally(rows: Iterable[_Row], count: int = 0, total: int = 0) -> tuple[int, int]:
    """How many ``rows``, and a sum over them of a CRC-32 of each one's job id and collection: which jobs they are, in
    any order (``count`` and ``total``, of rows tallied before).

    Not the start: a pending job that starts would read as another job. So two jobs of one collection whose ids were
    rounded alike read as one: one that takes the other's place up to the cursor goes unseen."""
    crc: dict[str, int] = {}
    for row in rows:
        count += 1
        name = row.collection or ""
        if (collection := crc.get(name)) is None:
            collection = crc[name] = zlib.crc32(name.encode("utf-8", "surrogatepass"))
        total += zlib.crc32(str(row.job_id).encode("utf-8", "surrogatepass"), collection)  # 7 and "7" alike
    return count, total


def seen_tag(count: int, total: int) -> str:
    """A digest of a ``tally`` of the jobs up to a cursor. Read again for the next page, the same jobs up to the same
    place say that the rest are the jobs not yet shown; other jobs there (one ended and moved past the cursor, a new
    failure came before it, one left the history), that a job may be missed or shown twice."""
    return hashlib.blake2b(f"{count},{total}".encode(), digest_size=4).hexdigest()


def encode_cursor(job: JobRecord, query: str, seen: str, since_ms: int | None = None) -> str:
    """The cursor that continues after ``job``, its check (``_check``) last."""
    pos = _position(job)
    fields: list[Any] = [_CURSOR_VERSION, pos.rank, pos.at, pos.job_id, query, pos.tie, seen]
    if since_ms is not None:  # only then: a cursor of a question without it is as it was
        fields.append(since_ms)
    fields.append(_check(fields))
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


_NOT_HANDED_OUT = (
    "cursor is not one this server handed out; pass the page.nextCursor value of the previous answer unchanged, or "
    "omit cursor to start from the first page"
)


def decode_cursor(cursor: str, query: str, *, now_ms: int) -> Continuation:
    """Where ``cursor`` continues; CursorError unless this server handed it out (its check holds) for ``query`` (by
    ``now_ms``: no page's window began at a time to come)."""
    older = False
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
        version, rank, at, job_id, tag, *carried = fields
        older = type(version) is int and 0 < version < _CURSOR_VERSION
        tie, seen, *window, check = carried
        if older or not (
            version == _CURSOR_VERSION
            and check == _check(fields[:-1])
            and type(rank) is int
            and 0 <= rank <= _OTHER_RANK
            and isinstance(at, str)
            and isinstance(job_id, str)
            and job_id
            and isinstance(tag, str)
            and type(tie) is int
            and 0 <= tie < _TIES
            and isinstance(seen, str)
            and (window == [] or (len(window) == 1 and type(window[0]) is int and 0 <= window[0] <= MAX_EPOCH_MS))
            and not (window and window[0] > now_ms + CLOCK_SKEW_MS)
        ):
            raise TypeError
        continuation = Continuation(_Position(rank, at, job_id, tie).key(), seen, *window)
    except (ValueError, TypeError, RecursionError):  # binascii.Error is a ValueError
        if older:  # handed out before an upgrade, for an order (or a check of changes) that has changed since
            raise CursorError(
                "cursor is from an earlier version of this server, which ordered the jobs or told changes "
                "differently; omit cursor to start again from the first page"
            ) from None
        raise CursorError(_NOT_HANDED_OUT) from None
    if tag != query:
        raise CursorError(
            "cursor continues a different question (another dbName, collectionName, state or since); ask again with "
            "the arguments of the answer that gave it, or omit cursor to start from the first page"
        )
    return continuation


# --- summary -----------------------------------------------------------------------------------


def _unknown_notes(states: Sequence[str] | None, counts: Mapping[str, int]) -> str:
    """A note for each asked-for state that this server does not know and that no job is in."""
    notes = []
    for state in states or ():
        if state not in KNOWN_STATES and not counts.get(state):
            meant = alias_of(state)
            guess = f"did you mean {meant}?" if meant is not None else "a typo?"
            notes.append(f" ({state}: not a state this server knows; a newer cluster's, or {guess})")
    return "".join(notes)


_TIMES = {1: "", 2: " twice"}


def _names(rows: Sequence[_Row]) -> str:
    """The first few names of ``rows``' jobs, each once with how many jobs it stands for; "and N more in M other
    collections" counts the other jobs and their collections (a bare "and 50 more" after names would read as 50
    more collections), and those with no collection apart."""
    counts = Counter(map(_name, rows))  # in order of first appearance
    # One name more costs no more words than the count of the others: it is shown.
    keep = len(counts) if len(counts) <= _NAMES_PER_GROUP + 1 else _NAMES_PER_GROUP
    shown = [
        shown_name(name) + _TIMES.get(count, f" {count} times")
        for name, count in itertools.islice(counts.items(), keep)
    ]
    if keep == len(counts):
        return " and ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else shown[0]
    others = list(itertools.islice(counts, keep, None))
    named = {row.collection for row in rows if row.collection}
    collections = sum(name in named for name in others)
    where = [f"in {plural(collections, 'other collection')}"] if collections else []
    where += ["with no collection"] if collections < len(others) else []
    return f"{', '.join(shown)} and {sum(counts[name] for name in others)} more {' or '.join(where)}"


def _most_common(counted: list[tuple[str, int]], keep: int) -> list[tuple[str, int]]:
    """The ``keep`` entries with the highest counts (of equals, the first by name)."""
    return sorted(counted, key=lambda item: (-item[1], item[0]))[:keep]


def _last_completed(completed: list[_Row]) -> _Row | None:
    """The one that happened last, dated by its end, else its start, as listings order jobs and fixes are judged (of
    equals, the first in listing order); None when none says when."""
    whens = list(map(attrgetter("end_ms"), completed))
    if 0 in whens:  # one with no end reported: its start (a test at C speed; upstream reports ends as a rule)
        whens = list(map(_when, completed))
    latest = max(whens, default=0)
    if not latest:
        return None
    if whens.count(latest) == 1:
        return completed[whens.index(latest)]
    return min((job for job, when in zip(completed, whens, strict=True) if when == latest), key=_row_key)


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
    since: str | None = None,
    unreadable: Sequence[str] = (),
    shared_ids: Mapping[str, list[str]] | None = None,
    as_of: str | None = None,
) -> Summary:
    """Exact counts and a short text over every matching job; ``fixed`` holds the ``id()`` of each failed row
    that a later refresh of its collection completed after; ``unreadable``, what is wrong with each record
    that could not be read; ``shared_ids``, the ids that jobs of several collections share, with those; ``as_of``,
    this server's time of the answer (ISO)."""
    notes = _unreadable_note(unreadable) + _shared_ids_note(shared_ids or {})
    current, running = groups.ordered(_STATE_RANK[FAILED]), groups.ordered(_STATE_RANK[IN_PROGRESS])  # named in order
    failed = current + groups.ordered(_FIXED_RANK)
    pending, rest = groups.rows(_STATE_RANK[PENDING]), groups.rows(_OTHER_RANK)
    total = groups.total
    counts = Counter({FAILED: len(failed), IN_PROGRESS: len(running), PENDING: len(pending)})
    rest_states = list(map(attrgetter("state"), rest))
    counts[COMPLETED] = rest_states.count(COMPLETED)  # C-level; a Counter of 10,000 states takes ~1 ms
    if counts[COMPLETED] != len(rest):
        counts.update(state for state in rest_states if state != COMPLETED)
    by_state, other_parts = _by_state(counts, states)

    scope = f"for {collection_name} in {db_name}" if collection_name else f"in {db_name}"
    scope += f" active since {since}" if since else ""
    noun = "matching refresh job" if states else "refresh job"
    if not total:
        filtered = f" in state {', '.join(states)}" if states else ""
        return Summary(
            total=0,
            by_state=by_state,
            text=one_line(f"No refresh jobs{filtered} {scope}.{_unknown_notes(states, counts)}{notes}"),
            failures=[],
            last_completed=None,
            unreadable=len(unreadable),
        )

    parts: list[str] = []
    if failed and fixed:
        unfixed = f"{len(current)} not fixed since: {_names(current)}; " if current else ""
        parts.append(f"{len(failed)} failed ({unfixed}{len(fixed)} fixed by a later refresh)")
    elif failed:
        parts.append(f"{len(failed)} failed ({_names(failed)})")
    if running:
        progress = (f"{shown_name(_name(j))}, {j.progress}%" for j in running)
        shown = "; ".join(list(progress)[:_NAMES_PER_GROUP])
        more = f"; and {len(running) - _NAMES_PER_GROUP} more" if len(running) > _NAMES_PER_GROUP else ""
        parts.append(f"{len(running)} in progress ({shown}{more})")
    if counts[PENDING]:
        parts.append(f"{counts[PENDING]} pending")
    if counts[COMPLETED]:
        parts.append(f"{counts[COMPLETED]} completed")
    parts.extend(other_parts)
    text = f"{plural(total, noun)} {scope}: {', '.join(parts)}."

    last = _last_completed(rest if counts[COMPLETED] == len(rest) else [j for j in rest if j.state == COMPLETED])
    last_ended = iso_utc(last.end_ms) if last is not None and last.end_ms else None
    if last is not None:
        if last_ended is None:  # dated by its start, as listings order it
            at = iso_utc(last.start_ms)
            when, asides = f", started {at}", ["its end not reported"]
        else:
            at, when = last_ended, f" at {last_ended}"
            took = last.end_ms - last.start_ms
            asides = [f"took {duration_text(took / 1000)}"] if 0 < last.start_ms <= last.end_ms else []
        if ahead := clock_ahead(at, as_of):
            asides.append(ahead)
        said = f" ({'; '.join(asides)})" if asides else ""
        text += f" Last completed: {shown_name(_name(last))}{when}{said}."
    text += _unknown_notes(states, counts)  # beside other states' jobs, a state that matched none is no less odd
    return Summary(
        total=total,
        by_state=by_state,
        text=one_line(text + notes),  # names and states are upstream's words: their control characters shown
        failures=_failure_groups(failed, fixed),
        last_completed=(
            Completion(job_id=str(last.job_id), collection_name=last.collection or None, ended_at=last_ended)
            if last is not None
            else None
        ),
        unreadable=len(unreadable),
    )


def _by_state(counts: Mapping[str, int], states: Sequence[str] | None) -> tuple[dict[str, int], list[str]]:
    """``byState``, and how the summary's text names the states this server does not know."""
    # Under a filter, a state not asked for is not counted: a 0 there would read as a fact about the database.
    by_state = {state: counts.get(state, 0) for state in KNOWN_STATES if not states or state in states}
    other_states = [(state, n) for state, n in counts.items() if n and state not in by_state]
    # States asked for by name are named (a filter holds a few); else the most common, and a sum of two or more.
    shown = len(other_states) if states or len(other_states) <= _OTHER_STATES_SHOWN + 1 else _OTHER_STATES_SHOWN
    named = dict(sorted(_most_common(other_states, shown)))
    by_state.update(named)
    parts = [f"{n} {shown_name(state)}" for state, n in named.items()]
    folded = [(state, n) for state, n in other_states if state not in named]
    if folded:  # a cluster that sends many states this server does not know: summed, not each named
        folded_jobs = sum(n for _, n in folded)
        key = f"({len(folded)} other states)"  # in parentheses, as no state this server knows is
        while key in by_state:  # a state upstream named so: the sum must not take its place
            key = f"({key})"
        by_state[key] = folded_jobs
        parts.append(f"{plural(folded_jobs, 'job')} in {len(folded)} other states")
    return by_state, parts


def _first_names(names: Iterable[str], history: set[str]) -> list[str]:
    """The first ``_NAMES_PER_FAILURE`` names, fewer when long: a group names at most ``_NAME_BYTES_PER_FAILURE``
    bytes of them as JSON writes them (one name at least), so that five groups of long names cannot fill the answer
    (a name of control characters takes six bytes a character); a name in ``history`` counts twice, as
    ``refreshedSince`` names it again."""
    first: list[str] = []
    size = 0
    for name in itertools.islice(names, _NAMES_PER_FAILURE):
        size += (wire_bytes(shown_name(name)) - 1) * (2 if name in history else 1)  # its quotes aside
        if first and size > _NAME_BYTES_PER_FAILURE:
            break
        first.append(name)
    return first


def _failure_groups(failed: list[_Row], fixed: set[int]) -> list[FailureGroup]:
    """Failed jobs grouped by reason: current problems first, then the most common; the rarest summed as one.

    Reasons that differ only in what names one instance of the problem (``reasons.alike``) are one group, shown by
    its first reason, which says how many different reasons it holds."""
    groups = alike([(stripped(job.reason) or "", job.collection) for job in failed])
    by_reason = [
        (
            "(no reason given)",  # of a group with a reason: cut as lists cut it, below, once it is among those shown
            [failed[at] for at in group.members],
            group.distinct,
            group.first,
        )
        for group in groups
    ]

    def not_fixed(members: list[_Row]) -> int:
        return sum(id(job) not in fixed for job in members)

    # Current problems first: a reason that a later refresh fixed everywhere is history, however common.
    ranked = sorted(by_reason, key=lambda item: (-not_fixed(item[1]), -len(item[1])))
    if len(ranked) > _FAILURE_GROUPS:
        rarer = ranked[_FAILURE_GROUPS - 1 :]
        others = sorted(
            (job for _, members, _, _ in rarer for job in members), key=lambda job: (id(job) in fixed, _row_key(job))
        )
        distinct = sum(count for _, _, count, _ in rarer)
        # Thirty denied reads, each naming its own file, are one kind of reason: "(31 other reasons)" alone would
        # overstate how many problems there are.
        kinds = f", of {len(rarer)} kinds" if len(rarer) < distinct else ""
        ranked = [*ranked[: _FAILURE_GROUPS - 1], (f"({distinct} other reasons{kinds})", others, distinct, "")]
    failures = []
    for reason, members, distinct, whole in ranked:
        every_name = dict.fromkeys(map(_name, members))
        history = {_name(job) for job in members if id(job) in fixed} - {
            _name(job) for job in members if id(job) not in fixed
        }
        names = _first_names(every_name, history)
        group = FailureGroup(
            reason=listed_reason(whole) if whole else reason,
            count=len(members),
            distinct_reasons=distinct,
            not_fixed=not_fixed(members),
            collections=list(map(shown_name, names)),
            collection_count=len(every_name),
            refreshed_since=[shown_name(name) for name in names if name in history],
        )
        group._whole_reason = whole
        group._without_collection = frozenset(shown_name(_name(job)) for job in members if not job.collection)
        failures.append(group)
    if len(by_reason) > _FAILURE_GROUPS:
        failures[-1]._sums_others = True
    return failures


def _unreadable_note(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f" {plural(len(problems), 'job record')} from the cluster could not be read and "
        f"{'is' if len(problems) == 1 else 'are'} not counted: {one_line(problems[0])[:200]}{more}."
    )


def _named(collections: Iterable[str]) -> Iterable[str]:
    return (name or NO_COLLECTION for name in collections)


def _shared_ids_note(shared_ids: Mapping[str, list[str]]) -> str:
    if not shared_ids:
        return ""
    job_id, collections = next(iter(shared_ids.items()))
    which = f"job id {job_id}" if len(shared_ids) == 1 else f"{len(shared_ids)} job ids, such as {job_id}"
    rounded = job_id.isascii() and job_id.isdigit() and int(job_id) > EXACT_IN_A_DOUBLE  # a smaller id is exact
    why = (
        "ids rounded on their way from the cluster (beyond 2^53, as a JavaScript number is)"
        if rounded
        else "the cluster gave them one id"
    )
    names = list(dict.fromkeys(_named(collections)))  # a collection's refreshes may share an id too
    listed = f"{', '.join(map(shown_name, names[:3]))}{', ...' if len(names) > 3 else ''}"
    whose = f"different collections share {which} ({listed})" if len(names) > 1 else f"{listed} share {which}"
    return f" Jobs of {whose}: {why}; each is counted and listed, but name such a job by its collection and times too."


def listing_text(listing: JobListing) -> str:
    """The answer's text content; made once per listing (a listing is not changed once built)."""
    if listing._text is None:
        lines = [f"{listing.summary.text} As of {listing.as_of}.", *failure_lines(listing)]
        lines.extend(job_line(job, listing.as_of) for job in listing.jobs)
        if listing.page.hint:
            lines.append(listing.page.hint)
        listing._text = "\n".join(lines)
    return listing._text


def collection_names(raw_records: Sequence[WireRecord] | Sequence[Any]) -> list[str]:
    """The collections the records name, sorted; records that name none (or are unreadable) are skipped."""
    names = (
        row.collection if isinstance(row, WireRecord) else row.get("collectionName")
        for row in raw_records
        if isinstance(row, WireRecord | dict)
    )
    return sorted({name for name in names if isinstance(name, str) and name})


def build_listing(
    raw_records: Sequence[WireRecord] | Sequence[Any],
    *,
    db_name: str,
    collection_name: str | None,
    states: Sequence[str] | None,
    limit: int,
    cursor: str | None,
    now_ms: int,
    since: Since | None = None,
    as_seen: Callable[[JobRecord], JobRecord] | None = None,
) -> JobListing:
    """Check, filter, order, summarize and page one upstream answer; normalize the page's records. ``as_seen``: a
    page's record as earlier reads of the same job show it (one that may have stalled, the pace it was seen at)."""
    wanted = state_filter(states) if states else None
    asked_since = since.asked if since else None
    query = functools.partial(query_tag, db_name, collection_name, wanted, asked_since)  # a hash: made for a cursor
    continuation = decode_cursor(cursor, query(), now_ms=now_ms) if cursor else None
    since_ms = None
    if since is not None:  # as of the first page: "24h" asked again for the next page names a time a little later
        carried = continuation.since_ms if continuation else None
        since_ms = carried if carried is not None else since.at_ms
    # Every record is checked, shown or not (WireRecords were checked while decoding); only the page is rendered.
    fast = isinstance(raw_records, WireRecords)
    every_row: Sequence[_Row]
    every_row, unreadable = (raw_records, []) if fast else _readable(raw_records)
    if collection_name and any(row.collection != collection_name for row in every_row):
        # Upstream filters by collection: one that ignored the filter must not pass others' jobs off as its own, and
        # a record that names none is of it (so that a later refresh of the collection is seen to fix its failure).
        every_row = [_for(collection_name, row) for row in every_row if _of(collection_name, row)]
    every_row, shared_ids = _distinct(every_row)
    if since_ms is not None:
        # Of copies of a job, the one furthest along decides (a stale "running" copy is no job of the window);
        # before the fixes are found, as a failure's fix comes after it, within the window too. Ids shared in it:
        every_row, shared_ids = _distinct([row for row in every_row if _active_since(row, since_ms)])
    rows = [row for row in every_row if row.state in wanted] if wanted else every_row
    groups = _StateGroups(rows, integer_ids=fast and not shared_ids)  # the fast order ties jobs of one id
    failed = groups.rows(_STATE_RANK[FAILED])
    completions = _latest_completions(failed, every_row)  # every row: a state filter hides the completions
    fixed = {id(row) for row in failed if _fixed_since(row, completions)}
    if fixed:
        groups.set_aside_fixed(fixed)
    shown, start = groups.page(continuation.after if continuation else None, limit)
    page = [
        render_record(
            fields_of(row), now_ms, listed=True, fixed_since=id(row) in fixed if row.state == FAILED else None
        )
        for row in shown
    ]
    if as_seen is not None:
        page = [as_seen(job) for job in page]
    since_iso = iso_utc(since_ms) if since_ms is not None else None
    summary = summarize(
        groups,
        db_name=db_name,
        collection_name=collection_name,
        states=wanted,
        since=since_iso,
        fixed=fixed,
        unreadable=unreadable,
        shared_ids=shared_ids,
        as_of=iso_utc_second(now_ms),
    )
    seen_before = tally(groups.through(continuation.after)) if continuation else (0, 0)
    if continuation is not None and seen_tag(*seen_before) != continuation.seen:
        summary = summary.model_copy(update={"text": summary.text + _MOVED_NOTE})

    def answer(jobs: list[JobRecord], *, cut_from: int | None = None) -> JobListing:
        remaining = groups.total - start - len(jobs)
        seen = seen_tag(*tally(shown[: len(jobs)], *seen_before))  # ``jobs`` are the first of the rows ``shown``
        next_cursor = encode_cursor(jobs[-1], query(), seen, since_ms) if remaining and jobs else None
        return JobListing(
            db_name=db_name,
            collection_name=collection_name,
            states=wanted,
            since=since_iso,
            as_of=iso_utc_second(now_ms),
            summary=summary,
            jobs=jobs,
            page=Page(
                returned=len(jobs),
                remaining=remaining,
                next_cursor=next_cursor,
                hint=_more_hint(
                    len(jobs),
                    groups.total,
                    remaining,
                    next_cursor,
                    narrow=[
                        way
                        for way, asked in (
                            ("state=[...]", wanted),
                            ("collectionName", collection_name),
                            ("since", since),
                        )
                        if not asked
                    ],
                    cut_from=cut_from,
                    budget=answer_budget(limit),
                )
                if next_cursor
                else None,
            ),
        )

    return _within_budget(answer(page), answer, budget=answer_budget(limit))


_MOVED_NOTE = (
    " The jobs before this page changed since the page before (one changed state, or came, or left): a job may have "
    "moved past the cursor (missed, or shown twice); omit cursor to start again."
)


# What an answer may weigh on the wire: a page of the default size (10 jobs) stays well under 24 kB, however long
# its failure reasons and sources; a larger page, asked for, stays under where hosts start to spill answers to a
# file or refuse them (about 25,000 tokens).
ANSWER_BUDGET_BYTES = 20_000
LARGE_PAGE_BUDGET_BYTES = 60_000
SMALL_PAGE_JOBS = 10  # pages of at most this many jobs get ANSWER_BUDGET_BYTES


def answer_budget(limit: int) -> int:
    return ANSWER_BUDGET_BYTES if limit <= SMALL_PAGE_JOBS else LARGE_PAGE_BUDGET_BYTES


def _more_hint(
    returned: int, total: int, remaining: int, cursor: str, *, narrow: list[str], cut_from: int | None, budget: int
) -> str:
    """How to get the rest, fetch-style, and the arguments not given that would narrow it; for a page cut to fit
    the budget, also why it holds fewer jobs."""
    why = (
        f"; this page holds {returned}, not {cut_from}, to keep the answer under {budget // 1000} kB: "
        "get_refresh_job shows any job's record at length"
        if cut_from is not None
        else ""
    )
    return (
        f"Showing {returned} of the {total} matching jobs ({remaining} more{why}). To see more, call "
        f'list_refresh_jobs again with the same arguments and cursor="{cursor}"'
        + (f", or narrow with {' or '.join(narrow)}." if narrow else ".")
    )


def answer_bytes(listing: JobListing) -> int:
    """About how many bytes the tools/call result of ``listing`` takes: its structured content, its text content
    (a JSON string), and one resource link per job (``_LINK_BYTES``, plus what varies in it)."""
    structured = len(listing.model_dump_json(by_alias=True).encode())
    text = len(json.dumps(listing_text(listing), ensure_ascii=False).encode())
    return structured + text + sum(map(_link_bytes, listing.jobs))


# A resource link as server.py writes it, without its id (twice), state and collection: {"type":"resource_link",
# "uri":"zilliz://refresh-jobs/","name":"refresh job ","description":" ","mimeType":"application/json"}, and a comma:
# 126 bytes, rounded up to 140 as a margin.
_LINK_BYTES = 140


def _link_bytes(job: JobRecord) -> int:
    return _LINK_BYTES + 2 * len(job.job_id) + wire_bytes(link_description(job)) - 1


def _job_bytes(job: JobRecord, now: str) -> int:
    """What one job adds to ``answer_bytes``: its record, its text line (as of ``now``), its link."""
    line = json.dumps(job_line(job, now), ensure_ascii=False)  # a line of the text, quotes standing for its newline
    return len(job.model_dump_json(by_alias=True).encode()) + 1 + len(line.encode()) + _link_bytes(job)


def _within_budget(listing: JobListing, answer: Callable[..., JobListing], *, budget: int) -> JobListing:
    """``listing``, or, when it weighs more than ``budget``, the same answer with fewer jobs (one at least) from the
    end of its page: the next page starts where this one now ends, so no job is skipped. One job left that is still
    too much has its reason, source and spec cut shorter."""
    size = answer_bytes(listing)
    if size <= budget:
        return listing
    jobs = listing.jobs
    if len(jobs) < 2:
        return _one_job_within(listing, answer, budget=budget, cut_from=None)
    keep = len(jobs)
    while keep > 1 and size > budget:
        keep -= 1
        size -= _job_bytes(jobs[keep], listing.as_of)
    cut = answer(jobs[:keep], cut_from=len(jobs))
    while len(cut.jobs) > 1 and answer_bytes(cut) > budget:  # the hint grew, and the cursor moved
        cut = answer(cut.jobs[:-1], cut_from=len(jobs))
    return _one_job_within(cut, answer, budget=budget, cut_from=len(jobs)) if len(cut.jobs) == 1 else cut


# A page holds one job at least. Beside a summary swollen by upstream's words (names that break the Milvus rule,
# states of bidi marks), that job's reason, source and spec are cut by half until the answer fits, down to this many
# characters each: the job's resource has them at length.
_LEAST_CHARS = 60


def _one_job_within(
    listing: JobListing, answer: Callable[..., JobListing], *, budget: int, cut_from: int | None
) -> JobListing:
    if not listing.jobs or answer_bytes(listing) <= budget:
        return listing
    job, chars = listing.jobs[0], SOURCE_CHARS // 2
    while chars >= _LEAST_CHARS:
        listing = answer([job.cut_to(chars)], cut_from=cut_from)
        if answer_bytes(listing) <= budget:
            break
        chars //= 2
    return listing


def job_answer(job: JobRecord, now: str) -> tuple[JobRecord, str]:
    """get_refresh_job's record and text, within ``LARGE_PAGE_BUDGET_BYTES`` on the wire.

    The reason is in the answer twice (structured and text), and a source or spec may be as long: a record at its
    bounds would weigh over 80 kB, more escaped. Past the budget, they are cut shorter and shorter, by half.
    """
    fitted, chars = job, RECORD_REASON_CHARS
    while True:
        text = record_text(fitted, now)
        size = len(fitted.model_dump_json(by_alias=True).encode()) + wire_bytes(text) + _link_bytes(fitted)
        if size <= LARGE_PAGE_BUDGET_BYTES or chars <= SOURCE_CHARS:
            return fitted, text
        chars //= 2
        fitted = job.cut_to(chars)
