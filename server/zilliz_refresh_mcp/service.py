"""The server's domain service: validated questions to one cluster, normalized answers back. No MCP imports.

``RefreshJobs`` lists, describes, waits on and starts refresh jobs (``watcher.JobWatcher`` polls the jobs
that clients subscribed to through it).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from .arguments import since_ms
from .errors import (
    Code,
    InvalidArgument,
    JobNotFound,
    RecordError,
    TooManyWatched,
    UpstreamAPIError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamUnreachable,
    one_line,
    quoted,
)
from .jobs import (
    JobListing,
    RefreshStarted,
    Since,
    WaitResult,
    build_listing,
    collection_names,
    decode_cursor,
    query_tag,
)
from .names import NAME_PATTERN, check_name, meant_name
from .records import (
    DETAILS_URI_PREFIX,
    EXACT_IN_A_DOUBLE,
    IN_PROGRESS,
    INT64_MAX,
    PLAIN_ID,
    JobRecord,
    Pace,
    details_uri,
    epoch_ms,
    is_job_id,
    is_negative_number,
    iso_utc,
    looks_rounded,
    normalize_record,
    paced,
    with_earlier_progress,
    with_no_progress_since,
    with_observed_pace,
    with_steps_seen,
)
from .states import state_filter
from .upstream import DESCRIBE_ROUTE, ZillizClient

logger = logging.getLogger(__name__)

_WRONG_TYPE_CODES = (Code.INVALID_PARAMETER, Code.JSON_ONLY)
_SEEN_IDS_KEPT = 1000
_COLLECTIONS_SHOWN = 10
# No route lists databases: the model cannot look for one by itself.
NO_DATABASE_LIST = "No route lists databases: ask the user which, if unsure."
_OTHER_DATABASE = f"A collection of another database needs its dbName. {NO_DATABASE_LIST}"
_TWINS_SHOWN = 5
_SUGGESTION_SECONDS = 3.0
MAX_WAIT_SECONDS = 600
# Waits under way at once. Each polls on its own, within the cluster's rate limit that every call shares: over
# HTTP, hundreds of waits that clients started and left (a wait outlives its client) would take it all.
MAX_WAITS = 16
# Their reads under way at once: a hanging cluster holds each for up to the wait's end, and of the client's 16
# connections, with the watcher's 4, some must stay free for the calls a person waits on.
MAX_WAIT_READS_IN_FLIGHT = 8
POLL_GRACE_SECONDS = 2.0  # a read at the deadline may take this long before the wait answers without it
_PAST_ESTIMATE_SECONDS = 1.0  # estimates are in whole seconds: the first poll after one comes this much later
# A first read that answers within this long found the job as it was when the wait began. One that took longer (the
# cluster busy, retried with backoff, or slow) may have found a job that ended meanwhile: said to have ended before
# the wait only when its end time is earlier by more than the cluster's and this server's clocks may differ.
_PROMPT_READ_MS = 1000
_CLOCKS_APART_MS = 5 * 60_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_job_id(job_id: str) -> int | str:
    """A decimal int64 goes upstream as an exact integer; a plain id as given; anything else is refused."""
    if is_job_id(job_id):
        return int(job_id) if job_id.isdigit() else job_id  # the rule admits ASCII digits only
    if is_negative_number(job_id):
        raise InvalidArgument(f"jobId {job_id} is negative: job ids are 0 or more; use jobId from list_refresh_jobs")
    if PLAIN_ID.fullmatch(job_id):  # the digits of a number beyond an int64
        raise InvalidArgument(f"jobId {job_id} is larger than an int64 ({INT64_MAX})")
    raise InvalidArgument(
        f"jobId {quoted(job_id)} is not a job id: use the decimal digits of jobId from list_refresh_jobs "
        "(or a plain id of letters, digits, '-' and '_')"
    )


def _same_job(record_id: str, asked: int | str) -> bool:
    """Whether upstream's id names the job asked for: the same text, or the same number ("007" is job 7)."""
    return record_id == str(asked) or (isinstance(asked, int) and record_id.isdigit() and int(record_id) == asked)


def job_id_of_uri(uri: str) -> str:
    if not uri.startswith(DETAILS_URI_PREFIX):
        raise InvalidArgument(f"{quoted(uri, 100)} is not a refresh-job URI (zilliz://refresh-jobs/<jobId>)")
    wire_id = parse_job_id(uri.removeprefix(DETAILS_URI_PREFIX))
    return str(wire_id)  # one spelling per job: .../007 and .../7 name the same one


# No documented code says "no such job"; the cluster's message does, in words like these.
_NOT_FOUND = re.compile(r"job.*(not (been )?found|n[o']t exist)|(no such|unknown) job", re.IGNORECASE)


T = TypeVar("T")
K = TypeVar("K")


async def _for_advice(read: Awaitable[T], seconds: float = _SUGGESTION_SECONDS) -> T | None:
    """What ``read`` gives, or None when it fails or takes ``seconds``: advice must not hold up an error, nor replace
    it."""
    try:
        with anyio.move_on_after(seconds):
            return await read
    except Exception as extra:  # only advice: the error the caller gets is the one upstream gave
        logger.info("no advice: %s", extra)
    return None


def _newest(table: dict[K, T], key: K, value: T) -> None:
    """``key`` set to ``value`` as the newest entry of an insertion-ordered table that keeps the newest
    ``_SEEN_IDS_KEPT``."""
    table.pop(key, None)
    table[key] = value
    if len(table) > _SEEN_IDS_KEPT:
        del table[next(iter(table))]


def _is_not_found(err: UpstreamError) -> bool:
    return isinstance(err, UpstreamAPIError) and _NOT_FOUND.search(err.upstream_message or "") is not None


# No documented code says "a refresh is already under way"; the upstream message does, in words like these.
_ALREADY_RUNNING = re.compile(r"already (running|in progress|refreshing|exists)", re.IGNORECASE)


_MAY_HAVE_RUN_CODES = (Code.TIMEOUT, Code.UNEXPECTED)
_FOR_GOOD_CODES = (Code.NOT_AUTHENTICATED, Code.PRIVILEGE_DENIED, Code.USER_NOT_AUTHENTICATED)
_MAY_HAVE_STARTED = "The refresh may have started anyway: check with list_refresh_jobs before starting another."
_CHECK_ENDPOINT = " If it lasts, check ZILLIZ_CLUSTER_ENDPOINT: it should be the cluster endpoint, not a console page."


def _may_have_started(err: UpstreamError) -> bool:
    """Whether a refresh that failed this way may have reached the cluster and started all the same."""
    if not err.sent:
        return False
    if isinstance(err, UpstreamUnreachable):  # includes our own timeout: the request may have arrived
        return True
    # A Milvus code says the cluster answered in words, whatever the HTTP status: it refused, unless it timed out
    # after taking the request or failed unexpectedly. A gateway's JSON echoing its status (or 0) is no such word.
    if err.code not in (None, 0, err.status):
        return err.code in _MAY_HAVE_RUN_CODES
    # Taken, then answered in a way we cannot read (200), or not answered in time; a gateway's 5xx, whose
    # cluster may have taken it; or an answer that broke off before its status was read.
    return err.status is None or err.status in (200, 408) or err.status >= 500


def _polling_on(job_id: str, err: UpstreamError | RecordError) -> str:
    """What a wait says of a failed poll beside the last state read, and logs."""
    if isinstance(err, UpstreamError):
        detail = err.detail
    else:
        detail = f"upstream sent a job record this server cannot read: {err}."
    logger.warning("wait for refresh job %s: poll failed, polling on: %s", job_id, detail)
    return f"the last poll failed: {detail}"


def _ended_before(record: JobRecord, began_ms: int, read_ms: int) -> bool:
    """Whether a wait's first read, which found ``record`` ended at ``read_ms``, shows it ended before the wait began
    at ``began_ms`` (both this server's clock): so when that read was prompt, or when the job's end time (the
    cluster's clock) is well before then. A read held up by retries may have found a job that ended meanwhile."""
    if read_ms - began_ms <= _PROMPT_READ_MS:
        return True
    return record.ended_at is not None and epoch_ms(record.ended_at) < began_ms - _CLOCKS_APART_MS


def fails_for_good(err: UpstreamError) -> bool:
    """A key revoked or lacking the privilege, or a route gone: every later read would fail the same way."""
    return err.status in (401, 403, 404) or err.code in _FOR_GOOD_CODES


@dataclass
class RefreshJobs:
    """One cluster, seen through validated questions and normalized answers."""

    client: ZillizClient
    default_db: str
    clock: Callable[[], int] = now_ms
    poll_initial_seconds: float = 2.0
    poll_max_seconds: float = 15.0
    seen_job_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered set, newest last: completions
    # records.Unmoved, kept by _note_progress: lists, reads, waits and the watcher tell a running job that may have
    # stalled (noProgressSince), across calls.
    _unmoved: dict[str, tuple[tuple[str, int], int]] = field(default_factory=dict, init=False)
    _paces: dict[str, Pace] = field(default_factory=dict, init=False)  # what reads saw of running jobs' progress
    _highest: dict[tuple[str, str | None], tuple[int, int, int]] = field(default_factory=dict, init=False)
    _waits: int = field(default=0, init=False)  # under way
    _wait_reads: anyio.Semaphore = field(default_factory=lambda: anyio.Semaphore(MAX_WAIT_READS_IN_FLIGHT), init=False)

    async def list_jobs(
        self,
        *,
        db_name: str | None,
        collection_name: str | None,
        states: list[str] | None,
        limit: int,
        cursor: str | None,
        since: str | None = None,
    ) -> JobListing:
        db = self._database(db_name)
        collection = check_name(collection_name, "collectionName") if collection_name else None
        # Refused before anything goes upstream: a word that names no state, a time to come, a cursor of another
        # question.
        wanted = state_filter(states) if states else None
        window = Since(since, since_ms(since, self.clock())) if since else None
        if cursor:
            decode_cursor(cursor, query_tag(db, collection, wanted, since), now_ms=self.clock())
        try:
            records = await self.client.list_jobs(db, collection)
        except UpstreamError as err:  # code 100 may come with HTTP 200, or with 400 or 500 from a newer cluster
            await self._advise(err, db, collection)
            raise
        asked = self.client.request_sent()
        now = self.clock()
        listing = build_listing(
            records,
            db_name=db,
            collection_name=collection,
            states=wanted,
            limit=limit,
            cursor=cursor,
            now_ms=now,
            since=window,
            as_seen=functools.partial(self._as_seen, now=now, asked=asked),
        )
        self._remember(job.job_id for job in reversed(listing.jobs))  # the page's first job seen last: newest
        self._note_progress(listing.jobs, now)  # not asOf, rounded down: a read a moment later would seem unmoved
        return listing

    async def collections(self, db_name: str | None) -> list[str]:
        """External collections that have refresh jobs in ``db_name``, of those a question can name.

        A name outside the Milvus rule (which the cluster should not hold) is left out: offered in a
        completion or a suggestion, it would then be refused as an argument.
        """
        db = self._database(db_name)
        records = await self.client.list_jobs(db)
        return [name for name in collection_names(records) if NAME_PATTERN.fullmatch(name)]

    async def describe(self, job_id: str, *, deadline: float | None = None) -> JobRecord:
        """One job; JobNotFound when the cluster has none with this id. No retry starts after ``deadline``."""
        record, _ = await self._describe_at(job_id, deadline=deadline)
        return record

    async def _describe_at(self, job_id: str, *, deadline: float | None) -> tuple[JobRecord, int]:
        """One job, and when it was read (clock ms)."""
        wire_id = parse_job_id(job_id)
        try:
            raw = await self.client.describe_job(wire_id, deadline=deadline)
        except UpstreamError as err:
            if _is_not_found(err):
                raise JobNotFound(
                    f"No refresh job {job_id} on this cluster ({err}, code {err.code}){self._rounding_note(wire_id)}"
                ) from None
            if err.code == Code.COLLECTION_NOT_FOUND:
                # A dropped collection takes its jobs with it: for each read, resource, wait and watcher alike.
                raise JobNotFound(
                    f"No refresh job {job_id} on this cluster: the cluster no longer has its collection "
                    f"({err}, code {err.code})"
                ) from None
            if isinstance(wire_id, str) and err.code in _WRONG_TYPE_CODES:
                # A plain id went as a string and the cluster refused its form: no job has that id.
                raise JobNotFound(f"No refresh job {job_id!r} on this cluster, which refused the id: {err}") from None
            raise
        if raw is None:
            raise JobNotFound(f"No refresh job {job_id} on this cluster{self._rounding_note(wire_id)}")
        now, asked = self.clock(), self.client.request_sent()
        record = normalize_record(raw, now_ms=now)
        if not _same_job(record.job_id, wire_id):
            # Shown as asked for, another job's state would be a wrong answer given with confidence.
            raise UpstreamBadResponse(
                f"Upstream answered a describe of refresh job {wire_id} with the record of job {record.job_id}",
                route=DESCRIBE_ROUTE,
                status=200,
                hint="Nothing is shown rather than another job's state; try again, and check the cluster if it lasts.",
            )
        record = self._as_seen(record, now=now, asked=asked)
        self._remember([record.job_id])
        self._note_progress([record], now)
        return record, now

    async def refresh(self, db_name: str | None, collection_name: str) -> RefreshStarted:
        db = self._database(db_name)
        collection = check_name(collection_name, "collectionName")
        try:
            job_id = await self.client.refresh(db, collection)
        except UpstreamError as err:
            if _ALREADY_RUNNING.search(err.upstream_message or ""):
                err.hint = (
                    f"A refresh of {collection} is already under way: find it with list_refresh_jobs "
                    f"(collectionName={collection!r}, state=['running', 'pending']) and follow it with "
                    "wait_for_refresh_job."
                )
            elif _may_have_started(err):
                # An answer not in the API's shape also says what to check (often the endpoint is a login page).
                err.hint = _MAY_HAVE_STARTED + (_CHECK_ENDPOINT if isinstance(err, UpstreamBadResponse) else "")
            elif not err.sent:
                err.hint = f"{err.hint} No refresh started: the request never reached the cluster."
            await self._advise(err, db, collection)
            raise
        self._remember([job_id])
        return RefreshStarted(
            job_id=job_id,
            db_name=db,
            collection_name=collection,
            details_uri=details_uri(job_id),
            message=(
                f"Started refresh job {job_id} for {collection} in {db}. Follow it with wait_for_refresh_job "
                f'(jobId="{job_id}") or read {details_uri(job_id)}.'
            ),
        )

    async def wait(
        self,
        job_id: str,
        *,
        timeout_seconds: float,
        on_update: Callable[[JobRecord], Awaitable[None]],
    ) -> WaitResult:
        """Poll until the job ends or the time runs out, calling ``on_update`` after every read the wait goes on from.

        The read the wait ends on is in the answer, not told: a progress notification sent just before its
        answer may be lost (the TypeScript SDK drops one that arrives together with its response).

        No read runs more than ``POLL_GRACE_SECONDS`` past the deadline (a healthy cluster answers in far
        less). The first read must succeed: there is nothing to report without it. After it, a poll that
        fails does not end the wait (the cluster busy, unreachable, slow, failing, or writing a record this
        server cannot read: any of these may pass), unless the job is gone or no later poll could succeed (a
        revoked key); if the time runs out meanwhile, the answer is the last state read, with what went wrong since.
        TooManyWatched when ``MAX_WAITS`` waits are under way.
        """
        parse_job_id(job_id)  # a malformed id is told as such, whatever else is under way
        if self._waits >= MAX_WAITS:
            raise TooManyWatched(
                f"{MAX_WAITS} waits are under way, the most this server runs at once (each polls the cluster, "
                "whose rate limit every call shares); wait again once one of them has ended, or read the job now "
                "with get_refresh_job"
            )
        self._waits += 1
        try:
            return await self._wait(job_id, timeout_seconds=timeout_seconds, on_update=on_update)
        finally:
            self._waits -= 1

    async def _wait(
        self,
        job_id: str,
        *,
        timeout_seconds: float,
        on_update: Callable[[JobRecord], Awaitable[None]],
    ) -> WaitResult:
        started, began_ms = anyio.current_time(), self.clock()
        deadline = started + min(timeout_seconds, MAX_WAIT_SECONDS)
        interval = self.poll_initial_seconds
        trouble: str | None = None
        # At most one poll comes early, just after the job's estimated end: the estimate is recomputed on each
        # read and stays ahead of a job that overruns it, so chasing it would poll a stalled job every 2 s.
        early = True
        try:
            try:
                record, read_at = await self._read_by(job_id, deadline)
            except TimeoutError:
                raise UpstreamUnreachable(
                    f"Upstream did not answer {DESCRIBE_ROUTE} within the wait ({timeout_seconds:g} s)",
                    route=DESCRIBE_ROUTE,
                    transient=True,
                    hint="The cluster is slow or unreachable; try again later.",
                ) from None
            first, reads, moved = (record.state, record.progress), 1, False
            first_at = last_at = anyio.current_time()  # the first and the last read that worked
            already = record.has_ended and _ended_before(record, began_ms, read_at)
            while True:
                if record.has_ended:  # a record that a failed poll left in place never has: it was read by now
                    waited = round(anyio.current_time() - started, 1)  # the first read may have been retried
                    now = iso_utc(self.clock())
                    return WaitResult.ended(
                        record, waited, already=already, now=now, read_at=iso_utc(read_at), began=iso_utc(began_ms)
                    )
                if trouble is None and anyio.current_time() < deadline:  # the wait goes on from this read
                    await on_update(record)
                remaining = deadline - anyio.current_time()  # after the update: a slow client may take a while
                if remaining <= 0:
                    waited = round(anyio.current_time() - started, 1)
                    return WaitResult.still_running(
                        record,
                        waited,
                        trouble,
                        now=iso_utc(self.clock()),
                        # Between reads that worked: polls that failed since tell nothing of its progress.
                        unmoved_for=last_at - first_at if reads > 1 and not moved else 0.0,
                        read_at=iso_utc(read_at),
                    )
                pause = min(interval, remaining)
                due = self._until_estimate(record) if early else None
                if due is not None and due + _PAST_ESTIMATE_SECONDS < pause:
                    pause, early = due + _PAST_ESTIMATE_SECONDS, False  # read again right after the estimated end
                await anyio.sleep(pause)
                interval = min(interval * 1.5, self.poll_max_seconds)
                try:
                    (record, read_at), trouble = await self._read_by(job_id, deadline), None
                    reads, moved = reads + 1, moved or (record.state, record.progress) != first
                    last_at = anyio.current_time()
                except TimeoutError:
                    trouble = "the last poll got no answer before the wait ran out."
                except JobNotFound as gone:  # it was there: not a wrong id, a job that went
                    where = f"collection {record.collection_name}" if record.collection_name else "no collection"
                    last = one_line(f"{record.state}, {record.progress}%, {where}")
                    raise JobNotFound(
                        f"{gone}. It was there when this wait last read it ({last}): its collection may have been "
                        "dropped, or the job removed"
                    ) from None
                except (UpstreamError, RecordError) as err:
                    if isinstance(err, UpstreamError) and fails_for_good(err):
                        raise  # no later poll can succeed; JobNotFound, the job gone, is not caught either
                    trouble = _polling_on(job_id, err)
        except anyio.get_cancelled_exc_class():
            logger.info("wait for refresh job %s cancelled (by the client, or the server is stopping)", job_id)
            raise

    def _until_estimate(self, record: JobRecord) -> float | None:
        """Seconds until the job's estimated end; None without an estimate, or once it has passed."""
        if record.estimated_end_at is None:
            return None
        due = (epoch_ms(record.estimated_end_at) - self.clock()) / 1000
        return due if due >= 0 else None

    async def _read_by(self, job_id: str, deadline: float) -> tuple[JobRecord, int]:
        """One read of the job, and when (clock ms), retried until ``deadline`` at most; TimeoutError once an attempt
        runs ``POLL_GRACE_SECONDS`` past it."""
        with anyio.fail_after(deadline + POLL_GRACE_SECONDS - anyio.current_time()):
            async with self._wait_reads:
                return await self._describe_at(job_id, deadline=deadline)

    async def _advise(self, err: UpstreamError, db: str, collection: str | None) -> None:
        """On a database or collection the cluster does not have, name the one meant, or those there are.

        One more read, on this error path only; when it fails or takes long, the error stays as upstream gave it.
        """
        if err.code == Code.DATABASE_NOT_FOUND and db != self.default_db and meant_name(db, [self.default_db]):
            # No route lists databases: the one name known is this server's default ("Default" for "default"),
            # suggested once a read shows the cluster has it.
            if await _for_advice(self.client.list_jobs(self.default_db)) is not None:
                err.suggestion = f"Did you mean {self.default_db}, this server's default database?"
        elif err.code == Code.COLLECTION_NOT_FOUND and collection is not None:
            await self._suggest_collection(err, db, collection)

    async def _suggest_collection(self, err: UpstreamError, db: str, collection: str) -> None:
        """Name the collection meant, or those there are (only those with refresh jobs: the list route names them).
        Its reads share ``_SUGGESTION_SECONDS``."""
        deadline = anyio.current_time() + _SUGGESTION_SECONDS
        names = await _for_advice(self.collections(db))
        if names is None:
            return
        meant = meant_name(collection, names)
        if meant is not None:
            err.suggestion = f"Did you mean {meant}?"
        elif (elsewhere := await self._in_default_database(db, collection, deadline)) is not None:
            err.suggestion = (
                f"{elsewhere} has refresh jobs in {self.default_db}, this server's default database: did you mean "
                f"dbName={self.default_db!r}?"
            )
        elif names:
            shown = ", ".join(names[:_COLLECTIONS_SHOWN])
            more = f" and {len(names) - _COLLECTIONS_SHOWN} more" if len(names) > _COLLECTIONS_SHOWN else ""
            err.suggestion = f"External collections with refresh jobs in {db}: {shown}{more}. {_OTHER_DATABASE}"
        else:
            err.suggestion = f"No external collection in {db} has refresh jobs. {_OTHER_DATABASE}"

    async def _in_default_database(self, db: str, collection: str, deadline: float) -> str | None:
        """The collection meant, when asked of another database and the default has it: the one database known here
        (no route lists databases). One more read, on this error path only, until ``deadline``."""
        left = deadline - anyio.current_time()
        if db == self.default_db or left <= 0:
            return None
        names = await _for_advice(self.collections(self.default_db), left)
        return meant_name(collection, names) if names else None

    def _rounding_note(self, wire_id: int | str) -> str:
        """For an id that a JavaScript number made of a longer one, the ids seen here that round to it."""
        if not isinstance(wire_id, int) or wire_id <= EXACT_IN_A_DOUBLE:
            return ""
        twins = [
            seen
            for seen in reversed(self.seen_job_ids)
            if seen.isdigit() and float(seen) == float(wire_id) and int(seen) != wire_id
        ]
        if not twins and not looks_rounded(wire_id):
            return ""
        told = (
            ". It looks rounded: ids past 2^53 lose their last digits when handled as numbers (in JavaScript, "
            "say). Pass jobId as the exact string list_refresh_jobs gives"
        )
        if twins:
            more = f" and {len(twins) - _TWINS_SHOWN} more" if len(twins) > _TWINS_SHOWN else ""
            told += f"; jobs this server has seen whose ids round to it: {', '.join(twins[:_TWINS_SHOWN])}{more}"
        return told

    def _database(self, db_name: str | None) -> str:
        return check_name(db_name or self.default_db, "dbName")

    def _as_seen(self, record: JobRecord, *, now: int, asked: int) -> JobRecord:
        """``record``, read at ``now``, as this server's earlier reads of the job show it: it may have stalled, or its
        estimate is made from the pace they saw (not from a stalled job's: that one assumes its average rate)."""
        record = with_steps_seen(with_earlier_progress(record, self._highest, asked), self._paces)
        record = with_no_progress_since(record, self._unmoved, now)
        return record if record.no_progress_since else with_observed_pace(record, self._paces, now)

    def _note_progress(self, records: Iterable[JobRecord], now: int) -> None:
        for record in records:
            if record.has_ended:
                self._unmoved.pop(record.job_id, None)
                self._paces.pop(record.job_id, None)
                self._highest.pop((record.job_id, record.collection_name), None)
                continue
            reading = (record.state, record.progress)
            seen = self._unmoved.get(record.job_id)
            _newest(self._unmoved, record.job_id, (reading, seen[1] if seen and seen[0] == reading else now))
            if record.state == IN_PROGRESS:
                _newest(self._paces, record.job_id, paced(self._paces.get(record.job_id), record.progress, now))
                key = (record.job_id, record.collection_name)  # records.Highest
                highest = self._highest.get(key)
                if highest is None or record.progress > highest[0]:
                    highest = (record.progress, now, time.perf_counter_ns())
                elif record.progress == highest[0]:  # read there again: the first read there still came first
                    highest = (record.progress, now, highest[2])
                _newest(self._highest, key, highest)
            else:
                self._paces.pop(record.job_id, None)

    def _remember(self, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            _newest(self.seen_job_ids, job_id, None)
